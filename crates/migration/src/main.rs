//! `migration`: apply, roll back and inspect the LMS schema migrations.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use migration::{DEFAULT_DATABASE_URL, Migrator, MigratorTrait, PoolOptions, connect, redact_url};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigrationStatus;

mod generate;

#[derive(Parser)]
#[command(
    name = "migration",
    version,
    about = "Apply, roll back and inspect the LMS database migrations",
    long_about = "Apply, roll back and inspect the LMS database migrations.\n\n\
        Works on SQLite (sqlite://path?mode=rwc) and PostgreSQL (postgres://user:pass@host/db). \
        Without DATABASE_URL it uses the same embedded SQLite file as the API (./lms.db). \
        Applied migrations are recorded in the seaql_migrations table.",
    after_help = "Examples:\n  migration up\n  migration status\n  migration down -n 8\n  \
        DATABASE_URL=postgres://lms:secret@127.0.0.1/lms migration up"
)]
struct Cli {
    /// Database URL; `.env` is read too.
    #[arg(short = 'u', long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true, hide_env_values = true)]
    database_url: String,

    /// Print what each migration does as it runs.
    #[arg(short, long, global = true)]
    verbose: bool,

    /// Seconds to wait for another run's migration lock (PostgreSQL advisory lock; SQLite lock file).
    #[arg(long, default_value_t = 300, global = true)]
    lock_timeout: u64,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, oldest first (the default command).
    Up {
        /// Apply at most N migrations.
        #[arg(short = 'n', long = "num", conflicts_with = "to")]
        num: Option<u32>,
        /// Apply pending migrations up to and including NAME.
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
    },
    /// Roll back applied migrations, newest first.
    Down {
        /// Roll back N migrations (default 1).
        #[arg(short = 'n', long = "num", conflicts_with = "to")]
        num: Option<u32>,
        /// Roll back every migration newer than NAME (NAME stays applied).
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
    },
    /// List every migration in order with its state (applied, with when, or pending).
    Status {
        /// Exit non-zero when any migration is pending (for deploy pipelines).
        #[arg(long)]
        check: bool,
    },
    /// Drop every table in the database (not only ours), then apply all migrations. Destroys data.
    Fresh,
    /// Roll back every applied migration, then apply all of them again. Destroys data.
    Refresh,
    /// Roll back every applied migration. Destroys data.
    Reset,
    /// Create crates/migration/src/mNNNN_<name>.rs from a template and register it in the Migrator.
    Generate {
        /// snake_case name, e.g. add_timezone_to_users
        name: String,
        /// Folder holding the migration sources (defaults to this crate's src/).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let command = cli.command.unwrap_or(Command::Up {
        num: None,
        to: None,
    });
    if let Command::Generate { name, dir } = &command {
        let dir = dir.clone().unwrap_or_else(default_source_dir);
        let file = generate::generate(&dir, name).map_err(|e| e.to_string())?;
        println!("created {}", file.display());
        return Ok(());
    }

    let target = redact_url(&cli.database_url);
    let db = connect(&cli.database_url, &PoolOptions::default())
        .await
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    let fail = |what: &str| {
        let (what, target) = (what.to_string(), target.clone());
        move |e: sea_orm::DbErr| format!("{what} failed on {target}: {e}")
    };
    let timeout = std::time::Duration::from_secs(cli.lock_timeout);
    let url = cli.database_url.clone();
    match command {
        Command::Up { num, to } => {
            let steps = match to {
                Some(name) => Some(steps_up_to(&db, &name).await.map_err(fail("up"))?),
                None => num,
            };
            if steps != Some(0) {
                migration::with_migration_lock(&db, &url, timeout, || Migrator::up(&db, steps))
                    .await
                    .map_err(fail("up"))?;
            }
        }
        Command::Down { num, to } => {
            let steps = match to {
                Some(name) => steps_down_to(&db, &name).await.map_err(fail("down"))?,
                None => num.unwrap_or(1),
            };
            if steps > 0 {
                migration::with_migration_lock(&db, &url, timeout, || {
                    Migrator::down(&db, Some(steps))
                })
                .await
                .map_err(fail("down"))?;
            }
        }
        Command::Status { check } => {
            let pending = print_status(&db).await.map_err(fail("status"))?;
            if check && pending > 0 {
                return Err(format!("{pending} migration(s) pending"));
            }
        }
        Command::Fresh => {
            migration::with_migration_lock(&db, &url, timeout, || Migrator::fresh(&db))
                .await
                .map_err(fail("fresh"))?
        }
        Command::Refresh => {
            migration::with_migration_lock(&db, &url, timeout, || Migrator::refresh(&db))
                .await
                .map_err(fail("refresh"))?
        }
        Command::Reset => {
            migration::with_migration_lock(&db, &url, timeout, || Migrator::reset(&db))
                .await
                .map_err(fail("reset"))?
        }
        Command::Generate { .. } => unreachable!("handled above"),
    }
    Ok(())
}

fn position(name: &str) -> Result<usize, sea_orm::DbErr> {
    Migrator::migrations()
        .iter()
        .position(|m| m.name() == name)
        .ok_or_else(|| {
            sea_orm::DbErr::Custom(format!(
                "no migration named {name:?} (see `migration status`)"
            ))
        })
}

/// How many pending migrations lie up to and including `name`.
async fn steps_up_to(db: &DatabaseConnection, name: &str) -> Result<u32, sea_orm::DbErr> {
    let target = position(name)?;
    let migrations = Migrator::get_migration_with_status(db).await?;
    Ok(migrations[..=target]
        .iter()
        .filter(|m| m.status() == MigrationStatus::Pending)
        .count() as u32)
}

/// How many applied migrations come after `name`.
async fn steps_down_to(db: &DatabaseConnection, name: &str) -> Result<u32, sea_orm::DbErr> {
    let target = position(name)?;
    let migrations = Migrator::get_migration_with_status(db).await?;
    Ok(migrations[target + 1..]
        .iter()
        .filter(|m| m.status() == MigrationStatus::Applied)
        .count() as u32)
}

/// Prints the status table; returns how many migrations are pending.
async fn print_status(db: &DatabaseConnection) -> Result<usize, sea_orm::DbErr> {
    let migrations = Migrator::get_migration_with_status(db).await?;
    let applied_at: std::collections::HashMap<String, i64> = Migrator::get_migration_models(db)
        .await?
        .into_iter()
        .map(|m| (m.version, m.applied_at))
        .collect();
    let width = migrations
        .iter()
        .map(|m| m.name().len())
        .max()
        .unwrap_or(9)
        .max(9);
    println!("{:<width$}  {:<8}  applied at (UTC)", "migration", "status");
    let mut pending = 0;
    for m in &migrations {
        let (state, when) = match m.status() {
            MigrationStatus::Applied => {
                let when = applied_at
                    .get(m.name())
                    .and_then(|secs| chrono::DateTime::from_timestamp(*secs, 0))
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                ("applied", when)
            }
            MigrationStatus::Pending => {
                pending += 1;
                ("pending", String::new())
            }
        };
        println!("{:<width$}  {state:<8}  {when}", m.name());
    }
    println!(
        "{} migrations: {} applied, {pending} pending",
        migrations.len(),
        migrations.len() - pending
    );
    Ok(pending)
}

fn default_source_dir() -> PathBuf {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    if built_from.is_dir() {
        built_from
    } else {
        PathBuf::from("crates/migration/src")
    }
}

fn init_tracing(verbose: bool) {
    let filter = if verbose {
        "sea_orm_migration=debug,sqlx=info"
    } else {
        "sea_orm_migration=info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .with_level(false)
        .without_time()
        .init();
}
