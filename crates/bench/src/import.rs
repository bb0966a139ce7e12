//! Importer throughput: a legacy Node LMS database the size of `seeder run --scale N` (generated here,
//! deterministically: the same N gives the same rows, with the kinds of mess the importer handles), imported
//! into a fresh PostgreSQL database by `importer run` (release), next to the seeder's own bulk load of the
//! same row counts (its volume users, courses, enrollments and chat messages) in the same run. Prints
//! both rates, their ratio (the goal: at least 0.5) and the importer's peak memory.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::seed::{psql, seed, with_database};

#[derive(clap::Args)]
pub struct Args {
    /// Scale: N courses, 100*N users, 200*N enrollments, 1000*N chat messages in the legacy database.
    #[arg(long, default_value_t = 1000)]
    scale: u32,
    /// A PostgreSQL URL whose role may CREATE DATABASE (scripts/bench.sh starts a throwaway server).
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    postgres_url: String,
    /// Keep the three databases (legacy, imported, seeded) and print their URLs, to look into them.
    #[arg(long)]
    keep: bool,
}

/// The legacy schema (the same file the end-to-end tests load).
const SCHEMA: &str = include_str!("../../../tests/fixtures/legacy/schema.sql");

/// The legacy rows of scale `n`, by set-based SQL (no randomness: every value follows from the row
/// number). Mess, at fixed rates: every 100th user repeats the previous one's email in other case
/// (merged), every 97th username has a space (renamed), 1 in 6 users is pending, inactive or
/// banned; courses pending review or at level `all`; 1 in 100 enrollments `on_hold` (skipped);
/// every 5th message a reply (every 25th a reply to a reply), every 10th with reactions, every 20th
/// edited, every 50th deleted.
fn generator(n: u32) -> String {
    let users = 100 * u64::from(n);
    let messages = 1000 * u64::from(n);
    format!(
        r#"
INSERT INTO users (id, email, username, password, "firstName", "lastName", role, status,
                   "isEmailVerified", preferences, "createdAt", "updatedAt")
SELECT g,
       CASE WHEN g % 100 = 0 THEN 'Learner' || (g - 1) || '@Example.test' ELSE 'learner' || g || '@example.test' END,
       CASE WHEN g % 97 = 0 THEN 'Learner ' || g ELSE 'learner_' || g END,
       '$2b$10$SHRgy/ndN/WXGKkj5r8UxO5n2iJAynCISc9vwyZJcsvmljIh6uaPW',
       'First' || g, 'Last' || g,
       (CASE WHEN g <= {n} THEN 'instructor' ELSE 'student' END)::enum_users_role,
       (ARRAY['active', 'active', 'active', 'pending', 'inactive', 'banned'])[1 + g % 6]::enum_users_status,
       g % 5 <> 0, '{{"theme": "light"}}',
       timestamptz '2019-01-01 00:00:00+00' + g * interval '7 minutes',
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, {users}) g;

INSERT INTO courses (id, title, slug, "shortDescription", "instructorId", price, "discountPrice", currency,
                     category, tags, level, language, status, "isPublic", "publishedAt", "createdAt", "updatedAt")
SELECT g, 'Legacy course ' || g, 'legacy-course-' || g, 'Course number ' || g, g,
       ((g % 50) * 100 + 99) / 100.0, CASE WHEN g % 4 = 0 THEN ((g % 50) * 100) / 100.0 END,
       (ARRAY['USD', 'EUR', 'GBP'])[1 + g % 3], 'category-' || (g % 12),
       ARRAY['tag' || (g % 7), 'legacy'],
       (ARRAY['beginner', 'intermediate', 'advanced', 'all'])[1 + g % 4]::enum_courses_level, 'en',
       (ARRAY['published', 'published', 'published', 'draft', 'pending_review', 'archived'])[1 + g % 6]::enum_courses_status,
       g % 9 <> 0, timestamptz '2019-02-01 00:00:00+00' + g * interval '1 hour',
       timestamptz '2019-01-15 00:00:00+00' + g * interval '1 hour',
       timestamptz '2023-01-15 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, {n}) g;

INSERT INTO enrollments ("userId", "courseId", status, "paymentStatus", "paymentMethod", "amountPaid",
                         "transactionId", progress, rating, review, "enrolledAt", "createdAt", "updatedAt")
SELECT u, 1 + ((u + k * ({n} / 2 + 1)) % {n}),
       CASE WHEN (u + k) % 100 = 0 THEN 'on_hold'
            ELSE (ARRAY['active', 'active', 'completed', 'pending', 'cancelled', 'refunded'])[1 + (u + k) % 6] END,
       (ARRAY['completed', 'completed', 'completed', 'pending', 'failed', 'refunded'])[1 + (u + k) % 6]::"enum_enrollments_paymentStatus",
       (ARRAY['free', 'credit_card', 'stripe', 'paypal', 'bank_transfer', 'coupon'])[1 + (u * 3 + k) % 6]::"enum_enrollments_paymentMethod",
       ((u % 40) * 100 + 99) / 100.0,
       CASE WHEN (u * 3 + k) % 6 <> 0 THEN 'txn-' || u || '-' || k END,
       ((u * 13 + k) % 10001) / 100.0,
       CASE WHEN u % 3 = 0 THEN (u % 7) END,
       CASE WHEN u % 3 = 0 THEN 'Review by learner ' || u END,
       timestamptz '2019-03-01 00:00:00+00' + u * interval '7 minutes' + k * interval '1 day',
       timestamptz '2019-03-01 00:00:00+00' + u * interval '7 minutes' + k * interval '1 day',
       timestamptz '2024-03-01 00:00:00+00' + u * interval '1 second'
FROM generate_series(1, {users}) u, generate_series(0, 1) k;

INSERT INTO chat_messages (id, "courseId", "userId", content, "messageType", "replyToId", reactions,
                           "isEdited", "editedAt", "isDeleted", "createdAt", "updatedAt")
SELECT g, 1 + g % {n}, 1 + (g * 31) % {users},
       'Legacy message ' || g || ': a question about lesson ' || (g % 40) || ' and exercise ' || (g % 12) || '.',
       (ARRAY['text', 'text', 'text', 'question', 'answer', 'announcement', 'image', 'text'])[1 + g % 8]::"enum_chat_messages_messageType",
       CASE WHEN g > {n} AND g % 5 = 0 THEN g - {n} END,
       CASE WHEN g % 10 = 0 THEN jsonb_build_object('👍', jsonb_build_array(1 + (g * 7) % {users}, 1 + (g * 11) % {users})) ELSE '{{}}' END,
       g % 20 = 0, CASE WHEN g % 20 = 0 THEN timestamptz '2020-01-01 00:00:00+00' + g * interval '200 milliseconds' + interval '5 minutes' END,
       g % 50 = 0,
       timestamptz '2020-01-01 00:00:00+00' + g * interval '200 milliseconds',
       timestamptz '2020-01-01 00:00:00+00' + g * interval '200 milliseconds'
FROM generate_series(1, {messages}) g;
SELECT setval('chat_messages_id_seq', {messages});
ANALYZE;
"#
    )
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let pid = std::process::id();
    let legacy_name = format!("lms_bench_legacy_{pid}");
    let target_name = format!("lms_bench_import_{pid}");
    let seeded_name = format!("lms_bench_seeded_{pid}");
    for name in [&legacy_name, &target_name, &seeded_name] {
        psql(&args.postgres_url, &format!("CREATE DATABASE {name}"))?;
    }
    let dir = tempfile::tempdir()?;
    let result = measure(
        &args,
        &with_database(&args.postgres_url, &legacy_name),
        &with_database(&args.postgres_url, &target_name),
        &with_database(&args.postgres_url, &seeded_name),
        dir.path(),
    );
    for name in [&legacy_name, &target_name, &seeded_name] {
        if args.keep {
            println!("  kept {}", with_database(&args.postgres_url, name));
        } else {
            let _ = psql(
                &args.postgres_url,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
    result
}

fn measure(
    args: &Args,
    legacy: &str,
    target: &str,
    seeded: &str,
    dir: &Path,
) -> anyhow::Result<()> {
    println!(
        "importer, scale {} (legacy: {} users, {} courses, {} enrollments, {} chat messages), PostgreSQL",
        args.scale,
        100 * args.scale,
        args.scale,
        200 * args.scale,
        1000 * args.scale
    );
    let started = Instant::now();
    psql(legacy, SCHEMA)?;
    psql(legacy, &generator(args.scale))?;
    let legacy_rows: u64 = psql(
        legacy,
        "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM courses) \
         + (SELECT COUNT(*) FROM enrollments) + (SELECT COUNT(*) FROM chat_messages)",
    )?
    .parse()?;
    println!(
        "  legacy database generated: {legacy_rows} rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The seeder's own bulk load of the same row counts, as the reference.
    let (_, rates) = seed(seeded, args.scale, dir)?;
    let mut seeded_rows = 0u64;
    let mut seeded_seconds = 0.0;
    for (name, rows, rate) in &rates {
        if [
            "volume_users",
            "volume_courses",
            "volume_enrollments",
            "volume_chat_messages",
        ]
        .contains(&name.as_str())
            && *rate > 0.0
        {
            println!("  seeder {name:<22} {rows:>9} rows at {rate:>9.0} rows/s");
            seeded_rows += rows;
            seeded_seconds += *rows as f64 / rate;
        }
    }
    anyhow::ensure!(seeded_seconds > 0.0, "the seeder reported no volume rows");
    let seeder_rate = seeded_rows as f64 / seeded_seconds;

    // The importer, release, into an empty database; its peak memory sampled from /proc.
    let started = Instant::now();
    let mut child = Command::new(crate::sibling_binary("importer")?)
        .args(["run", "--no-backup", "--json", "--from", legacy])
        .current_dir(dir)
        .env("DATABASE_URL", target)
        .env("LMS_SECRET_KEY", crate::server::SECRET)
        // Files, not pipes: the JSON report of a big import outgrows a pipe's buffer, and nothing
        // reads the pipe until the importer exits.
        .stdout(std::fs::File::create(dir.join("report.json"))?)
        .stderr(std::fs::File::create(dir.join("stderr.txt"))?)
        .spawn()?;
    let mut peak_kib = 0u64;
    while child.try_wait()?.is_none() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            && let Some(kib) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.wait()?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        status.success(),
        "importer run failed: {}",
        std::fs::read_to_string(dir.join("stderr.txt"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("error"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json"))?)?;
    for table in ["users", "courses", "enrollments", "chat_messages"] {
        let t = &report["tables"][table];
        println!(
            "  imported {table:<14} {:>9} found: {} created, {} merged, {} skipped in {:.1} s",
            t["found"],
            t["created"],
            t["merged"],
            t["skipped"],
            t["seconds"].as_f64().unwrap_or_default()
        );
    }
    let import_rate = legacy_rows as f64 / seconds;
    println!(
        "  importer: {legacy_rows} rows in {seconds:.1} s = {import_rate:.0} rows/s; seeder bulk load {seeder_rate:.0} rows/s; ratio {:.2} (goal >= 0.50)",
        import_rate / seeder_rate
    );
    println!("  importer peak RSS {:.1} MiB", peak_kib as f64 / 1024.0);
    Ok(())
}
