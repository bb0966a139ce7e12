//! Support for the end-to-end tests: a fresh database per test on SQLite or PostgreSQL, the real app on
//! port 0, the real binaries, and a schema snapshot to compare databases with.
//!
//! PostgreSQL tests need `TEST_POSTGRES_URL` (a role allowed to CREATE DATABASE); `scripts/test.sh`
//! starts a throwaway server and sets it. Logs are silent unless `TEST_LOG=1`.
use std::path::PathBuf;
use std::sync::Once;

pub mod app;
pub mod db;
pub mod process;
pub mod proxy;
pub mod schema;
pub mod totp;
pub mod ws;

pub use app::TestApp;
pub use db::TestDb;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// MariaDB/MySQL (`TEST_MYSQL_URL`).
    MySql,
}

/// Runs each named `async fn name(backend: Backend)` of the calling module once per backend, as
/// `sqlite::name`, `postgres::name` and `mysql::name`, so the output shows each.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        $crate::tests_on!(sqlite, Sqlite; $($name),+);
        $crate::tests_on!(postgres, Postgres; $($name),+);
        $crate::tests_on!(mysql, MySql; $($name),+);
    };
}

/// For behaviour that only one kind of database has: `only_mysql::name`, or the tests of transactional
/// schema changes (SQLite and PostgreSQL; MySQL commits DDL statement by statement) as
/// `transactional_ddl::{sqlite, postgres}::name`.
#[macro_export]
macro_rules! mysql_tests {
    ($($name:ident),+ $(,)?) => {
        $crate::tests_on!(only_mysql, MySql; $($name),+);
    };
}

#[macro_export]
macro_rules! transactional_ddl_tests {
    ($($name:ident),+ $(,)?) => {
        mod transactional_ddl {
            use super::*;
            $crate::tests_on!(sqlite, Sqlite; $($name),+);
            $crate::tests_on!(postgres, Postgres; $($name),+);
        }
    };
}

/// For several API instances on one database server (PostgreSQL and MySQL/MariaDB; SQLite serves one
/// instance), as `shared::{postgres, mysql}::name`.
#[macro_export]
macro_rules! shared_database_tests {
    ($($name:ident),+ $(,)?) => {
        mod shared {
            use super::*;
            $crate::tests_on!(postgres, Postgres; $($name),+);
            $crate::tests_on!(mysql, MySql; $($name),+);
        }
    };
}

/// For database servers (PostgreSQL and MySQL/MariaDB) as `server::{postgres, mysql}::name`: what an
/// embedded SQLite file has no counterpart for, such as roles and grants.
#[macro_export]
macro_rules! server_database_tests {
    ($($name:ident),+ $(,)?) => {
        mod server {
            use super::*;
            $crate::tests_on!(postgres, Postgres; $($name),+);
            $crate::tests_on!(mysql, MySql; $($name),+);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! tests_on {
    ($module:ident, $backend:ident; $($name:ident),+) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::$backend).await
                }
            )+
        }
    };
}

/// Path of a workspace binary (`migration`, `api`, `seeder`) next to the test executable.
/// `scripts/test.sh` builds them before running the tests.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile> directory");
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} does not exist: build the binaries first (cargo build --workspace --bins, as scripts/test.sh does)",
        path.display()
    );
    path
}

/// The standard output of a process that must have succeeded; otherwise a panic showing both streams.
pub fn succeeded(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Turns on log output for a test run when TEST_LOG=1.
pub fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
            api::telemetry::init(api::config::LogFormat::Text);
        }
    });
}
