//! The curriculum outline of a large course on PostgreSQL, on realistic data (the seeder's volume
//! data around it), against a release build:
//! - how many queries one outline costs (counted on the connection, for an enrolled student), which
//!   must not grow with the number of lessons;
//! - the outline's rate and latency over HTTP, as enrolled students, next to the rate of the same
//!   outline computed in this process straight on the database (the domain code and its queries, no
//!   HTTP): the ceiling any HTTP layer could reach on this machine in this run.
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::seed::{psql, with_database};
use crate::server::{Rate, SECRET, Server, create_admin, json_call};

#[derive(clap::Args)]
pub struct Args {
    /// Seconds per rate measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients (HTTP, and tasks in process).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Lessons in the benchmark course (10 sections).
    #[arg(long, default_value_t = 200)]
    lessons: usize,
    /// Lessons each student has completed.
    #[arg(long, default_value_t = 60)]
    completed: usize,
    /// `seeder run --scale N` first: the tables the outline reads hold other courses' rows too.
    #[arg(long, default_value_t = 100)]
    scale: u32,
    /// A PostgreSQL URL whose role may CREATE DATABASE (scripts/bench.sh starts a throwaway server).
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    postgres_url: String,
}

const PASSWORD: &str = "benchmark passphrase 42";

pub async fn run(args: Args) -> anyhow::Result<()> {
    let name = format!("lms_bench_curriculum_{}", std::process::id());
    psql(&args.postgres_url, &format!("CREATE DATABASE {name}"))?;
    let url = with_database(&args.postgres_url, &name);
    let result = measure(&args, &url).await;
    let _ = psql(
        &args.postgres_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    );
    result
}

struct World {
    client: reqwest::Client,
    course: i64,
    students: Vec<(i64, String)>,
}

