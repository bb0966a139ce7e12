//! `importer`: moves the database of the legacy Node LMS (`--from`, PostgreSQL) into this LMS
//! (`DATABASE_URL`, any supported database). `plan` is the dry run; `run` imports (again: only what is
//! new or changed since); each legacy row's fate is kept in `import_map`.
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lms_core::db::{PoolOptions, connect, redact_url};
use lms_core::security::crypto::SecretBox;
use lms_core::security::secret::ServerSecret;
use sea_orm::DatabaseConnection;

mod backup;
mod chat;
mod courses;
mod enrollments;
mod legacy;
mod report;
mod target;
mod users;
mod verify;

use legacy::Legacy;
use report::Report;

/// How long to wait for another process's migration run.
const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(300);

#[derive(Parser)]
#[command(
    name = "importer",
    version,
    about = "Move a legacy Node LMS database into this LMS: plan (dry run), run, verify",
    long_about = "Move the database of the legacy Node LMS into this LMS.\n\n\
        The legacy database (--from, PostgreSQL) is read in one read-only snapshot and never written. \
        `plan` reports what `run` would do and writes nothing anywhere. `run` imports in batches, each \
        committed with its rows in the import_map table, so a run that was stopped (even killed) is \
        completed by running again, and a later run imports only what is new or changed since.",
    after_help = "Examples:\n  importer plan --from postgres://old@db/legacy_lms\n  importer plan --from postgres://old@db/legacy_lms --json > plan.json\n  importer run --from postgres://old@db/legacy_lms\n  importer verify --from postgres://old@db/legacy_lms"
)]
struct Cli {
    /// This LMS's database (sqlite://..., postgres://... or mysql://...); `.env` is read too.
    #[arg(short = 'u', long, env = "DATABASE_URL", default_value = lms_core::db::DEFAULT_DATABASE_URL, global = true, hide_env_values = true)]
    database_url: String,

    /// Server secret, to encrypt imported TOTP secrets as the API will read them (as for the API:
    /// in development a generated one is kept in LMS_SECRET_KEY_FILE).
    #[arg(long, env = "LMS_SECRET_KEY", hide_env_values = true, global = true)]
    secret_key: Option<String>,

    #[arg(
        long,
        env = "LMS_SECRET_KEY_FILE",
        default_value = "lms.secret",
        global = true
    )]
    secret_key_file: std::path::PathBuf,

    /// `production` refuses to generate a server secret.
    #[arg(
        long = "env",
        env = "LMS_ENV",
        default_value = "development",
        global = true
    )]
    environment: String,

    /// Print the report as JSON (every merge, skip and rename; on screen only the first 20 of each).
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The dry run: per legacy table, rows found and what `run` would create, update, leave
    /// unchanged, merge and skip (with reasons). Writes nothing anywhere.
    Plan {
        /// The legacy database (postgres://...).
        #[arg(long)]
        from: String,
    },
    /// Import: pending migrations first, then every table in batches; prints the report of what
    /// was done. Running it again imports only what is new or changed.
    Run {
        /// The legacy database (postgres://...).
        #[arg(long)]
        from: String,
        /// Where the backup of this LMS's database goes (taken before anything changes).
        #[arg(long, default_value = ".")]
        backup_dir: std::path::PathBuf,
        /// Do not back up this LMS's database first.
        #[arg(long)]
        no_backup: bool,
    },
    /// Reconcile both sides: every legacy row imported, merged or skipped with a reason, no record
    /// pointing at a missing row, per-course enrollment and message counts equal, course ratings
    /// equal to their imported reviews, and a sample of rows compared field by field. Exits 1 on
    /// any difference.
    Verify {
        /// The legacy database (postgres://...).
        #[arg(long)]
        from: String,
    },
}

/// Where a legacy row went in this LMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetId {
    Existing(i64),
    /// `plan`: would be created for the legacy row with this id (of the same table).
    Planned(i64),
}

impl TargetId {
    pub fn existing(self) -> Option<i64> {
        match self {
            TargetId::Existing(id) => Some(id),
            TargetId::Planned(_) => None,
        }
    }
}

/// What became of one legacy row.
pub struct Decided {
    pub legacy_id: i64,
    pub outcome: report::Outcome,
    pub target: Option<TargetId>,
    pub reason: Option<String>,
}

impl Decided {
    /// Counts the row, notes a merge or skip with its reason, remembers where it went (for the
    /// tables that refer to it) and, for `run`, adds its `import_map` row to the page's (written with
    /// the page's rows, in its transaction: [`target::record_all`]).
    pub async fn settle(
        self,
        records: Option<&mut Vec<entity::import_map::ActiveModel>>,
        table: &str,
        checksum: &str,
        report: &mut report::TableReport,
        ids: &mut HashMap<i64, TargetId>,
    ) -> anyhow::Result<()> {
        use report::Outcome;
        report.count(self.outcome);
        match (self.outcome, &self.reason) {
            (Outcome::Merged, Some(why)) => report.merge(self.legacy_id, why.clone()),
            (Outcome::Skipped, Some(why)) => report.skip(self.legacy_id, why.clone()),
            _ => {}
        }
        if let Some(t) = self.target {
            ids.insert(self.legacy_id, t);
        }
        if let Some(records) = records
            && self.outcome != Outcome::Unchanged
        {
            records.push(target::record(
                table,
                self.legacy_id,
                self.outcome,
                self.target.and_then(TargetId::existing),
                self.reason,
                checksum,
            ));
        }
        Ok(())
    }
}

