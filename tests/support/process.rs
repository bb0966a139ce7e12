//! The real `api` binary as a separate process (for what only separate processes show, such as
//! signals between instances through PostgreSQL).
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{TestApp, bin};

/// A running `api` process; killed when dropped.
pub struct ApiProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl ApiProcess {
    /// Starts `api` on `app`'s database with `app`'s secret (so its tokens are valid here too) and
    /// extra environment, and waits until it is ready.
    pub fn beside(app: &TestApp, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(bin("api"));
        command
            .env("DATABASE_URL", &app.test_db.url)
            .env("LMS_SECRET_KEY", app.secret())
            .env("LMS_BIND", "127.0.0.1:0")
            .env("LMS_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start the api binary");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let address = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the api process reports that it is ready");
            let Ok(log) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if log["fields"]["message"] == "LMS API ready" {
                break log["fields"]["address"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
        };
        Self {
            child,
            base: format!("http://{address}"),
        }
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
