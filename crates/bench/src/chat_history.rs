//! Chat history on realistic data: the seeder's volume data (`--scale`, default 1000: 1,000 courses,
//! 100,000 users, 1,000,000 messages whose courses interleave on disk), read as enrolled students of
//! random courses, next to pgbench in the same run:
//! - pgbench running the API's history query (what a miss costs) and a primary-key read of
//!   `chat_sequences` (what every read costs at least: the validation);
//! - the newest page through the API at saturation, and paced at half that rate (p99);
//! - revalidation with `If-None-Match` (304, no body);
//! - older pages (`before=`) through the API and the same query in pgbench, with the buffers one page
//!   touches (`EXPLAIN (ANALYZE, BUFFERS)`);
//! - the server's memory once every course's newest page has been read, and what the cache holds.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

use crate::chat::{HISTORY_SQL, pgbench_script};
use crate::raw_http;
use crate::seed::psql;
use crate::server::{Rate, Server};

/// The password of every seeded account (the seeder's `DEMO_PASSWORD`).
const VOLUME_PASSWORD: &str = "learn-with-lms-2026";

/// One reader: a student's token and one course they are enrolled in.
struct Reader {
    token: String,
    course: i64,
}

/// Per course: the newest page's tag and the id to page back from.
struct Known {
    etag: String,
    before: i64,
}

pub struct Settings {
    pub connections: usize,
    pub seconds: u64,
}

