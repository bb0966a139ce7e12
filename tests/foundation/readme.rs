//! The README's walk runs as written: its blocks marked `<!-- readme-walk -->` (the admin bootstrap,
//! the curl session, two-factor sign-in, a course from draft to certificate, a live session), read from
//! README.md (not copied here), run in order by bash against a fresh API, on each backend.
use lms_e2e::{Backend, TestApp, backend_tests};

backend_tests!(the_readme_walk_runs_as_written);

/// The shell blocks that follow a `<!-- readme-walk -->` line, in order.
fn walk_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- readme-walk -->" {
            continue;
        }
        let fence = lines.next().unwrap_or_default();
        assert_eq!(
            fence.trim(),
            "```sh",
            "a readme-walk marker must precede a ```sh block"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        blocks.push(block.join("\n"));
    }
    blocks
}

async fn the_readme_walk_runs_as_written(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks = walk_blocks(&readme);
    assert!(blocks.len() >= 3, "the README lost its walk");
    // `cargo run -p api --` is the built binary, on the test app's database and secret.
    let api = lms_e2e::bin("api");
    let script = format!(
        "export DATABASE_URL='{}' LMS_SECRET_KEY='{}'\n{}",
        app.test_db.url,
        app.secret(),
        blocks.join("\n")
    )
    .replace("http://127.0.0.1:8080", &app.base)
    .replace("cargo run -p api --", &api.display().to_string());
    let cwd = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(cwd.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("\"mfa_required\":true"), "{stdout}");
    assert!(stdout.contains("created admin root"), "{stdout}");
    assert!(
        stdout.contains("\"recovery_codes_remaining\":9"),
        "{stdout}"
    );
    // The curriculum walk ends with a verifiable certificate earned from lessons.
    assert!(
        stdout.contains("\"course_title\":\"Geometry for Astronomers\""),
        "{stdout}"
    );
    assert!(stdout.contains("\"via\":\"video\""), "{stdout}");
    // The live-session walk: a room to join, and an attendance row for Hypatia in the CSV.
    assert!(
        stdout.contains("\"room_url\":\"https://meet.jit.si/lms-"),
        "{stdout}"
    );
    assert!(
        stdout.contains("user_id,name,email,moderator,first_joined_at"),
        "{stdout}"
    );
    assert!(
        stdout.contains(",Hypatia Alexandria,hypatia@example.com,false,"),
        "{stdout}"
    );
}
