//! The real `api` binary, started as its own process on a free loopback port.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `api` on `database_url` (a fresh SQLite file when None) with extra environment.
    pub fn start(database_url: Option<&str>, env: &[(&str, String)]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let url = match database_url {
            Some(url) => url.to_string(),
            None => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
        };
        let mut command = Command::new(crate::sibling_binary("api")?);
        command
            .current_dir(dir.path())
            .env("DATABASE_URL", url)
            .env("LMS_BIND", "127.0.0.1:0")
            .env("LMS_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn,api::startup=info")
            .env("LMS_SECRET_KEY", SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn()?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let address = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .map_err(|_| anyhow::anyhow!("the API did not report that it is ready"))?;
            let Ok(log) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if log["fields"]["message"] == "LMS API ready" {
                break log["fields"]["address"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
        };
        Ok(Self {
            child,
            base: format!("http://{address}"),
            _dir: dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Peak resident memory of the server process so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.child.id(), "VmHWM:")
    }

    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.child.id(), "VmRSS:")
    }
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server secret every benchmark's API and CLIs share.
pub const SECRET: &str = "benchmark-secret-0123456789abcdef0123456789";

/// `api create-admin` on `url`: the `benchadmin` account with `password`.
pub fn create_admin(url: &str, password: &str) -> anyhow::Result<()> {
    let out = Command::new(crate::sibling_binary("api")?)
        .args([
            "create-admin",
            "--email",
            "admin@bench.test",
            "--username",
            "benchadmin",
        ])
        .env("DATABASE_URL", url)
        .env("LMS_ADMIN_PASSWORD", password)
        .env("LMS_SECRET_KEY", SECRET)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "create-admin: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Sends `request`, requires `expect`, and answers the JSON body.
pub async fn json_call(
    request: reqwest::RequestBuilder,
    expect: u16,
    what: &str,
) -> anyhow::Result<serde_json::Value> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    anyhow::ensure!(status == expect, "{what}: {status} {body}");
    Ok(body)
}

/// The `p`-th percentile of sorted samples (NaN when there are none).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// What a load run measured: requests per second, latency percentiles, failed requests.
pub struct Rate {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

impl Rate {
    /// From each successful request's latency (ms, any order), the run's length and the failures.
    pub fn of(mut latencies: Vec<f64>, elapsed: std::time::Duration, errors: u64) -> Self {
        latencies.sort_by(f64::total_cmp);
        Self {
            rate: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: percentile(&latencies, 50.0),
            p99_ms: percentile(&latencies, 99.0),
            errors,
        }
    }
}
