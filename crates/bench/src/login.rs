//! Login throughput against the argon2 ceiling.
//!
//! Every login verifies one argon2id hash (OWASP parameters, ~20 ms of one core), so no server can sign
//! in more than `cores / hash_time` users a second: that is the ceiling. The benchmark measures the
//! hash time in this process, then drives POST /auth/login on the release server with enough clients
//! to keep every core busy, and prints the ratio. Then 500 logins at once, and the server's peak memory.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde_json::json;

use crate::server::Server;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds of sustained load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients during the sustained load.
    #[arg(long, default_value_t = 8)]
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
    // This machine's speed drifts (shared cores): the ceiling is measured before and after the load,
    // and the mean is the yardstick.
    let hash_before = single_hash_seconds()?;
    let parallel_before = parallel_hash_rate(cores, Duration::from_secs(3));

    let server = Server::start(
        args.database_url.as_deref(),
        &[
            ("LMS_PASSWORD_HASH_CONCURRENCY", cores.to_string()),
            // The forgot-password probe below sends each request from its own address.
            ("LMS_TRUST_FORWARDED_FOR", "true".to_string()),
        ],
    )?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.burst)
        .build()?;
    // Many accounts, so the per-account failure throttle never enters the picture (all logins succeed).
    let accounts = 32;
    register(&client, &server, accounts).await?;
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
    let burst_ok = burst(&client, &server, args.burst, accounts).await?;
    let burst_secs = started.elapsed().as_secs_f64();
    let peak = server.peak_rss_kib().unwrap_or(0);
    let (forgot_known, forgot_unknown) = forgot_medians(&client, &server, accounts).await?;
    drop(server);
    let hash_after = single_hash_seconds()?;
    let parallel_after = parallel_hash_rate(cores, Duration::from_secs(3));
    let hash_secs = (hash_before + hash_after) / 2.0;
    let ceiling = cores as f64 / hash_secs;
    let parallel = (parallel_before + parallel_after) / 2.0;

    println!(
        "login benchmark (release build, {cores} cores, database: {})",
        args.database_url
            .as_deref()
            .map_or("sqlite", |_| "given URL")
    );
    println!(
        "  argon2id single hash (m=19456 KiB, t=2, p=1): {:.2} ms (mean of {:.2} before and {:.2} after the load)",
        hash_secs * 1000.0,
        hash_before * 1000.0,
        hash_after * 1000.0
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
        "  reference: {cores} threads hashing at once, no server: {parallel:.1} hashes/s = {:.2} of the ceiling \
         (argon2 is memory-bound); login / that = {:.2}",
        parallel / ceiling,
        throughput / parallel
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
    println!(
        "  forgot password, median answer: known address {forgot_known:.2} ms, unknown {forgot_unknown:.2} ms ({accounts} each, interleaved; answered before the lookup)"
    );
    anyhow::ensure!(errors == 0 && burst_ok == args.burst, "some logins failed");
    Ok(())
}

/// Median time of one argon2id computation with the server's parameters, in preallocated memory (the
/// pure cost of the hash, with no allocation in the way), over 31 runs.
/// Registers `bench0` .. `bench<accounts - 1>`.
async fn register(
    client: &reqwest::Client,
    server: &Server,
    accounts: usize,
) -> anyhow::Result<()> {
    for i in 0..accounts {
        let response = client
            .post(server.url("/api/v1/auth/register"))
            .json(
                &json!({"email": format!("bench{i}@example.com"), "username": format!("bench{i}"),
                "password": PASSWORD, "first_name": "Load", "last_name": "Tester"}),
            )
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 201,
            "register failed: {}",
            response.status()
        );
    }
    Ok(())
}

/// `n` logins sent at once; how many succeeded.
async fn burst(
    client: &reqwest::Client,
    server: &Server,
    n: usize,
    accounts: usize,
) -> anyhow::Result<usize> {
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
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
    Ok(burst_ok)
}

/// Median answer times of "forgot password" for known and unknown addresses, interleaved (the
/// answer must not tell them apart).
async fn forgot_medians(
    client: &reqwest::Client,
    server: &Server,
    accounts: usize,
) -> anyhow::Result<(f64, f64)> {
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..accounts {
        for (email, times) in [
            (format!("bench{i}@example.com"), &mut known),
            (format!("nobody{i}@example.com"), &mut unknown),
        ] {
            let started = Instant::now();
            let response = client
                .post(server.url("/api/v1/auth/password/forgot"))
                .header(
                    "x-forwarded-for",
                    format!("10.1.{}.{}", i / 250, times.len() % 250 + 1),
                )
                .json(&json!({ "email": email }))
                .send()
                .await?;
            anyhow::ensure!(response.status() == 202, "forgot: {}", response.status());
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    Ok((median(&mut known), median(&mut unknown)))
}

fn single_hash_seconds() -> anyhow::Result<f64> {
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut memory = vec![Block::default(); params.block_count()];
    let mut out = [0u8; 32];
    let mut samples = Vec::with_capacity(31);
    for _ in 0..31 {
        let started = Instant::now();
        argon2
            .hash_password_into_with_memory(
                PASSWORD.as_bytes(),
                b"benchmark-salt-16",
                &mut out,
                &mut memory,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        samples.push(started.elapsed().as_secs_f64());
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

/// Hashes per second with `threads` threads hashing at once and nothing else running.
fn parallel_hash_rate(threads: usize, duration: Duration) -> f64 {
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let params = Params::default();
                let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                let mut memory = vec![Block::default(); params.block_count()];
                let mut out = [0u8; 32];
                let mut count = 0u64;
                while started.elapsed() < duration {
                    if argon2
                        .hash_password_into_with_memory(
                            PASSWORD.as_bytes(),
                            b"benchmark-salt-16",
                            &mut out,
                            &mut memory,
                        )
                        .is_ok()
                    {
                        count += 1;
                    }
                }
                count
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    total as f64 / started.elapsed().as_secs_f64()
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
            // Bodies made once: the generator's CPU is taken from the server's.
            let bodies: Vec<Vec<u8>> = (0..accounts)
                .map(|a| {
                    json!({"login": format!("bench{a}"), "password": PASSWORD})
                        .to_string()
                        .into_bytes()
                })
                .collect();
            let mut i = worker;
            while Instant::now() < deadline {
                let request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(bodies[i % accounts].clone());
                match request.send().await {
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
