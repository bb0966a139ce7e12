//! Course chat on PostgreSQL against a release build, each figure next to the raw database rate that
//! pgbench measures in the same run for the same statement:
//! - history read (last 50 top-level messages of a random course, as an enrolled student) vs pgbench
//!   running the API's history query; p50/p99 latency at the same number of connections, at
//!   saturation and again with requests paced at a share of the raw rate (`--paced-share`);
//! - posting a message vs pgbench running a single-row INSERT into chat_messages;
//! - fan-out: N WebSocket subscribers on one course, delivery latency from just before the POST to each
//!   subscriber's receipt, on one instance and across two; server memory per idle connection.
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::seed::{psql, with_database};
use crate::server::{Rate, Server, create_admin, json_call, percentile};

#[derive(clap::Args)]
pub struct Args {
    /// Seconds per throughput measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections (HTTP clients, and pgbench clients).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Courses (messages go to a random one).
    #[arg(long, default_value_t = 20)]
    courses: usize,
    /// WebSocket subscribers on one course for the fan-out.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Messages posted during each fan-out measurement (one every 20 ms).
    #[arg(long, default_value_t = 100)]
    fanout_messages: usize,
    /// A PostgreSQL URL whose role may CREATE DATABASE (scripts/bench.sh starts a throwaway server).
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    postgres_url: String,
    /// A MySQL/MariaDB URL whose user may CREATE DATABASE: the fan-out and the revocation across two
    /// instances are measured there too (instances poll instead of LISTEN). scripts/bench.sh starts a
    /// throwaway MariaDB for `chat` unless this is set.
    #[arg(long, env = "BENCH_MYSQL_URL")]
    mysql_url: Option<String>,
    /// Run only these measurements (repeatable; default: all).
    #[arg(long, value_enum)]
    only: Vec<Part>,
    /// Volume data for the history reads (`seeder run --scale N`: N courses, 1000*N messages).
    #[arg(long, default_value_t = 1000)]
    scale: u32,
    /// Keep the benchmark database afterwards (its name is printed) instead of dropping it.
    #[arg(long)]
    keep_database: bool,
}

/// One measurement of the chat benchmark.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Post,
    History,
    Fanout,
}

