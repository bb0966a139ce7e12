//! `seeder`: demo data (people in every role, courses, enrollments in every state, chat) and volume data
//! (`--scale N`) for load tests, tracked in `seaql_seeders`.
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use lms_core::db::{PoolOptions, connect, redact_url};
use lms_core::security::secret::ServerSecret;

mod demo;
mod rng;
mod runner;
mod volume;

/// How long to wait for another process's migration run (as the API does by default).
const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(300);

#[derive(Parser)]
#[command(
    name = "seeder",
    version,
    about = "Fill an LMS database with demo data, or with volume data for load tests",
    long_about = "Fill an LMS database with demo data, or with volume data for load tests.\n\n\
        Pending migrations are applied first. Seeders run in a fixed order; each one commits its rows \
        together with its row in the seaql_seeders tracking table, so an interrupted run is finished \
        by running again, without duplicates. A seeder that already ran is skipped; one whose definition \
        changed since it ran is reported, not re-run (use `fresh`).",
    after_help = "Examples:\n  seeder                 demo data\n  seeder status\n  seeder run --scale 1000   1,000 courses, 100,000 users, ~200,000 enrollments, 1,000,000 chat messages\n  seeder fresh           remove seeded data and tracking rows, then seed again"
)]
struct Cli {
    /// Database URL (sqlite://... or postgres://...); `.env` is read too.
    #[arg(short = 'u', long, env = "DATABASE_URL", default_value = lms_core::db::DEFAULT_DATABASE_URL, global = true, hide_env_values = true)]
    database_url: String,

    /// `production` makes destructive commands refuse to run without --force.
    #[arg(
        long = "env",
        env = "LMS_ENV",
        default_value = "development",
        global = true
    )]
    environment: String,

    /// Server secret, to encrypt the demo TOTP secret as the API will read it (as for the API: in
    /// development a generated one is kept in LMS_SECRET_KEY_FILE).
    #[arg(long, env = "LMS_SECRET_KEY", hide_env_values = true, global = true)]
    secret_key: Option<String>,

    #[arg(
        long,
        env = "LMS_SECRET_KEY_FILE",
        default_value = "lms.secret",
        global = true
    )]
    secret_key_file: std::path::PathBuf,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the seeders that have not run yet (the default).
    Run {
        /// Run only this seeder (see `status` for names).
        #[arg(long)]
        only: Option<String>,
        /// Also generate volume data: N courses, 100*N users, ~200*N enrollments, 1000*N chat messages.
        /// Deterministic: the same N gives the same rows.
        #[arg(long)]
        scale: Option<u32>,
    },
    /// List the seeders in order: ran (when, rows, time), pending, or changed since they ran.
    Status {
        /// Include the volume seeders for this scale.
        #[arg(long)]
        scale: Option<u32>,
    },
    /// Delete all seeded data and the tracking rows, then run again. Refused in production without --force.
    Fresh {
        #[arg(long)]
        force: bool,
        #[arg(long)]
        scale: Option<u32>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let production = cli.environment.eq_ignore_ascii_case("production");
    let secret =
        || ServerSecret::load(cli.secret_key.as_deref(), &cli.secret_key_file, !production);
    let target = redact_url(&cli.database_url);
    let db = connect(&cli.database_url, &PoolOptions::default())
        .await
        .with_context(|| format!("cannot open the database {target}"))?;
    migration::up_locked(&db, &cli.database_url, MIGRATION_LOCK_WAIT)
        .await
        .with_context(|| format!("migrating {target} failed"))?;
    let seeders = |scale: Option<u32>| runner::plan(scale);
    match cli.command.unwrap_or(Command::Run {
        only: None,
        scale: None,
    }) {
        Command::Run { only, scale } => {
            if let Some(name) = &only {
                anyhow::ensure!(
                    seeders(scale).iter().any(|s| s.name() == name),
                    "no seeder named {name:?} (see `seeder status`{})",
                    if scale.is_none() {
                        "; volume seeders need --scale"
                    } else {
                        ""
                    }
                );
            }
            runner::run(&db, secret, &seeders(scale), only.as_deref()).await
        }
        Command::Status { scale } => runner::status(&db, &seeders(scale)).await,
        Command::Fresh { force, scale } => {
            if production && !force {
                anyhow::bail!(
                    "refusing to delete seeded data: LMS_ENV is production (add --force if you really mean it)"
                );
            }
            runner::remove_seeded_data(&db).await?;
            println!("removed seeded data and tracking rows");
            runner::run(&db, secret, &seeders(scale), None).await
        }
    }
}
