//! The real application, started in-process on port 0 against a fresh database.
use std::net::SocketAddr;

use api::{Application, Config};
use lms_core::mail::{Email, Mailer};
use reqwest::{Client, Response};
use sea_orm::DatabaseConnection;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::{Backend, TestDb};

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: Client,
    /// The app's own pool (shared with its handlers).
    pub db: DatabaseConnection,
    pub test_db: TestDb,
    /// Everything the app has sent by email.
    pub mailer: Mailer,
    secret: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the app after `configure` has adjusted the test configuration.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_on(TestDb::new(backend).await, configure).await
    }

    /// Starts the app on an existing test database (for example one a CLI has filled).
    pub async fn spawn_on(test_db: TestDb, configure: impl FnOnce(&mut Config)) -> Self {
        Self::start(test_db, configure, Mailer::memory()).await
    }

    /// A second instance of the app on this app's database (as when several API processes share
    /// one PostgreSQL), with the same secret so tokens of one are valid on the other.
    pub async fn another_instance(&self, configure: impl FnOnce(&mut Config)) -> Self {
        let secret = self.secret.clone();
        Self::start(
            self.test_db.shared(),
            move |c| {
                c.secret_key = Some(secret);
                configure(c)
            },
            Mailer::memory(),
        )
        .await
    }

    /// Starts the app sending mail through `mailer` (e.g. real SMTP to a local server).
    pub async fn spawn_with_mailer(backend: Backend, mailer: Mailer) -> Self {
        Self::start(TestDb::new(backend).await, |_| {}, mailer).await
    }

    async fn start(test_db: TestDb, configure: impl FnOnce(&mut Config), mailer: Mailer) -> Self {
        crate::init_logs();
        let mut config = Config::new(test_db.url.clone());
        config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        config.db_max_connections = 8;
        config.secret_key = Some(hex_secret());
        config.password_hash_concurrency = Some(2);
        configure(&mut config);
        let secret = config.secret_key.clone().unwrap_or_default();
        let app = Application::build_with_mailer(config, mailer.clone())
            .await
            .expect("the application starts");
        let addr = app.local_addr();
        let db = app.state().db.clone();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(app.run_until_stopped(async {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            base: format!("http://{addr}"),
            client: Client::builder().build().expect("http client"),
            db,
            test_db,
            mailer,
            secret,
            shutdown: Some(tx),
        }
    }

    /// The emails sent to `to`, oldest first.
    pub fn emails_to(&self, to: &str) -> Vec<Email> {
        self.mailer
            .sent()
            .into_iter()
            .filter(|e| e.to == to)
            .collect()
    }

    /// The server secret this app signs tokens with.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }
}

fn hex_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts an RFC 9457 problem response with this status and returns its body.
pub async fn assert_problem(response: Response, status: u16) -> Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(
        content_type, "application/problem+json",
        "content type of a {status}"
    );
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status, "status field of {body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:lms:problem:")),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}
