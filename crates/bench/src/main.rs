//! `bench`: measures the LMS against a release build and prints each figure next to the limit it is
//! judged against, measured in the same run. Run it through `scripts/bench.sh`, which builds release.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod chat;
mod chat_history;
mod curriculum;
mod import;
mod login;
mod raw_http;
mod revocation;
mod seed;
mod server;

#[derive(Parser)]
#[command(
    name = "bench",
    about = "LMS benchmarks (run via scripts/bench.sh, on a release build)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// POST /auth/login throughput next to the argon2 ceiling (cores / single-hash time), and the
    /// server's peak memory when 500 logins arrive at once.
    Login(login::Args),
    /// `seeder run --scale N` on PostgreSQL and SQLite, next to a raw COPY of the same chat-message rows.
    Seed(seed::Args),
    /// Course chat on PostgreSQL: history reads and posts next to pgbench running the same statements,
    /// and WebSocket fan-out latency (one instance and two) with memory per connection.
    Chat(chat::Args),
    /// The curriculum outline of a 200-lesson course on PostgreSQL among volume data: queries per
    /// outline, and its rate over HTTP next to the same outline computed in process.
    Curriculum(curriculum::Args),
    /// `importer run` of a generated legacy database of scale N on PostgreSQL, next to the seeder's
    /// bulk load of the same row counts, with the importer's peak memory.
    Import(import::Args),
}

/// One thread for the load generator: it shares the machine with the server, so it should take as
/// little CPU as it can.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Login(args) => login::run(args).await,
        Command::Seed(args) => seed::run(args).await,
        Command::Chat(args) => chat::run(args).await,
        Command::Curriculum(args) => curriculum::run(args).await,
        Command::Import(args) => import::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A binary built next to this one (same profile).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(name);
    anyhow::ensure!(
        path.exists(),
        "{} not found: build it first (scripts/bench.sh does)",
        path.display()
    );
    Ok(path)
}