impl Args {
    fn runs(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

const PASSWORD: &str = "velvet thunder 42 kite";

/// The API's history statement (what `GET /courses/{id}/messages?limit=50` runs after the membership
/// check), for pgbench.
pub const HISTORY_SQL: &str = "SELECT \"chat_messages\".\"id\", \"chat_messages\".\"course_id\", \"chat_messages\".\"user_id\", \
    \"chat_messages\".\"parent_id\", \"chat_messages\".\"message_type\", \"chat_messages\".\"content\", \
    \"chat_messages\".\"edited_at\", \"chat_messages\".\"edit_count\", \"chat_messages\".\"deleted_at\", \
    \"chat_messages\".\"pinned_at\", \"chat_messages\".\"created_at\", \"users\".\"username\" AS \"author_username\", \
    \"users\".\"first_name\" AS \"author_first_name\", \"users\".\"last_name\" AS \"author_last_name\" \
    FROM \"chat_messages\" LEFT JOIN \"users\" ON \"chat_messages\".\"user_id\" = \"users\".\"id\" \
    WHERE \"chat_messages\".\"course_id\" = :course AND \"chat_messages\".\"parent_id\" IS NULL \
    ORDER BY \"chat_messages\".\"id\" DESC LIMIT 51;";

struct World {
    client: reqwest::Client,
    tokens: Vec<String>,
    courses: Vec<i64>,
    students: (i64, i64),
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let name = format!("lms_bench_chat_{}", std::process::id());
    psql(&args.postgres_url, &format!("CREATE DATABASE {name}"))?;
    let url = with_database(&args.postgres_url, &name);
    let result = async {
        seed_for_history(&args, &url, "")?;
        measure(&args, &url).await?;
        match &args.mysql_url {
            Some(mysql) => on_mysql(&args, mysql).await,
            _ => Ok(()),
        }
    }
    .await;
    if args.keep_database {
        println!("kept the benchmark database: {url}");
    } else {
        let _ = psql(
            &args.postgres_url,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }
    result
}

/// The seeder's volume data for the history reads (when they run), timed.
fn seed_for_history(args: &Args, url: &str, on: &str) -> anyhow::Result<()> {
    if args.runs(Part::History) {
        let dir = tempfile::tempdir()?;
        let (seconds, _) = crate::seed::seed(url, args.scale, dir.path())?;
        println!(
            "seeded volume data{on} (--scale {}) in {seconds:.1} s",
            args.scale
        );
    }
    Ok(())
}

fn server_env() -> Vec<(&'static str, String)> {
    vec![
        ("LMS_CHAT_POSTS_PER_MINUTE", "1000000000".into()),
        // The history readers sign in from addresses of their own (X-Forwarded-For).
        ("LMS_TRUST_FORWARDED_FOR", "true".into()),
    ]
}

async fn measure(args: &Args, url: &str) -> anyhow::Result<()> {
    let server = Server::start(Some(url), &server_env())?;
    if args.runs(Part::History) {
        // Statistics of the seeded data first, as autovacuum keeps them in production (right after a
        // bulk load the planner would still think the tables empty). Not before posting to fresh
        // courses: statistics of empty tables would make the planner scan the tables the posts grow.
        psql(url, "ANALYZE")?;
        let settings = crate::chat_history::Settings {
            connections: args.connections,
            seconds: args.seconds,
        };
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(args.connections * 2)
            .build()?;
        crate::chat_history::measure(&client, &server, url, &settings).await?;
    }
    if !(args.runs(Part::Post) || args.runs(Part::Fanout)) {
        return Ok(());
    }
    let world = setup(args, &server, url).await?;
    println!(
        "posting and fan-out: PostgreSQL, {} connections, {} s per rate, {} fresh courses, {} students",
        args.connections,
        args.seconds,
        world.courses.len(),
        world.tokens.len()
    );
    if args.runs(Part::Post) {
        measure_post(args, &world, &server, url).await?;
    }
    if args.runs(Part::Fanout) {
        fan_out_and_revocation(args, &world, &server, url, 100).await?;
    }
    Ok(())
}

/// Fan-out on one instance, then across two (subscribers on the second, posts through the first),
/// then how long a logout through the first takes to reach the second.
async fn fan_out_and_revocation(
    args: &Args,
    world: &World,
    server: &Server,
    url: &str,
    two_instance_target_ms: u32,
) -> anyhow::Result<()> {
    let course = world.courses[0];
    let fan = fan_out(args, world, server, server, course).await?;
    report_fan_out("fan-out, 1 instance ", 50, args, &fan);
    let second = Server::start(Some(url), &server_env())?;
    let fan = fan_out(args, world, server, &second, course).await?;
    report_fan_out("fan-out, 2 instances", two_instance_target_ms, args, &fan);
    let client = &world.client;
    let revoked =
        crate::revocation::measure(client, server, &second, "chatter0", PASSWORD, course, 12)
            .await?;
    let d = &revoked.delays_ms;
    println!(
        "revocation across 2 instances: {} logouts through A, refused by B after p50 {:.1} ms, max {:.1} ms (from A's answer); B allowed at most {} request(s) meanwhile",
        revoked.trials,
        percentile(d, 50.0),
        d.last().copied().unwrap_or_default(),
        revoked.most_allowed
    );
    Ok(())
}

/// History, posting, fan-out and revocation on MySQL/MariaDB, in a database of its own (dropped after).
async fn on_mysql(args: &Args, server_url: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let name = format!("lms_bench_chat_{}", std::process::id());
    let admin = sea_orm::Database::connect(server_url).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    let url = with_database(server_url, &name);
    let result = async {
        seed_for_history(args, &url, " on MariaDB/MySQL")?;
        let server = Server::start(Some(&url), &server_env())?;
        if args.runs(Part::History) {
            let settings = crate::chat_history::Settings {
                connections: args.connections,
                seconds: args.seconds,
            };
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(args.connections * 2)
                .build()?;
            crate::chat_history::measure_mysql(&client, &server, &url, &settings).await?;
        }
        if !(args.runs(Part::Post) || args.runs(Part::Fanout)) {
            return Ok(());
        }
        let world = setup(args, &server, &url).await?;
        println!(
            "on MariaDB/MySQL ({} subscribers; other instances poll every {} ms):",
            args.subscribers,
            lms_core::chat::poll::INTERVAL.as_millis()
        );
        if args.runs(Part::Post) {
            measure_post_mysql(args, &world, &server, &url).await?;
        }
        if !args.runs(Part::Fanout) {
            return Ok(());
        }
        // Across two instances a change waits for the other's next poll: its interval on top.
        let target = 100 + lms_core::chat::poll::INTERVAL.as_millis() as u32;
        fan_out_and_revocation(args, &world, &server, &url, target).await
    }
    .await;
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await;
    result
}

/// Posting through the API, then pgbench's single-row insert.
async fn measure_post(
    args: &Args,
    world: &World,
    server: &Server,
    url: &str,
) -> anyhow::Result<()> {
    let post = drive_posts(args, world, server).await?;
    let insert_sql = format!(
        "\\set course random({}, {})\n\\set author random({}, {})\n\
         INSERT INTO chat_messages (course_id, user_id, message_type, content) \
         VALUES (:course, :author, 'text', 'raw insert from pgbench');\n",
        world.courses[0],
        world.courses[world.courses.len() - 1],
        world.students.0,
        world.students.1
    );
    let raw_insert = pgbench(url, &insert_sql, args)?;
    println!(
        "post message      {:>8.0} msg/s   raw INSERT {:>8.0}/s   ratio {:.2} (target >= 0.40)   p50 {:.2} ms  p99 {:.2} ms  errors {}",
        post.rate,
        raw_insert.tps,
        post.rate / raw_insert.tps,
        post.p50_ms,
        post.p99_ms,
        post.errors
    );

    Ok(())
}

/// Posting through the API on MySQL/MariaDB, then `mariadb-slap` running a single-row insert with as
/// many clients (MariaDB's own rate for the statement).
async fn measure_post_mysql(
    args: &Args,
    world: &World,
    server: &Server,
    url: &str,
) -> anyhow::Result<()> {
    let post = drive_posts(args, world, server).await?;
    let (courses, students) = (
        (world.courses[0], world.courses[world.courses.len() - 1]),
        world.students,
    );
    let insert = format!(
        "INSERT INTO chat_messages (course_id, user_id, message_type, content) VALUES \
         ({} + FLOOR(RAND() * {}), {} + FLOOR(RAND() * {}), 'text', 'raw insert from mariadb-slap')",
        courses.0,
        courses.1 - courses.0 + 1,
        students.0,
        students.1 - students.0 + 1
    );
    let queries = args.connections * 300;
    let out = crate::seed::mariadb_tool(url, "mariadb-slap")?
        .args([
            "--no-drop".to_string(),
            format!("--concurrency={}", args.connections),
            format!("--number-of-queries={queries}"),
            format!("--query={insert}"),
        ])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "mariadb-slap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "Average number of seconds to run all queries: 1.234 seconds"
    let seconds: f64 = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Average number of seconds to run all queries:")
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no timing in mariadb-slap's output: {text}"))?;
    let raw = queries as f64 / seconds;
    println!(
        "post message      {:>8.0} msg/s   raw INSERT (mariadb-slap) {:>8.0}/s   ratio {:.2} (target >= 0.40)   p50 {:.2} ms  p99 {:.2} ms  errors {}",
        post.rate,
        raw,
        post.rate / raw,
        post.p50_ms,
        post.p99_ms,
        post.errors
    );
    Ok(())
}

fn report_fan_out(label: &str, target_ms: u32, args: &Args, fan: &FanOut) {
    println!(
        "{label}  {} subscribers x {} messages: delivered {}/{}  p50 {:.1} ms  p99 {:.1} ms (target < {target_ms})  max {:.1} ms   memory {:.1} KiB per connection",
        args.subscribers,
        args.fanout_messages,
        fan.delivered,
        fan.expected,
        fan.p50_ms,
        fan.p99_ms,
        fan.max_ms,
        fan.kib_per_connection
    );
}

/// An admin (through `api create-admin`), courses, and students enrolled in every course.
async fn setup(args: &Args, server: &Server, url: &str) -> anyhow::Result<World> {
    create_admin(url, PASSWORD)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections * 2)
        .build()?;
    let login = |login: String| {
        json_call(
            client
                .post(server.url("/api/v1/auth/login"))
                .json(&json!({"login": login, "password": PASSWORD})),
            200,
            "login",
        )
    };
    let admin = login("benchadmin".into()).await?["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut courses = Vec::new();
    for c in 0..args.courses {
        let course = json_call(
            client.post(server.url("/api/v1/courses")).bearer_auth(&admin).json(&json!({
                "title": format!("Benchmark course {c}"), "description": "A course for the chat benchmark.",
                "category": "programming", "price_cents": 0, "currency": "USD", "level": "beginner"})),
            201,
            "create course",
        )
        .await?;
        let id = course["id"].as_i64().unwrap_or_default();
        json_call(
            client
                .post(server.url(&format!("/api/v1/courses/{id}/publish")))
                .bearer_auth(&admin),
            200,
            "publish",
        )
        .await?;
        courses.push(id);
    }
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for s in 0..args.connections {
        let username = format!("chatter{s}");
        let user = json_call(
            client.post(server.url("/api/v1/auth/register")).json(&json!({
                "email": format!("{username}@bench.test"), "username": username, "password": PASSWORD,
                "first_name": "Load", "last_name": "Tester"})),
            201,
            "register",
        )
        .await?;
        ids.push(user["id"].as_i64().unwrap_or_default());
        let token = login(username).await?["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for course in &courses {
            json_call(
                client
                    .post(server.url(&format!("/api/v1/courses/{course}/enrollments")))
                    .bearer_auth(&token),
                201,
                "enroll",
            )
            .await?;
        }
        tokens.push(token);
    }
    let students = (
        ids.iter().copied().min().unwrap_or(0),
        ids.iter().copied().max().unwrap_or(0),
    );
    Ok(World {
        client,
        tokens,
        courses,
        students,
    })
}

/// `connections` clients, each with its own student token, posting to random courses for `seconds`,
/// each sending its next post as soon as the last is answered (closed loop): the rate is the most the
/// server gives, and latency is whatever queueing that saturation causes.
async fn drive_posts(args: &Args, world: &World, server: &Server) -> anyhow::Result<Rate> {
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for (worker, token) in world.tokens.iter().enumerate() {
        let (client, token, errors) = (world.client.clone(), token.clone(), errors.clone());
        let urls: Vec<String> = world
            .courses
            .iter()
            .map(|c| server.url(&format!("/api/v1/courses/{c}/messages")))
            .collect();
        let body =
            json!({"content": format!("benchmark message from worker {worker}")}).to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ worker as u64;
            while Instant::now() < deadline {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let url = &urls[(state % urls.len() as u64) as usize];
                let sent = Instant::now();
                let request = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                match request.bearer_auth(&token).send().await {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let _ = r.bytes().await;
                        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => {
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

/// What pgbench measured.
pub struct Raw {
    pub tps: f64,
    pub latency_ms: f64,
}

/// Runs a pgbench script with the same number of clients and seconds.
fn pgbench(url: &str, script: &str, args: &Args) -> anyhow::Result<Raw> {
    let settings = crate::chat_history::Settings {
        connections: args.connections,
        seconds: args.seconds,
    };
    pgbench_script(url, script, &settings)
}

/// Runs a pgbench script with `settings`' clients for its seconds.
pub fn pgbench_script(
    url: &str,
    script: &str,
    args: &crate::chat_history::Settings,
) -> anyhow::Result<Raw> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("script.sql");
    std::fs::write(&file, script)?;
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &args.connections.to_string(),
            "-j",
            "2",
            "-T",
            &args.seconds.to_string(),
            "-f",
        ])
        .arg(&file)
        .arg(url)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "pgbench failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let figure = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no '{prefix}' in pgbench output: {stdout}"))
    };
    Ok(Raw {
        tps: figure("tps = ")?,
        latency_ms: figure("latency average = ")?,
    })
}

struct FanOut {
    delivered: usize,
    expected: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    kib_per_connection: f64,
}

/// Subscribers on `listen`, messages posted through `post`.
async fn fan_out(
    args: &Args,
    world: &World,
    post: &Server,
    listen: &Server,
    course: i64,
) -> anyhow::Result<FanOut> {
    let before = listen.rss_kib().unwrap_or(0);
    let ws_base = listen.base.replacen("http://", "ws://", 1);
    let mut sockets = Vec::new();
    for s in 0..args.subscribers {
        let mut request =
            format!("{ws_base}/api/v1/courses/{course}/chat/ws").into_client_request()?;
        let token = &world.tokens[s % world.tokens.len()];
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        // Wait for `ready`: from then on the subscriber is live.
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"ready\"") => break,
                Some(Ok(_)) => continue,
                other => anyhow::bail!("subscriber {s} closed before ready: {other:?}"),
            }
        }
        sockets.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = listen.rss_kib().unwrap_or(0);
    let kib_per_connection = after.saturating_sub(before) as f64 / args.subscribers as f64;

