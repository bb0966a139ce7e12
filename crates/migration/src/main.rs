//! `migration`: apply, roll back and inspect the LMS schema migrations.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use migration::{
    DEFAULT_DATABASE_URL, Migrator, MigratorTrait, PoolOptions, connect, redact_url, runner,
};
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
    /// Apply pending migrations, oldest first, recording each one's SQL checksum and duration (the
    /// default command). Refuses when an applied migration changed since it ran.
    Up {
        /// Apply at most N migrations.
        #[arg(short = 'n', long = "num", conflicts_with = "to")]
        num: Option<u32>,
        /// Apply pending migrations up to and including NAME.
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
        /// Print the SQL that would run, in order, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Migrate even though applied migrations changed since they ran. (Missing ones always refuse.)
        #[arg(long)]
        allow_changed: bool,
    },
    /// Roll back applied migrations, newest first.
    Down {
        /// Roll back N migrations (default 1).
        #[arg(short = 'n', long = "num", conflicts_with = "to")]
        num: Option<u32>,
        /// Roll back every migration newer than NAME (NAME stays applied).
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
        /// Print the SQL that would run, in order, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List every migration in order: applied (when, how long), pending, changed since it was applied
    /// (its SQL checksum differs), or missing (applied, but not in this build).
    Status {
        /// Exit non-zero when anything is pending, changed or missing (for deploy pipelines).
        #[arg(long)]
        check: bool,
    },
    /// Compare the live schema with what the applied migrations define (tables, columns, keys, foreign
    /// keys, checks, indexes); print the differences and exit non-zero on drift.
    Verify,
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
        dry_run: false,
        allow_changed: false,
    });
    if let Command::Generate { name, dir } = &command {
        let dir = dir.clone().unwrap_or_else(default_source_dir);
        let file = generate::generate(&dir, name).map_err(|e| e.to_string())?;
        println!("created {}", file.display());
        return Ok(());
    }
    let target = redact_url(&cli.database_url);
    let db = connect(
        &cli.database_url,
        &PoolOptions::for_migrations(&cli.database_url),
    )
    .await
    .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    let run = Run {
        db,
        url: cli.database_url.clone(),
        target,
        lock_timeout: std::time::Duration::from_secs(cli.lock_timeout),
    };
    match command {
        Command::Up {
            num,
            to,
            dry_run,
            allow_changed,
        } => run.up(num, to, dry_run, allow_changed).await,
        Command::Down { num, to, dry_run } => run.down(num, to, dry_run).await,
        Command::Status { check } => run.status(check).await,
        Command::Fresh => {
            run.locked("fresh", || async {
                Migrator::fresh(&run.db).await?;
                runner::forget_unapplied(&run.db).await
            })
            .await
        }
        Command::Refresh => {
            run.locked("refresh", || async {
                runner::down(&run.db, u32::MAX).await?;
                runner::up(&run.db, None, false).await.map(drop)
            })
            .await
        }
        Command::Reset => {
            run.locked("reset", || async {
                runner::down(&run.db, u32::MAX).await.map(drop)
            })
            .await
        }
        Command::Verify => run.verify().await,
        Command::Generate { .. } => Ok(()),
    }
}

/// One CLI run against one database.
struct Run {
    db: DatabaseConnection,
    url: String,
    /// The database URL without its password, for messages.
    target: String,
    lock_timeout: std::time::Duration,
}

impl Run {
    fn fail(&self, what: &str) -> impl Fn(sea_orm::DbErr) -> String + use<> {
        let (what, target) = (what.to_string(), self.target.clone());
        move |e| format!("{what} failed on {target}: {e}")
    }

    /// Runs `work` under the migration lock.
    async fn locked<T, F, Fut>(&self, what: &str, work: F) -> Result<T, String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, sea_orm::DbErr>>,
    {
        migration::with_run_lock(&self.db, &self.url, self.lock_timeout, work)
            .await
            .map_err(self.fail(what))
    }

    async fn up(
        &self,
        num: Option<u32>,
        to: Option<String>,
        dry_run: bool,
        allow_changed: bool,
    ) -> Result<(), String> {
        let steps = match to {
            Some(name) => Some(
                steps_up_to(&self.db, &name)
                    .await
                    .map_err(self.fail("up"))?,
            ),
            None => num,
        };
        if dry_run {
            return dry_run_up(&self.db, steps)
                .await
                .map_err(self.fail("up --dry-run"));
        }
        if steps == Some(0) {
            return Ok(());
        }
        let applied = self
            .locked("up", || runner::up(&self.db, steps, allow_changed))
            .await?;
        if applied.is_empty() {
            println!("No pending migrations");
        }
        for name in &applied {
            println!("applied {name}");
        }
        Ok(())
    }

