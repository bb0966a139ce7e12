//! The SMTP transport (lettre) against a real SMTP server on loopback: Python's standard-library
//! `smtpd` DebuggingServer, which prints every message it receives.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use lms_core::mail::Mailer;
use lms_e2e::{Backend, TestApp, backend_tests};
use serde_json::json;

backend_tests!(verification_mail_goes_out_over_smtp_and_its_link_works);

struct SmtpServer {
    child: Child,
    lines: Receiver<String>,
    port: u16,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_smtp_server() -> SmtpServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("python3")
        .args([
            "-u",
            "-W",
            "ignore",
            "-m",
            "smtpd",
            "-n",
            "-c",
            "DebuggingServer",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 with the smtpd module (Python 3.11 ships it) runs the local SMTP server");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Wait until it accepts connections.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the SMTP server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    SmtpServer { child, lines, port }
}

async fn verification_mail_goes_out_over_smtp_and_its_link_works(backend: Backend) {
    let server = start_smtp_server();
    let mailer = Mailer::smtp(
        &format!("smtp://127.0.0.1:{}", server.port),
        "LMS <no-reply@lms.test>",
    )
    .unwrap();
    let app = TestApp::spawn_with_mailer(backend, mailer).await;
    let registered = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "ada@example.com", "username": "ada",
            "password": crate::common::PASSWORD, "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    assert_eq!(registered.status(), 201);

    // Collect the message as the server printed it, up to its end marker.
    let mut message = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = server
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the email arrives");
        if line.contains("END MESSAGE") {
            break;
        }
        // DebuggingServer prints each line as a Python bytes literal: b'...'.
        let unwrapped = line
            .strip_prefix("b'")
            .and_then(|l| l.strip_suffix('\''))
            .unwrap_or(&line);
        message.push(unwrapped.to_string());
    }
    let text = message.join("\n");
    assert!(
        text.contains("Subject: Confirm your email address"),
        "{text}"
    );
    assert!(text.contains("To: ada@example.com"), "{text}");
    // The body may be quoted-printable: undo soft line breaks and the =3D escape of '='.
    let body = text.replace("=\n", "").replace("=3D", "=");
    let start = body
        .find("verify-email?token=")
        .expect("the link is in the body")
        + "verify-email?token=".len();
    let token: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "a 32-byte base64url token: {body}");
    let verified = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(verified.status(), 204);
}
