//! The `kintsugi` command: serve (default), migrate, check.
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kintsugi::config::Settings;
use kintsugi::content::Library;
use kintsugi::startup::{open_database, Application, StartError};

#[derive(Parser)]
#[command(
    name = "kintsugi",
    version,
    about = "A website engine for breakup coaches"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Validate every content file; print each problem as file:line.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    kintsugi::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kintsugi: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Check => check(&settings),
        Command::Migrate => actix_web::rt::System::new().block_on(async {
            match open_database(&settings).await {
                Ok(_) => {
                    println!(
                        "kintsugi: database is up to date ({})",
                        settings.database_url.describe()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("kintsugi: {e}");
                    ExitCode::FAILURE
                }
            }
        }),
        Command::Serve => actix_web::rt::System::new().block_on(serve(settings)),
    }
}

fn check(settings: &Settings) -> ExitCode {
    match Library::load(&settings.content_dir) {
        Ok(library) => {
            println!(
                "kintsugi: content in {} is valid ({} articles)",
                settings.content_dir.display(),
                library.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("kintsugi: {} problem(s) found", errors.len());
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    let base = settings.base_url.as_str().to_string();
    let database = settings.database_url.describe();
    match Application::build(settings).await {
        Ok(app) => {
            tracing::info!(url = %base, %database, "Kintsugi is serving");
            match app.run().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("kintsugi: server error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(StartError::Content(errors)) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "kintsugi: not starting: {} content problem(s); fix them and start again",
                errors.len()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("kintsugi: not starting: {e}");
            ExitCode::FAILURE
        }
    }
}