    let origin = Instant::now();
    let sent: Arc<Vec<AtomicU64>> = Arc::new(
        (0..args.fanout_messages)
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let mut readers = Vec::new();
    for mut socket in sockets {
        let (sent, expected) = (sent.clone(), args.fanout_messages);
        readers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(expected);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while latencies.len() < expected {
                let frame = match tokio::time::timeout_at(deadline, socket.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) => t,
                    Ok(Some(Ok(_))) => continue,
                    _ => break,
                };
                let now = origin.elapsed().as_nanos() as u64;
                let Some(k) = frame
                    .split_once("fanout:")
                    .and_then(|(_, rest)| rest.split_once(':'))
                    .and_then(|(k, _)| k.parse::<usize>().ok())
                else {
                    continue;
                };
                let at = sent[k].load(Ordering::Acquire);
                latencies.push(now.saturating_sub(at) as f64 / 1e6);
            }
            let _ = socket.close(None).await;
            latencies
        }));
    }
    let token = &world.tokens[0];
    let url = post.url(&format!("/api/v1/courses/{course}/messages"));
    for k in 0..args.fanout_messages {
        sent[k].store(origin.elapsed().as_nanos() as u64, Ordering::Release);
        json_call(
            world
                .client
                .post(&url)
                .bearer_auth(token)
                .json(&json!({"content": format!("fanout:{k}:")})),
            201,
            "post",
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut all = Vec::new();
    for reader in readers {
        all.extend(reader.await?);
    }
    all.sort_by(f64::total_cmp);
    Ok(FanOut {
        delivered: all.len(),
        expected: args.subscribers * args.fanout_messages,
        p50_ms: percentile(&all, 50.0),
        p99_ms: percentile(&all, 99.0),
        max_ms: all.last().copied().unwrap_or(f64::NAN),
        kib_per_connection,
    })
}