/// Signs in one enrolled student per volume course (through `X-Forwarded-For` addresses of their own,
/// so the per-address sign-in throttle does not slow the setup). `rows`: "<username> <course id>"
/// lines.
async fn readers(
    client: &reqwest::Client,
    server: &Server,
    rows: &str,
) -> anyhow::Result<Vec<Reader>> {
    let pairs: Vec<(String, i64)> = rows
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(u, c)| Some((u.to_string(), c.parse().ok()?)))
        .collect();
    anyhow::ensure!(
        !pairs.is_empty(),
        "no volume enrollments: seed with --scale first"
    );
    let logins = futures_util::stream::iter(pairs.into_iter().enumerate())
        .map(|(i, (username, course))| {
            let request = client
                .post(server.url("/api/v1/auth/login"))
                .header("x-forwarded-for", format!("10.{}.{}.1", i / 250, i % 250))
                .json(&json!({"login": username, "password": VOLUME_PASSWORD}));
            async move {
                let body = crate::server::json_call(request, 200, "login").await?;
                Ok::<_, anyhow::Error>(Reader {
                    token: body["access_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    course,
                })
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    logins.into_iter().collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Read {
    Newest,
    Revalidate,
    Older,
}

/// `connections` clients for `seconds`, each on its own keep-alive connection ([`raw_http`], so the
/// load generator takes little of the CPU it shares), each request for a random reader's course.
///
/// Without `pace`, each client sends its next request as soon as the last one is answered (closed
/// loop): the rate is the most the server gives, and latency is whatever queueing that saturation
/// causes. With `pace` (requests per second over all clients), each client sends on a fixed schedule
/// and a request's latency counts from when it was due, so a slow answer that delays the next request
/// is charged to that request too (no coordinated omission).
async fn drive(
    server: &Server,
    readers: &Arc<Vec<Reader>>,
    known: &Arc<Vec<Known>>,
    settings: &Settings,
    read: Read,
    pace: Option<f64>,
) -> anyhow::Result<Rate> {
    let errors = Arc::new(AtomicU64::new(0));
    let mut connections = Vec::with_capacity(settings.connections);
    for _ in 0..settings.connections {
        connections.push(raw_http::Connection::open(&server.base).await?);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(settings.seconds);
    let interval = pace.map(|rate| Duration::from_secs_f64(settings.connections as f64 / rate));
    let mut tasks = Vec::new();
    for (worker, mut connection) in connections.into_iter().enumerate() {
        let (readers, known, errors) = (readers.clone(), known.clone(), errors.clone());
        let mut due = started
            + interval.map_or(Duration::ZERO, |i| {
                i * worker as u32 / settings.connections as u32
            });
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (worker as u64 + 1);
            while Instant::now() < deadline {
                if interval.is_some() {
                    tokio::time::sleep_until(due.into()).await;
                }
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state % readers.len() as u64) as usize;
                let (reader, page) = (&readers[i], &known[i]);
                let path = match read {
                    Read::Older => format!(
                        "/api/v1/courses/{}/messages?limit=50&before={}",
                        reader.course, page.before
                    ),
                    _ => format!("/api/v1/courses/{}/messages?limit=50", reader.course),
                };
                let bearer = format!("Bearer {}", reader.token);
                let mut headers = vec![("Authorization", bearer.as_str())];
                if read == Read::Revalidate {
                    headers.push(("If-None-Match", page.etag.as_str()));
                }
                let sent = if interval.is_some() {
                    due
                } else {
                    Instant::now()
                };
                if let Some(interval) = interval {
                    due += interval;
                }
                let expected = if read == Read::Revalidate { 304 } else { 200 };
                match connection.get(&path, &headers).await {
                    Ok((status, _)) if status == expected => {
                        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_default());
    }
    Ok(Rate::of(
        all,
        started.elapsed(),
        errors.load(Ordering::Relaxed),
    ))
}

/// Shared buffers (hit + read) the plan of `sql` touched, from `EXPLAIN (ANALYZE, BUFFERS)`.
fn buffers(url: &str, sql: &str) -> anyhow::Result<u64> {
    let plan = psql(
        url,
        &format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"),
    )?;
    let plan: serde_json::Value = serde_json::from_str(&plan)?;
    let top = &plan[0]["Plan"];
    Ok(top["Shared Hit Blocks"].as_u64().unwrap_or(0)
        + top["Shared Read Blocks"].as_u64().unwrap_or(0))
}

/// Every reader's course read once, as its clients would: each newest page's tag and where the older
/// pages start.
async fn first_reads(
    client: &reqwest::Client,
    server: &Server,
    readers: &[Reader],
) -> anyhow::Result<Vec<Known>> {
    let mut known = Vec::with_capacity(readers.len());
    for reader in readers.iter() {
        let response = client
            .get(server.url(&format!(
                "/api/v1/courses/{}/messages?limit=50",
                reader.course
            )))
            .bearer_auth(&reader.token)
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "history: {}", response.status());
        let etag = response.headers()["etag"].to_str()?.to_string();
        let page: serde_json::Value = response.json().await?;
        let before = page["items"]
            .as_array()
            .and_then(|items| items.last())
            .and_then(|m| m["id"].as_i64())
            .unwrap_or(i64::MAX);
        known.push(Known { etag, before });
    }
    Ok(known)
}

pub async fn measure(
    client: &reqwest::Client,
    server: &Server,
    url: &str,
    settings: &Settings,
) -> anyhow::Result<()> {
    let rows = psql(
        url,
        "SELECT DISTINCT ON (e.course_id) u.username || ' ' || e.course_id FROM enrollments e \
         JOIN users u ON u.id = e.user_id JOIN courses c ON c.id = e.course_id \
         WHERE c.slug LIKE 'vol-course-%' AND e.status IN ('active', 'completed') \
         ORDER BY e.course_id, u.id",
    )?;
    let readers = Arc::new(readers(client, server, &rows).await?);
    // Every course read once (as its clients would): the tags, where older pages start, and the
    // memory the server holds with every newest page cached.
    let before_rss = server.rss_kib().unwrap_or(0);
    let known = Arc::new(first_reads(client, server, &readers).await?);
    let rss = server.rss_kib().unwrap_or(0);
    let (low, high) = (
        readers.iter().map(|r| r.course).min().unwrap_or(0),
        readers.iter().map(|r| r.course).max().unwrap_or(0),
    );
    psql(url, "ANALYZE")?;
    // pgbench: the API's history query, the validation's primary-key read, an older page.
    let pick = format!("\\set course random({low}, {high})\n");
    let raw_history = pgbench_script(url, &format!("{pick}{HISTORY_SQL}\n"), settings)?;
    let raw_key = pgbench_script(
        url,
        &format!(
            "{pick}SELECT last_seq, authors_version FROM chat_sequences WHERE course_id = :course;\n"
        ),
        settings,
    )?;
    // Older pages start where each course's newest page ends: pgbench picks a course as the API
    // clients do and reads its boundary first (`\gset`, one primary-key read more than the API's query).
    psql(
        url,
        "DROP TABLE IF EXISTS bench_before; CREATE TABLE bench_before (n int PRIMARY KEY, course_id bigint NOT NULL, before_id bigint NOT NULL)",
    )?;
    let values: Vec<String> = readers
        .iter()
        .zip(known.iter())
        .enumerate()
        .map(|(n, (r, k))| format!("({}, {}, {})", n + 1, r.course, k.before))
        .collect();
    psql(
        url,
        &format!(
            "INSERT INTO bench_before VALUES {}; ANALYZE bench_before",
            values.join(",")
        ),
    )?;
    let older_sql = HISTORY_SQL.replace(
        "AND \"chat_messages\".\"parent_id\" IS NULL",
        "AND \"chat_messages\".\"parent_id\" IS NULL AND \"chat_messages\".\"id\" < :before",
    );
    let raw_older = pgbench_script(
        url,
        &format!(
            "\\set n random(1, {})\nSELECT course_id AS course, before_id AS before FROM bench_before WHERE n = :n \\gset\n{older_sql}\n",
            readers.len()
        ),
        settings,
    )?;
    let sample = readers[readers.len() / 2].course;
    let sample_before = known[readers.len() / 2].before;
    let newest_sample = HISTORY_SQL.replace(":course", &sample.to_string());
    let older_sample = older_sql
        .replace(":course", &sample.to_string())
        .replace(":before", &sample_before.to_string());
    let newest_buffers = buffers(url, &newest_sample)?;
    let older_buffers = buffers(url, &older_sample)?;
    // The reference: the same query as it ran before the top-level index (m0024) existed.
    psql(url, "DROP INDEX idx_chat_messages_top_level")?;
    let before_index = pgbench_script(url, &format!("{pick}{HISTORY_SQL}\n"), settings);
    let old_buffers = (buffers(url, &newest_sample), buffers(url, &older_sample));
    psql(
        url,
        "CREATE INDEX idx_chat_messages_top_level ON chat_messages (course_id, id) WHERE parent_id IS NULL; ANALYZE chat_messages",
    )?;
    let today = before_index?;
    let (old_newest_buffers, old_older_buffers) = (old_buffers.0?, old_buffers.1?);

    println!(
        "history on volume data: {} courses read by {} enrolled students, {} connections, {} s per rate",
        readers.len(),
        readers.len(),
        settings.connections,
        settings.seconds
    );
    println!(
        "  pgbench: history query before m0024 (today's reference) {:.0}/s (avg {:.2} ms); with m0024 {:.0}/s (avg {:.2} ms); chat_sequences primary-key read {:.0}/s ({:.1}x today's query); older page {:.0}/s (with its boundary read by \\gset)",
        today.tps,
        today.latency_ms,
        raw_history.tps,
        raw_history.latency_ms,
        raw_key.tps,
        raw_key.tps / today.tps,
        raw_older.tps
    );
    let newest = drive(server, &readers, &known, settings, Read::Newest, None).await?;
    println!(
        "  newest page, saturated:   {:>8.0} req/s  = {:.2}x today's history query (target >= 2.5; {:.2}x the query with m0024)  p50 {:.2} ms  p99 {:.2} ms  errors {}",
        newest.rate,
        newest.rate / today.tps,
        newest.rate / raw_history.tps,
        newest.p50_ms,
        newest.p99_ms,
        newest.errors
    );
    let pace = newest.rate / 2.0;
    let paced = drive(server, &readers, &known, settings, Read::Newest, Some(pace)).await?;
    println!(
        "  newest page, paced at {:.0} req/s (half the saturated rate): served {:.0} req/s  p50 {:.2} ms  p99 {:.2} ms (target < 10)  errors {}",
        pace, paced.rate, paced.p50_ms, paced.p99_ms, paced.errors
    );
    let revalidated = drive(server, &readers, &known, settings, Read::Revalidate, None).await?;
    println!(
        "  revalidation (304):       {:>8.0} req/s  = {:.2}x today's history query (target >= 3)  p50 {:.2} ms  p99 {:.2} ms  errors {}",
        revalidated.rate,
        revalidated.rate / today.tps,
        revalidated.p50_ms,
        revalidated.p99_ms,
        revalidated.errors
    );
    let older = drive(server, &readers, &known, settings, Read::Older, None).await?;
    println!(
        "  older page (before=):     {:>8.0} req/s  = {:.2} of pgbench's older page  p50 {:.2} ms  p99 {:.2} ms  errors {}",
        older.rate,
        older.rate / raw_older.tps,
        older.p50_ms,
        older.p99_ms,
        older.errors
    );
    println!(
        "  buffers per page (course {sample}): newest {newest_buffers} (before m0024: {old_newest_buffers}), older {older_buffers} (before m0024: {old_older_buffers})"
    );
    println!(
        "  memory: server RSS {:.1} MiB before reading, {:.1} MiB with every course's newest page read (LMS_CHAT_PAGE_CACHE_MB default 64)",
        before_rss as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    Ok(())
}

/// On MySQL/MariaDB: the newest page and its revalidation through the API, next to MariaDB running the
/// API's history query itself for random courses with as many connections (a small client of our own:
/// `mariadb-slap` cannot draw a random course once per query).
pub async fn measure_mysql(
    client: &reqwest::Client,
    server: &Server,
    url: &str,
    settings: &Settings,
) -> anyhow::Result<()> {
    let rows = crate::seed::mariadb_run(
        url,
        &["-B", "-N"],
        "SELECT CONCAT(MIN(u.username), ' ', e.course_id) FROM enrollments e \
         JOIN users u ON u.id = e.user_id JOIN courses c ON c.id = e.course_id \
         WHERE c.slug LIKE 'vol-course-%' AND e.status IN ('active', 'completed') \
         GROUP BY e.course_id",
    )?;
    let readers = Arc::new(readers(client, server, &rows).await?);
    let known = Arc::new(first_reads(client, server, &readers).await?);
    let courses: Vec<i64> = readers.iter().map(|r| r.course).collect();
    let raw = raw_mysql_history(url, &courses, settings).await?;
    let newest = drive(server, &readers, &known, settings, Read::Newest, None).await?;
    let revalidated = drive(server, &readers, &known, settings, Read::Revalidate, None).await?;
    println!(
        "history on MariaDB/MySQL volume data: {} courses, {} connections, {} s per rate",
        readers.len(),
        settings.connections,
        settings.seconds
    );
    println!(
        "  the API's history query run by MariaDB itself: {:.0}/s (p50 {:.2} ms)",
        raw.rate, raw.p50_ms
    );
    for (label, rate) in [
        ("newest page, saturated:", &newest),
        ("revalidation (304):     ", &revalidated),
    ] {
        println!(
            "  {label} {:>8.0} req/s = {:.2}x the query  p50 {:.2} ms  p99 {:.2} ms  errors {}",
            rate.rate,
            rate.rate / raw.rate,
            rate.p50_ms,
            rate.p99_ms,
            rate.errors
        );
    }
    Ok(())
}

/// `settings.connections` connections running the history query (MySQL quoting) for random courses
/// of `courses`, each as soon as the last one answered, for `settings.seconds`.
async fn raw_mysql_history(
    url: &str,
    courses: &[i64],
    settings: &Settings,
) -> anyhow::Result<Rate> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let pool = lms_core::db::PoolOptions {
        max_connections: settings.connections as u32,
        ..Default::default()
    };
    let db = lms_core::db::connect(url, &pool).await?;
    let sql = HISTORY_SQL
        .replace('"', "`")
        .replace(":course", "?")
        .trim_end_matches(';')
        .to_string();
    let courses = Arc::new(courses.to_vec());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(settings.seconds);
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for worker in 0..settings.connections {
        let (db, sql, courses, errors) = (db.clone(), sql.clone(), courses.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut state = 0x2545_F491_4F6C_DD1Du64 ^ worker as u64;
            while Instant::now() < deadline {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let course = courses[(state % courses.len() as u64) as usize];
                let sent = Instant::now();
                let statement =
                    Statement::from_sql_and_values(DbBackend::MySql, &sql, [course.into()]);
                match db.query_all_raw(statement).await {
                    Ok(_) => latencies.push(sent.elapsed().as_secs_f64() * 1000.0),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    Ok(Rate::of(
        all,
        started.elapsed(),
        errors.load(Ordering::Relaxed),
    ))
}
