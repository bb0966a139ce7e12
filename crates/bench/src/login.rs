//! Login throughput against the argon2 ceiling.
//!
//! Every login verifies one argon2id hash (OWASP parameters, ~20 ms of one core), so no server can sign
//! in more than `cores / hash_time` users a second: that is the ceiling. The benchmark measures the
//! hash time in this process, then drives POST /auth/login on the release server with enough clients
//! to keep every core busy, and prints the ratio. Then 500 logins at once, and the server's peak memory.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use serde_json::json;

use crate::server::Server;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds of sustained load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients during the sustained load.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Logins sent at once for the memory check.
    #[arg(long, default_value_t = 500)]
    burst: usize,
    /// Run against this database (e.g. a PostgreSQL URL) instead of a fresh SQLite file.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    database_url: Option<String>,
}

const PASSWORD: &str = "benchmark passphrase 42";

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hash_secs = single_hash_seconds()?;
    let ceiling = cores as f64 / hash_secs;

    let server = Server::start(
        args.database_url.as_deref(),
        &[("LMS_PASSWORD_HASH_CONCURRENCY", cores.to_string())],
    )?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.burst)
        .build()?;
    // Many accounts, so the per-account failure throttle never enters the picture (all logins succeed).
    let accounts = 32;
    for i in 0..accounts {
        let response = client
            .post(server.url("/api/v1/auth/register"))
            .json(
                &json!({"email": format!("bench{i}@example.com"), "username": format!("bench{i}"),
                "password": PASSWORD, "first_name": "Bench", "last_name": "User"}),
            )
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 201,
            "register failed: {}",
            response.status()
        );
    }
    let rss_before = server.rss_kib().unwrap_or(0);

    // Warm-up, then sustained load.
    drive(
        &client,
        &server,
        args.concurrency,
        Duration::from_secs(1),
        accounts,
    )
    .await?;
    let (ok, errors, elapsed) = drive(
        &client,
        &server,
        args.concurrency,
        Duration::from_secs(args.seconds),
        accounts,
    )
    .await?;
    let throughput = ok as f64 / elapsed.as_secs_f64();

    // Burst: everything at once.
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.burst);
    for i in 0..args.burst {
        let client = client.clone();
        let url = server.url("/api/v1/auth/login");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"login": format!("bench{}", i % accounts), "password": PASSWORD}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    let mut burst_ok = 0;
    for task in tasks {
        if matches!(task.await?, Ok(200)) {
            burst_ok += 1;
        }
    }
    let burst_secs = started.elapsed().as_secs_f64();
    let peak = server.peak_rss_kib().unwrap_or(0);

    println!(
        "login benchmark (release build, {cores} cores, database: {})",
        args.database_url
            .as_deref()
            .map_or("sqlite", |_| "given URL")
    );
    println!(
        "  argon2id single hash (m=19456 KiB, t=2, p=1): {:.2} ms",
        hash_secs * 1000.0
    );
    println!("  argon2 ceiling (cores / hash time):           {ceiling:.1} logins/s");
    println!(
        "  measured POST /auth/login ({} clients, {} s): {throughput:.1} logins/s ({ok} ok, {errors} failed)",
        args.concurrency, args.seconds
    );
    println!(
        "  ratio measured / ceiling:                     {:.2} (target >= 0.85)",
        throughput / ceiling
    );
    println!(
        "  burst of {}: {burst_ok} ok in {burst_secs:.1} s",
        args.burst
    );
    println!(
        "  server memory: {:.1} MiB before load, peak {:.1} MiB (argon2 needs 19 MiB per hash in flight; {cores} at once)",
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    anyhow::ensure!(errors == 0 && burst_ok == args.burst, "some logins failed");
    Ok(())
}

/// Median of several single argon2id verifications in this process (same crate, same parameters).
fn single_hash_seconds() -> anyhow::Result<f64> {
    let argon2 = Argon2::default();
    let hash = argon2
        .hash_password(PASSWORD.as_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string();
    let mut samples: Vec<f64> = (0..15)
        .map(|_| {
            let started = Instant::now();
            let ok = argon2
                .verify_password(PASSWORD.as_bytes(), hash.as_str())
                .is_ok();
            assert!(ok);
            started.elapsed().as_secs_f64()
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

async fn drive(
    client: &reqwest::Client,
    server: &Server,
    concurrency: usize,
    duration: Duration,
    accounts: usize,
) -> anyhow::Result<(u64, u64, Duration)> {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (client, url, ok, failed) = (
            client.clone(),
            server.url("/api/v1/auth/login"),
            ok.clone(),
            failed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while Instant::now() < deadline {
                let body = json!({"login": format!("bench{}", i % accounts), "password": PASSWORD});
                match client.post(&url).json(&body).send().await {
                    Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                i += concurrency;
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    Ok((
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        started.elapsed(),
    ))
}
