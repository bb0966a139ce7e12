//! The backup `run` takes of the target before it changes anything: SQLite, a consistent copy of the
//! file (`VACUUM INTO`); PostgreSQL, `pg_dump` in custom format (restore with `pg_restore`);
//! MySQL/MariaDB, `mariadb-dump` (or `mysqldump`) in one consistent transaction. Passwords go to the
//! tools through their environment variables, never on the command line.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use chrono::Utc;
use lms_core::db::Backend;
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// Writes the backup into `dir` and returns its path.
pub async fn take(db: &DatabaseConnection, url: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the backup directory {}", dir.display()))?;
    // Milliseconds, and a counter if even that is taken: two runs never share a file.
    let now = Utc::now().format("%Y%m%dT%H%M%S%3fZ").to_string();
    let stamp = (0..)
        .map(|n| {
            if n == 0 {
                now.clone()
            } else {
                format!("{now}-{n}")
            }
        })
        .find(|s| {
            ["db", "pgdump", "sql"]
                .iter()
                .all(|ext| !dir.join(format!("lms-backup-{s}.{ext}")).exists())
        })
        .expect("an unbounded search finds a free name");
    match Backend::of(db)? {
        Backend::Sqlite => {
            let path = dir.join(format!("lms-backup-{stamp}.db"));
            let quoted = path.display().to_string().replace('\'', "''");
            db.execute_unprepared(&format!("VACUUM INTO '{quoted}'"))
                .await
                .context("copying the SQLite database (VACUUM INTO) failed")?;
            Ok(path)
        }
        Backend::Postgres => {
            let path = dir.join(format!("lms-backup-{stamp}.pgdump"));
            let parsed = url::Url::parse(url).context("the database URL is not a URL")?;
            let mut without_password = parsed.clone();
            let _ = without_password.set_password(None);
            let mut command = Command::new("pg_dump");
            command
                .arg("--format=custom")
                .arg("--file")
                .arg(&path)
                .arg("--dbname")
                .arg(without_password.as_str());
            if let Some(password) = parsed.password() {
                command.env("PGPASSWORD", decode(password));
            }
            run(command, "pg_dump", &path)?;
            Ok(path)
        }
        Backend::MySql => {
            let path = dir.join(format!("lms-backup-{stamp}.sql"));
            let parsed = url::Url::parse(url).context("the database URL is not a URL")?;
            let database = parsed.path().trim_start_matches('/').to_string();
            anyhow::ensure!(!database.is_empty(), "the database URL names no database");
            let tool = ["mariadb-dump", "mysqldump"]
                .into_iter()
                .find(|tool| which(tool))
                .unwrap_or("mariadb-dump");
            let mut command = Command::new(tool);
            command
                .arg("--single-transaction")
                .arg("--routines")
                .arg("--protocol=tcp")
                .arg(format!(
                    "--host={}",
                    parsed.host_str().unwrap_or("127.0.0.1")
                ))
                .arg(format!("--port={}", parsed.port().unwrap_or(3306)))
                .arg(format!("--user={}", decode(parsed.username())))
                .arg(format!("--result-file={}", path.display()))
                .arg(&database);
            if let Some(password) = parsed.password() {
                command.env("MYSQL_PWD", decode(password));
            }
            run(command, tool, &path)?;
            Ok(path)
        }
    }
}

/// A user name or password as the URL percent-encodes it, decoded.
fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

fn run(mut command: Command, tool: &str, path: &Path) -> anyhow::Result<()> {
    let output = command.output().map_err(|e| {
        anyhow::anyhow!(
            "cannot run {tool} to back up the database first ({e}): install it (PostgreSQL: \
             postgresql-client; MySQL/MariaDB: mariadb-client) or pass --no-backup"
        )
    })?;
    if !output.status.success() {
        let _ = std::fs::remove_file(path);
        anyhow::bail!(
            "{tool} failed, so nothing was imported: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
