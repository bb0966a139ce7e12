//! How long a revocation takes to reach another instance: a student signs in, reads a course's chat
//! through instance B (so B caches the session), logs out through instance A, then reads through B
//! again and again until B refuses. The delay counts from the moment A answered the logout.
use std::time::{Duration, Instant};

use serde_json::json;

use crate::server::Server;

pub struct Revocation {
    pub trials: usize,
    /// Milliseconds from A's answer to B's first refusal, sorted.
    pub delays_ms: Vec<f64>,
    /// Requests B still allowed after A had answered, at most.
    pub most_allowed: usize,
}

pub async fn measure(
    client: &reqwest::Client,
    a: &Server,
    b: &Server,
    login: &str,
    password: &str,
    course: i64,
    trials: usize,
) -> anyhow::Result<Revocation> {
    let history = b.url(&format!("/api/v1/courses/{course}/messages?limit=1"));
    let mut delays_ms = Vec::new();
    let mut most_allowed = 0;
    for _ in 0..trials {
        let tokens: serde_json::Value = client
            .post(a.url("/api/v1/auth/login"))
            .json(&json!({"login": login, "password": password}))
            .send()
            .await?
            .json()
            .await?;
        let token = tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let warm = client.get(&history).bearer_auth(&token).send().await?;
        anyhow::ensure!(warm.status() == 200, "history on B: {}", warm.status());
        let out = client
            .post(a.url("/api/v1/auth/logout"))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(out.status() == 204, "logout on A: {}", out.status());
        let answered = Instant::now();
        let mut allowed = 0;
        loop {
            let status = client
                .get(&history)
                .bearer_auth(&token)
                .send()
                .await?
                .status();
            if status == 401 {
                break;
            }
            allowed += 1;
            anyhow::ensure!(
                answered.elapsed() < Duration::from_secs(30),
                "B still allowed a logged-out session after 30 s"
            );
        }
        delays_ms.push(answered.elapsed().as_secs_f64() * 1000.0);
        most_allowed = most_allowed.max(allowed);
    }
    delays_ms.sort_by(f64::total_cmp);
    Ok(Revocation {
        trials,
        delays_ms,
        most_allowed,
    })
}