/// Legacy id -> row in this LMS, for the tables later tables refer to.
#[derive(Default)]
pub struct Ids {
    pub users: HashMap<i64, TargetId>,
    pub courses: HashMap<i64, TargetId>,
}

/// One `plan` or `run`.
pub struct Job<'a> {
    pub legacy: &'a Legacy,
    pub target: &'a DatabaseConnection,
    /// `run` only: writes go here.
    write: bool,
    pub secrets: Option<SecretBox>,
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl Job<'_> {
    /// The database to write to, or `None` for `plan`.
    pub fn target_db(&self) -> Option<&DatabaseConnection> {
        self.write.then_some(self.target)
    }

    /// A progress bar for `table` on the terminal (none with --json, or when stderr is not one).
    pub fn start(&mut self, table: &str, rows: u64) {
        self.finish();
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(rows);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>14} [{bar:30}] {pos}/{len} rows {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(format!(
            "{table} ({})",
            if self.write { "run" } else { "plan" }
        ));
        self.bar = Some(bar);
    }

    /// `run`: a transaction for the next page; `plan`: none.
    pub async fn begin(&self) -> anyhow::Result<Option<sea_orm::DatabaseTransaction>> {
        match self.target_db() {
            Some(db) => Ok(Some(sea_orm::TransactionTrait::begin(db).await?)),
            None => Ok(None),
        }
    }

    pub fn progress(&self, rows: usize) {
        if let Some(bar) = &self.bar {
            bar.inc(rows as u64);
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let production = cli.environment.eq_ignore_ascii_case("production");
    let target_url = redact_url(&cli.database_url);
    let target = connect(&cli.database_url, &PoolOptions::default())
        .await
        .with_context(|| format!("cannot open the database {target_url}"))?;
    let (from, write) = match &cli.command {
        Command::Plan { from } => (from, false),
        Command::Run { from, .. } => (from, true),
        Command::Verify { from } => (from, false),
    };
    let legacy = Legacy::open(from)
        .await
        .with_context(|| format!("legacy database {}", redact_url(from)))?;
    if let Command::Verify { .. } = cli.command {
        let verification = verify::verify(&legacy, &target).await?;
        if cli.json {
            println!("{}", serde_json::to_string_pretty(&verification)?);
        } else {
            print!("{}", verification.to_text());
        }
        return Ok(if verification.differences.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let mut backup = None;
    if let Command::Run {
        backup_dir,
        no_backup: false,
        ..
    } = &cli.command
    {
        let path = backup::take(&target, &cli.database_url, backup_dir).await?;
        eprintln!("backup of {target_url}: {}", path.display());
        backup = Some(path.display().to_string());
    }
    let secrets = if write {
        migration::up_locked(&target, &cli.database_url, MIGRATION_LOCK_WAIT)
            .await
            .with_context(|| format!("migrating {target_url} failed"))?;
        let secret =
            ServerSecret::load(cli.secret_key.as_deref(), &cli.secret_key_file, !production)?;
        Some(secret.totp_secret_box())
    } else {
        None
    };
    let mut job = Job {
        legacy: &legacy,
        target: &target,
        write,
        secrets,
        quiet: cli.json,
        bar: None,
    };
    let mut report = Report {
        mode: if write { "run" } else { "plan" }.into(),
        backup,
        ..Report::default()
    };
    let mut ids = Ids::default();
    let started = Instant::now();
    let mut table = users::import(&mut job, &mut ids).await?;
    table.seconds = started.elapsed().as_secs_f64();
    *report.table(users::TABLE) = table;
    let started = Instant::now();
    let mut table = courses::import(&mut job, &mut ids).await?;
    table.seconds = started.elapsed().as_secs_f64();
    *report.table(courses::TABLE) = table;
    let started = Instant::now();
    let mut table = enrollments::import(&mut job, &mut ids).await?;
    table.seconds = started.elapsed().as_secs_f64();
    *report.table(enrollments::TABLE) = table;
    let started = Instant::now();
    let mut table = chat::import(&mut job, &mut ids).await?;
    table.seconds = started.elapsed().as_secs_f64();
    *report.table(chat::TABLE) = table;
    job.finish();
    for table in ["migrations", "seeders"] {
        if legacy.has_table(table).await? {
            let t = report.table(table);
            t.found = u64::try_from(legacy.count(table).await?).unwrap_or_default();
            t.reported_only = Some("the legacy app's own tracking table".into());
        }
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
