//! The real `api` binary: starts with nothing configured, migrates, serves, stops on SIGTERM.
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use lms_e2e::bin;
use serde_json::Value;

#[tokio::test]
async fn the_binary_creates_the_embedded_database_serves_docs_and_stops_on_sigterm() {
    let cwd = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin("api"))
        .current_dir(cwd.path())
        .env_remove("DATABASE_URL")
        .env("LMS_BIND", "127.0.0.1:0")
        .env("LMS_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let address = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the API logs that it is ready");
        let Ok(log) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if log["fields"]["message"] == "LMS API ready" {
            assert_eq!(log["fields"]["database"], "sqlite://lms.db");
            break log["fields"]["address"].as_str().unwrap().to_string();
        }
    };
    assert!(
        cwd.path().join("lms.db").exists(),
        "the embedded SQLite file was created"
    );

    let client = reqwest::Client::new();
    let docs = client
        .get(format!("http://{address}/docs/"))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let ready: Value = client
        .get(format!("http://{address}/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ok");

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}

/// A child process that is killed when dropped, even when the test panics.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real `api` binary on `url` and returns it with the address it listens on.
fn start_api(url: &str, cwd: &std::path::Path) -> (Killed, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(bin("api"))
        .current_dir(cwd)
        .env("DATABASE_URL", url)
        .env(
            "LMS_SECRET_KEY",
            "a-test-secret-that-is-long-enough-0123456789",
        )
        .env("LMS_BIND", "127.0.0.1:0")
        .env("LMS_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Killed(child), rx)
}

async fn two_instances_starting_together_both_become_ready(backend: lms_e2e::Backend) {
    let test_db = lms_e2e::TestDb::new(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let mut instances = vec![
        start_api(&test_db.url, cwd.path()),
        start_api(&test_db.url, cwd.path()),
    ];
    for (child, logs) in &mut instances {
        loop {
            let line = match logs.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => line,
                Err(_) => panic!(
                    "an instance did not become ready; exit status {:?}",
                    child.0.try_wait()
                ),
            };
            if line.contains("LMS API ready") {
                break;
            }
            assert!(!line.contains("refusing to start"), "{line}");
        }
    }
    drop(instances);
    let db = test_db.connect().await;
    use migration::MigratorTrait;
    assert!(
        migration::Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
}

lms_e2e::backend_tests!(two_instances_starting_together_both_become_ready);