async fn measure(args: &Args, url: &str) -> anyhow::Result<()> {
    let seeded = Command::new(crate::sibling_binary("seeder")?)
        .args(["run", "--scale", &args.scale.to_string()])
        .env("DATABASE_URL", url)
        .env("LMS_SECRET_KEY", SECRET)
        .output()?;
    anyhow::ensure!(
        seeded.status.success(),
        "seeder: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let server = Server::start(Some(url), &[])?;
    let world = setup(args, &server, url).await?;
    psql(url, "ANALYZE")?;
    println!(
        "curriculum benchmark: PostgreSQL, a course of {} lessons in 10 sections among the volume data of \
         --scale {} ({} lessons in all), {} students with {} lessons done each, {} clients, {} s per rate",
        args.lessons,
        args.scale,
        args.lessons + args.scale as usize * 20 + 32,
        world.students.len(),
        args.completed,
        args.connections,
        args.seconds
    );

    // Queries per outline, counted on a connection of our own.
    let queries = Arc::new(AtomicU64::new(0));
    let mut db = lms_core::db::connect(
        url,
        &lms_core::db::PoolOptions {
            max_connections: args.connections as u32,
            ..Default::default()
        },
    )
    .await?;
    let counter = queries.clone();
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let (student_id, _) = world.students[0];
    let student = entity::users::Entity::find_by_id(student_id)
        .one(&db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no student"))?;
    queries.store(0, Ordering::Relaxed);
    let outline = lms_core::curriculum::outline(&db, Some(&student), world.course).await?;
    let lessons: usize = outline.sections.iter().map(|s| s.lessons.len()).sum();
    println!(
        "  queries per outline: {} (enrolled student, {lessons} lessons shown; the same for any size)",
        queries.load(Ordering::Relaxed)
    );

    // In process: the domain and the database alone.
    let students: Vec<entity::users::Model> = entity::users::Entity::find()
        .filter(sea_orm::ColumnTrait::is_in(
            &entity::users::Column::Id,
            world.students.iter().map(|(id, _)| *id),
        ))
        .all(&db)
        .await?;
    let direct = in_process(args, &db, &students, world.course).await?;
    let http = over_http(args, &world, &server).await?;
    println!(
        "  in process (domain + PostgreSQL): {:>7.0} outlines/s  p50 {:>6.1} ms  p99 {:>6.1} ms",
        direct.rate, direct.p50_ms, direct.p99_ms
    );
    println!(
        "  GET /courses/{{id}}/curriculum:    {:>7.0} outlines/s  p50 {:>6.1} ms  p99 {:>6.1} ms  errors {}",
        http.rate, http.p50_ms, http.p99_ms, http.errors
    );
    println!(
        "  HTTP / in process: {:.2} (what the API keeps of the ceiling; the rest is HTTP, auth and JSON)",
        http.rate / direct.rate
    );
    Ok(())
}

/// An admin builds a course of `lessons` lessons; students enroll and complete some of them.
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
    let token = |v: &Value| v["access_token"].as_str().unwrap_or_default().to_string();
    let admin = token(&login("benchadmin".into()).await?);
    let course = json_call(
        client.post(server.url("/api/v1/courses")).bearer_auth(&admin).json(&json!({
            "title": "The big curriculum", "description": "A course with many lessons, for the benchmark.",
            "category": "programming"})),
        201,
        "create course",
    )
    .await?["id"]
        .as_i64()
        .unwrap_or_default();
    let mut sections = Vec::new();
    for s in 0..10 {
        let section = json_call(
            client
                .post(server.url(&format!("/api/v1/courses/{course}/sections")))
                .bearer_auth(&admin)
                .json(&json!({"title": format!("Part {s}")})),
            201,
            "section",
        )
        .await?;
        sections.push(section["id"].as_i64().unwrap_or_default());
    }
    let mut text_lessons = Vec::new();
    for l in 0..args.lessons {
        let section = sections[l * sections.len() / args.lessons.max(1)];
        let body = match l % 3 {
            0 => json!({"kind": "text", "title": format!("Reading {l}"),
                "body": format!("# Reading {l}\n\nSome Markdown, *emphasis* and a [link](https://example.com)."),
                "published": true, "preview": l < 2}),
            1 => json!({"kind": "video", "title": format!("Video {l}"),
                "url": format!("https://videos.example.com/{l}.mp4"), "duration_seconds": 600, "published": true}),
            _ => json!({"kind": "link", "title": format!("Resource {l}"),
                "url": format!("https://docs.example.com/{l}"), "published": true, "required": l % 2 == 0}),
        };
        let lesson = json_call(
            client
                .post(server.url(&format!("/api/v1/sections/{section}/lessons")))
                .bearer_auth(&admin)
                .json(&body),
            201,
            "lesson",
        )
        .await?;
        if l % 3 == 0 {
            text_lessons.push(lesson["id"].as_i64().unwrap_or_default());
        }
    }
    json_call(
        client
            .post(server.url(&format!("/api/v1/courses/{course}/publish")))
            .bearer_auth(&admin),
        200,
        "publish",
    )
    .await?;
    let mut students = Vec::new();
    for s in 0..args.connections {
        let username = format!("learner{s}");
        let user = json_call(
            client.post(server.url("/api/v1/auth/register")).json(&json!({
                "email": format!("{username}@bench.test"), "username": username, "password": PASSWORD,
                "first_name": "Load", "last_name": "Tester"})),
            201,
            "register",
        )
        .await?;
        let student = token(&login(username).await?);
        json_call(
            client
                .post(server.url(&format!("/api/v1/courses/{course}/enrollments")))
                .bearer_auth(&student),
            201,
            "enroll",
        )
        .await?;
        for lesson in text_lessons.iter().take(args.completed) {
            json_call(
                client
                    .post(server.url(&format!("/api/v1/lessons/{lesson}/complete")))
                    .bearer_auth(&student),
                200,
                "complete",
            )
            .await?;
        }
        students.push((user["id"].as_i64().unwrap_or_default(), student));
    }
    Ok(World {
        client,
        course,
        students,
    })
}

async fn in_process(
    args: &Args,
    db: &sea_orm::DatabaseConnection,
    students: &[entity::users::Model],
    course: i64,
) -> anyhow::Result<Rate> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for worker in 0..args.connections {
        let (db, student) = (db.clone(), students[worker % students.len()].clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                if lms_core::curriculum::outline(&db, Some(&student), course)
                    .await
                    .is_ok()
                {
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    Ok(Rate::of(all, started.elapsed(), 0))
}

async fn over_http(args: &Args, world: &World, server: &Server) -> anyhow::Result<Rate> {
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let url = server.url(&format!("/api/v1/courses/{}/curriculum", world.course));
    let mut tasks = Vec::new();
    for (_, token) in world.students.iter().take(args.connections) {
        let (client, token, url, errors) = (
            world.client.clone(),
            token.clone(),
            url.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                match client.get(&url).bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => {
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
