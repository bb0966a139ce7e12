//! Seeder throughput: `seeder run --scale N` (release) on PostgreSQL and SQLite, next to a raw
//! PostgreSQL `COPY` of the same number of chat-message rows into a table shaped like chat_messages
//! (same columns, defaults, checks and indexes; no foreign keys), measured in the same run.
use std::process::Command;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Volume scale: N courses, 100*N users, ~200*N enrollments, 1000*N chat messages.
    #[arg(long, default_value_t = 1000)]
    scale: u32,
    /// A PostgreSQL URL whose role may CREATE DATABASE (scripts/bench.sh starts a throwaway server).
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    postgres_url: String,
}

pub fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

/// Per seeder: (name, rows, rows per second).
type SeederRates = Vec<(String, u64, f64)>;

/// Runs the seeder and returns (total seconds, [(seeder, rows, rows/s)]).
pub fn seed(
    database_url: &str,
    scale: u32,
    cwd: &std::path::Path,
) -> anyhow::Result<(f64, SeederRates)> {
    let started = Instant::now();
    let out = Command::new(crate::sibling_binary("seeder")?)
        .args(["run", "--scale", &scale.to_string()])
        .current_dir(cwd)
        .env("DATABASE_URL", database_url)
        .env("LMS_SECRET_KEY", crate::server::SECRET)
        .output()?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "seeder failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "volume_chat_messages   1000000 rows in   12345 ms (81000 rows/s)"
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() >= 7 && words[2] == "rows" && words[3] == "in" {
            let count = words[1].parse().unwrap_or(0);
            let rate = words[6].trim_start_matches('(').parse().unwrap_or(0.0);
            rows.push((words[0].to_string(), count, rate));
        }
    }
    Ok((seconds, rows))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let name = format!("lms_bench_seed_{}", std::process::id());
    psql(&args.postgres_url, &format!("CREATE DATABASE {name}"))?;
    let pg = with_database(&args.postgres_url, &name);
    let result = measure(&args, &pg, dir.path());
    let _ = psql(
        &args.postgres_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
    result
}

fn measure(args: &Args, pg: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let (pg_seconds, pg_rows) = seed(pg, args.scale, dir)?;
    let sqlite = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let (sqlite_seconds, sqlite_rows) = seed(&sqlite, args.scale, dir)?;

    // The raw limit: the very rows the seeder wrote, COPYed by PostgreSQL itself into a table with the
    // same columns, defaults, checks, indexes and foreign keys.
    let csv = dir.join("messages.csv");
    let columns = "id, course_id, user_id, parent_id, message_type, content, edit_count, metadata, created_at, updated_at";
    psql(
        pg,
        &format!(
            "\\copy (SELECT {columns} FROM chat_messages WHERE content LIKE 'Volume message %' ORDER BY id) TO '{}' WITH (FORMAT csv)",
            csv.display()
        ),
    )?;
    let messages = u64::from(args.scale) * 1000;
    psql(
        pg,
        "CREATE TABLE copy_bench (LIKE chat_messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES); \
         ALTER TABLE copy_bench ADD FOREIGN KEY (course_id) REFERENCES courses (id) ON DELETE CASCADE, \
         ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL, \
         ADD FOREIGN KEY (parent_id) REFERENCES copy_bench (id) ON DELETE CASCADE",
    )?;
    let started = Instant::now();
    psql(
        pg,
        &format!(
            "\\copy copy_bench ({columns}) FROM '{}' WITH (FORMAT csv)",
            csv.display()
        ),
    )?;
    let copy_rate = messages as f64 / started.elapsed().as_secs_f64();

    println!("seeder benchmark (release build, --scale {})", args.scale);
    println!(
        "  {:<22} {:>10} {:>14} {:>14}",
        "seeder", "rows", "PostgreSQL/s", "SQLite/s"
    );
    for (name, count, rate) in &pg_rows {
        let sqlite_rate = sqlite_rows
            .iter()
            .find(|(n, _, _)| n == name)
            .map_or(0.0, |(_, _, r)| *r);
        println!("  {name:<22} {count:>10} {rate:>14.0} {sqlite_rate:>14.0}");
    }
    println!("  whole run: PostgreSQL {pg_seconds:.1} s, SQLite {sqlite_seconds:.1} s");
    let chat = pg_rows
        .iter()
        .find(|(n, _, _)| n == "volume_chat_messages")
        .map_or(0.0, |(_, _, r)| *r);
    println!(
        "  raw COPY of the same {messages} rows (same constraints and foreign keys): {copy_rate:.0} rows/s"
    );
    println!(
        "  chat messages: seeder / COPY = {:.2} (target >= 0.5)",
        chat / copy_rate
    );
    Ok(())
}
