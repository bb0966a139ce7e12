//! While the database cannot be reached, every request is a 503 problem+json with Retry-After (not a
//! 500 after a long wait), the readiness probe says so, and the API recovers by itself when the
//! database is back. On PostgreSQL and MySQL/MariaDB: an embedded SQLite file has no outage of this
//! kind.
use std::net::SocketAddr;

use lms_e2e::proxy::Proxy;
use lms_e2e::{Backend, TestApp, TestDb};
use serde_json::{Value, json};

/// `scheme://user:pass@host:port/db?x` with host:port replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = rest.rsplit_once('@').map_or(("", rest), |(c, r)| (c, r));
    let path = &rest[rest.find('/').unwrap_or(rest.len())..];
    let at = if credentials.is_empty() { "" } else { "@" };
    format!("{scheme}://{credentials}{at}{addr}{path}")
}

fn server_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host_port = &rest[..rest.find('/').unwrap_or(rest.len())];
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port.parse().unwrap()
}

async fn assert_unavailable(response: reqwest::Response) {
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let content_type = response.headers().get("content-type").cloned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 503, "{body}");
    assert!(retry_after.is_some(), "503 without Retry-After: {body}");
    assert_eq!(content_type.unwrap(), "application/problem+json");
    assert!(
        !body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Connection"),
        "no internals in the answer: {body}"
    );
}

lms_e2e::shared_database_tests!(while_the_database_is_unreachable_requests_get_503_and_recover);

async fn while_the_database_is_unreachable_requests_get_503_and_recover(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let proxy = Proxy::start(server_of(&test_db.url)).await;
    let url = through(&test_db.url, proxy.addr);
    let app = TestApp::spawn_on(test_db, |c| c.database_url = url).await;
    let register = json!({"email": "kim@example.com", "username": "kim", "password": "velvet thunder 42 kite",
        "first_name": "Kim", "last_name": "Lee"});
    assert_eq!(
        app.post_json("/api/v1/auth/register", &register)
            .await
            .status(),
        201
    );

    proxy.cut().await;
    assert_unavailable(app.get("/health/ready").await).await;
    assert_unavailable(app.get("/api/v1/courses").await).await;
    let login = json!({"login": "kim", "password": "velvet thunder 42 kite"});
    assert_unavailable(app.post_json("/api/v1/auth/login", &login).await).await;
    assert_eq!(
        app.get("/health/live").await.status(),
        200,
        "the process itself is fine"
    );

    proxy.restore().await;
    let mut recovered = false;
    for _ in 0..50 {
        if app.get("/health/ready").await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the API did not recover after the database came back"
    );
    assert_eq!(
        app.post_json("/api/v1/auth/login", &login).await.status(),
        200
    );
    assert_eq!(app.get("/api/v1/courses").await.status(), 200);
}
