//! `api`: the LMS HTTP service.
use std::process::ExitCode;

use api::{Application, Config, telemetry};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "api",
    version,
    about = "The LMS HTTP API",
    long_about = "The LMS HTTP API. With nothing configured it opens (or creates) the embedded SQLite \
        file ./lms.db, applies pending migrations and serves on http://127.0.0.1:8080 (docs at /docs).\n\n\
        Every flag can also be set from the environment or a .env file (names in brackets)."
)]
struct Cli {
    #[command(flatten)]
    config: Config,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Create an admin account (the first admin cannot be made over HTTP). The password is read from
    /// LMS_ADMIN_PASSWORD, or else from the first line of standard input; it follows the password policy.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "Site")]
        first_name: String,
        #[arg(long, default_value = "Admin")]
        last_name: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    telemetry::init(cli.config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::CreateAdmin {
            email,
            username,
            first_name,
            last_name,
        } => create_admin(cli.config, email, username, first_name, last_name).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn create_admin(
    config: Config,
    email: String,
    username: String,
    first_name: String,
    last_name: String,
) -> anyhow::Result<()> {
    let password = match std::env::var("LMS_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let db = config.open_database().await?;
    let auth = lms_core::security::Auth::new(
        &config.auth_settings(),
        &config.load_secret()?,
        lms_core::mail::Mailer::Log,
    )?;
    let input = lms_core::auth::Registration {
        email,
        username,
        password,
        first_name,
        last_name,
    };
    match lms_core::auth::create_user(&db, &auth, input, entity::users::UserRole::Admin).await {
        Ok(user) => {
            println!(
                "created admin {} <{}> (id {})",
                user.username, user.email, user.id
            );
            Ok(())
        }
        Err(lms_core::Error::Validation(errors)) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|(field, messages)| format!("  {field}: {}", messages.join("; ")))
                .collect();
            anyhow::bail!("the admin account was not created:\n{}", lines.join("\n"))
        }
        Err(err) => anyhow::bail!("the admin account was not created: {err}"),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