    async fn down(
        &self,
        num: Option<u32>,
        to: Option<String>,
        dry_run: bool,
    ) -> Result<(), String> {
        let steps = match to {
            Some(name) => steps_down_to(&self.db, &name)
                .await
                .map_err(self.fail("down"))?,
            None => num.unwrap_or(1),
        };
        if dry_run {
            return dry_run_down(&self.db, steps)
                .await
                .map_err(self.fail("down --dry-run"));
        }
        if steps == 0 {
            return Ok(());
        }
        let rolled_back = self
            .locked("down", || runner::down(&self.db, steps))
            .await?;
        for name in &rolled_back {
            println!("rolled back {name}");
        }
        Ok(())
    }

    async fn status(&self, check: bool) -> Result<(), String> {
        let rows = runner::status(&self.db)
            .await
            .map_err(self.fail("status"))?;
        print_status(&rows);
        let not_clean = rows
            .iter()
            .filter(|r| r.state != runner::State::Applied)
            .count();
        if check && not_clean > 0 {
            return Err(format!(
                "{not_clean} migration(s) pending, changed or missing"
            ));
        }
        Ok(())
    }

    async fn verify(&self) -> Result<(), String> {
        let (differences, applied) = migration::verify::verify(&self.db, &self.url)
            .await
            .map_err(self.fail("verify"))?;
        if differences.is_empty() {
            println!("the schema matches the {applied} applied migrations");
            return Ok(());
        }
        for line in &differences {
            println!("{line}");
        }
        Err(format!(
            "the schema differs from the {applied} applied migrations in {} place(s)",
            differences.len()
        ))
    }
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

fn print_status(rows: &[runner::Row]) {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(9).max(9);
    println!(
        "{:<width$}  {:<8}  {:<19}  {:>8}",
        "migration", "status", "applied at (UTC)", "took ms"
    );
    for row in rows {
        let state = match row.state {
            _ if row.failure.is_some() => "FAILED",
            runner::State::Applied => "applied",
            runner::State::Pending => "pending",
            runner::State::Changed => "CHANGED",
            runner::State::Missing => "MISSING",
        };
        let when = row
            .applied_at
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let took = row.duration_ms.map(|d| d.to_string()).unwrap_or_default();
        println!("{:<width$}  {state:<8}  {when:<19}  {took:>8}", row.name);
        if let Some(failure) = &row.failure {
            println!("  {failure}");
            println!(
                "  (fix the cause, then `up` again: it resumes after the statements that succeeded)"
            );
        }
    }
    let count = |s: runner::State| rows.iter().filter(|r| r.state == s).count();
    println!(
        "{} migrations: {} applied, {} pending, {} changed, {} missing",
        rows.len(),
        count(runner::State::Applied),
        count(runner::State::Pending),
        count(runner::State::Changed),
        count(runner::State::Missing)
    );
}

/// The SQL of the next `steps` pending migrations, in order.
async fn dry_run_up(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), sea_orm::DbErr> {
    let pending: Vec<String> = runner::status(db)
        .await?
        .into_iter()
        .filter(|r| r.state == runner::State::Pending)
        .map(|r| r.name)
        .collect();
    let take = steps
        .map_or(pending.len(), |n| n as usize)
        .min(pending.len());
    print_plan(db, &pending[..take], runner::Direction::Up).await
}

/// The SQL of rolling back the newest `steps` applied migrations, newest first.
async fn dry_run_down(db: &DatabaseConnection, steps: u32) -> Result<(), sea_orm::DbErr> {
    let applied: Vec<String> = Migrator::get_applied_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let newest: Vec<String> = applied.into_iter().rev().take(steps as usize).collect();
    print_plan(db, &newest, runner::Direction::Down).await
}

async fn print_plan(
    db: &DatabaseConnection,
    names: &[String],
    direction: runner::Direction,
) -> Result<(), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    if names.is_empty() {
        println!("-- nothing to run");
    }
    for name in names {
        let migration = runner::migration_named(name)?;
        let in_txn = migration.use_transaction() != Some(false);
        println!(
            "-- {name} ({}){}",
            if direction == runner::Direction::Up {
                "up"
            } else {
                "down"
            },
            if in_txn { ", in one transaction" } else { "" }
        );
        for statement in runner::planned_sql(migration.as_ref(), backend, direction).await? {
            println!("{statement};");
        }
    }
    println!("-- dry run: nothing was changed");
    Ok(())
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
