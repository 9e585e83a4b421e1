//! The `kintsugi` command: serve (default), migrate, check.
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kintsugi::config::{Settings, Severity};
use kintsugi::content::Library;
use kintsugi::startup::{open_database, Application, StartError};

#[derive(Parser)]
#[command(
    name = "kintsugi",
    version = kintsugi::startup::VERSION,
    about = "A website engine for breakup coaches"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site (the default).
    Serve {
        /// Create a new, empty database even though the site key exists
        /// (otherwise a missing database file stops the start).
        #[arg(long)]
        init: bool,
    },
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Print every setting (secrets as ***) and where it came from, then
    /// check it; exits non-zero when something must be fixed.
    Config,
    /// Validate every content file; print each problem as file:line.
    Check,
    /// Manage the coach's accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print, as JSON, everything the site holds about one person
    /// (comments, coaching requests and messages, subscription).
    Export {
        #[arg(long)]
        email: String,
    },
    /// Delete everything the site holds about one person, for good.
    Erase {
        #[arg(long)]
        email: String,
    },
    /// Write one archive (.tar.gz, mode 0600) with a consistent copy of the
    /// database, the content folder and the site key, while the site runs.
    Backup {
        /// Where to write it (a file, or a folder for the default name);
        /// default: <data_dir>/backups/kintsugi-backup-<UTC time>.tar.gz
        file: Option<std::path::PathBuf>,
        /// Then keep only the N newest backups in the archive's folder.
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
    },
    /// Bring a blog over from another system.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Copy every table from one database to another (SQLite to
    /// PostgreSQL or back), ids kept, then check each table's rows. Stop
    /// the site first.
    MigrateData {
        /// The database to copy from: sqlite://path or postgres://...
        #[arg(long, value_name = "URL")]
        from: String,
        /// The database to copy into (migrated first; must hold no rows).
        #[arg(long, value_name = "URL")]
        to: String,
        /// Delete the target's rows first, in the same transaction as the copy.
        #[arg(long)]
        replace: bool,
    },
    /// Restore a backup into an empty data folder and database.
    Restore {
        file: std::path::PathBuf,
        /// Overwrite a data folder, database or content folder that is not empty.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Articles, pages, pictures and comments from a WordPress export
    /// (Tools → Export → All content), with redirects from every old address.
    Wordpress {
        /// The export file (WXR, .xml).
        export: std::path::PathBuf,
        /// A copy of the old site's wp-content/uploads folder: its pictures
        /// are copied into content/media/.
        #[arg(long, value_name = "DIR")]
        media: Option<std::path::PathBuf>,
        /// Print what would be done; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Replace content files that already exist.
        #[arg(long)]
        overwrite: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account. The password comes from KINTSUGI_ADMIN_PASSWORD
    /// or, when that is unset, from the first line of standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
    /// Set a new password (read like `create`'s) and end the account's
    /// sessions.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}

fn main() -> ExitCode {
    kintsugi::startup::limit_malloc_arenas();
    let cli = Cli::parse();
    kintsugi::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kintsugi: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve { init: false }) {
        Command::Check => check(&settings),
        Command::Config => config(&settings),
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
        Command::Serve { init } => actix_web::rt::System::new().block_on(serve(settings, init)),
        Command::Admin(command) => actix_web::rt::System::new().block_on(admin(settings, command)),
        Command::Export { email } => {
            actix_web::rt::System::new().block_on(person(settings, email, false))
        }
        Command::Erase { email } => {
            actix_web::rt::System::new().block_on(person(settings, email, true))
        }
        Command::Backup { file, keep } => kintsugi::backup::backup_command(&settings, file, keep),
        Command::Restore { file, force } => {
            kintsugi::backup::restore_command(&settings, &file, force)
        }
        Command::MigrateData { from, to, replace } => migrate_data(&from, &to, replace),
        Command::Import(ImportCommand::Wordpress {
            export,
            media,
            dry_run,
            overwrite,
        }) => actix_web::rt::System::new().block_on(import_wordpress(
            settings,
            kintsugi::import::wordpress::Options {
                export,
                content_dir: std::path::PathBuf::new(),
                media,
                dry_run,
                overwrite,
            },
        )),
    }
}

/// `kintsugi import wordpress`: runs the import, prints its report, and
/// checks the content afterwards as `kintsugi check` would.
async fn import_wordpress(
    settings: Settings,
    mut options: kintsugi::import::wordpress::Options,
) -> ExitCode {
    options.content_dir = settings.content_dir.clone();
    let pool = if options.dry_run {
        // Read what an earlier import did, without creating or migrating
        // anything: a dry run writes nothing.
        kintsugi::startup::open_database_read_only(&settings).await
    } else {
        match open_database(&settings).await {
            Ok(pool) => Some(pool),
            Err(e) => {
                eprintln!("kintsugi: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let name = options.export.display().to_string();
    match kintsugi::import::wordpress::run(&options, pool.as_ref()).await {
        Ok(report) => {
            for w in &report.warnings {
                eprintln!("kintsugi: warning: {w}");
            }
            for a in &report.actions {
                println!("{a}");
            }
            for n in &report.notes {
                println!("{n}");
            }
            println!("{}", report.summary(options.dry_run));
            if options.dry_run {
                println!("Dry run: nothing was written.");
                return ExitCode::SUCCESS;
            }
            // Then what `kintsugi check` does, so the coach knows at once
            // whether the site will start.
            check(&settings)
        }
        Err(e) => {
            match e.line {
                Some(line) => eprintln!("{name}:{line}: {}", e.message),
                None => eprintln!("kintsugi: {name}: {}", e.message),
            }
            if e.part_way {
                eprintln!("kintsugi: the import stopped part-way; what it wrote is whole (no half thread, no half file). Run the same command again to finish: it adds only what is missing");
            } else {
                eprintln!("kintsugi: nothing was imported");
            }
            ExitCode::FAILURE
        }
    }
}

/// `kintsugi migrate-data`: the copy, then a table of what each table
/// holds on both sides.
fn migrate_data(from: &str, to: &str, replace: bool) -> ExitCode {
    use kintsugi::config::DatabaseUrl;
    use kintsugi::db::transfer;
    let parse = |flag: &str, raw: &str| {
        DatabaseUrl::parse(raw).map_err(|_| {
            format!("{flag}: not a database URL; expected sqlite://path/to/file.sqlite3 (or a file path) or postgres://user:password@host/database")
        })
    };
    let (from, to) = match (parse("--from", from), parse("--to", to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("kintsugi: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "kintsugi: copying {} into {}",
        transfer::describe(&from),
        transfer::describe(&to)
    );
    let started = std::time::Instant::now();
    match transfer::migrate_data(&from, &to, transfer::Options { replace }) {
        Ok(reports) => {
            println!(
                "{:<20} {:>10} {:>10}  {:<16}  result",
                "table", "source", "target", "checksum"
            );
            for r in &reports {
                let verdict = if r.ok { "ok" } else { "MISMATCH" };
                let sum = if r.ok || r.source_checksum.is_empty() {
                    r.target_checksum.clone()
                } else {
                    format!("{} vs {}", r.source_checksum, r.target_checksum)
                };
                println!(
                    "{:<20} {:>10} {:>10}  {:<16}  {verdict}{}",
                    r.table,
                    r.source_rows,
                    r.target_rows,
                    sum,
                    if r.note.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.note)
                    }
                );
            }
            if reports.iter().all(|r| r.ok) {
                println!(
                    "kintsugi: copied and checked in {:.1} s. Keep the site key (secret.key or KINTSUGI_SECRET_KEY) with the new database, point KINTSUGI_DATABASE_URL at it and start the site",
                    started.elapsed().as_secs_f64()
                );
                ExitCode::SUCCESS
            } else {
                eprintln!("kintsugi: the copy does not match the source (see MISMATCH above); keep using the source database");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("kintsugi: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The new password: from KINTSUGI_ADMIN_PASSWORD, or standard input.
fn read_password() -> Result<String, String> {
    if let Ok(password) = std::env::var("KINTSUGI_ADMIN_PASSWORD") {
        return Ok(password);
    }
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        eprintln!("Type the password and press Enter (it is shown as you type; pipe it in or set KINTSUGI_ADMIN_PASSWORD to avoid that):");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn admin(settings: Settings, command: AdminCommand) -> ExitCode {
    use kintsugi::db;
    use kintsugi::domain::admin::{DisplayName, NewPassword};
    use kintsugi::domain::comment::Email;
    use kintsugi::i18n::Strings;
    use kintsugi::web::admin::Say;
    // The account checks speak the site's language (English when its
    // strings have problems: `kintsugi check` lists those).
    let t = Strings::load(&settings.site.language, &settings.content_dir)
        .unwrap_or_else(|_| Strings::english());
    let fail = |message: String| {
        eprintln!("kintsugi: {message}");
        ExitCode::FAILURE
    };
    let (email_raw, name) = match &command {
        AdminCommand::Create { email, name } => (email.clone(), Some(name.clone())),
        AdminCommand::ResetPassword { email } => (email.clone(), None),
    };
    let email = match Email::parse(&email_raw) {
        Ok(e) => e,
        Err(e) => return fail(e.say(&t)),
    };
    let name = match name.map(|n| DisplayName::parse(&n)).transpose() {
        Ok(n) => n,
        Err(e) => return fail(e.say(&t)),
    };
    let password = match read_password()
        .and_then(|p| NewPassword::parse(&p, email.as_str()).map_err(|e| e.say(&t)))
    {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let pool = match open_database(&settings).await {
        Ok(pool) => pool,
        Err(e) => return fail(e.to_string()),
    };
    let hash =
        match actix_web::web::block(move || kintsugi::passwords::hash(password.expose())).await {
            Ok(Ok(hash)) => hash,
            Ok(Err(e)) => return fail(e.to_string()),
            Err(e) => return fail(e.to_string()),
        };
    let now = chrono::Utc::now().naive_utc();
    let result = db::run(&pool, move |conn| match name {
        Some(name) => Ok(
            match db::admins::create(conn, email.as_str(), name.as_str(), &hash, now) {
                Ok(id) => Ok(format!("created the coach account {} (id {id})", email.as_str())),
                Err(db::admins::CreateRefused::EmailTaken) => Err(format!(
                    "an account with the email {} already exists; use `kintsugi admin reset-password --email {}` to change its password",
                    email.as_str(),
                    email.as_str()
                )),
                Err(db::admins::CreateRefused::Db(e)) => return Err(e),
            },
        ),
        None => Ok(match db::admins::find_by_email(conn, email.as_str())? {
            Some(admin) => {
                db::admins::set_password(conn, admin.id, &hash)?;
                Ok(format!(
                    "the password of {} is changed, and its sessions are ended",
                    email.as_str()
                ))
            }
            None => Err(format!("there is no account with the email {}", email.as_str())),
        }),
    })
    .await;
    match result {
        Ok(Ok(message)) => {
            println!("kintsugi: {message}");
            ExitCode::SUCCESS
        }
        Ok(Err(message)) => fail(message),
        Err(e) => fail(e.to_string()),
    }
}

fn check(settings: &Settings) -> ExitCode {
    if let Err(e) = kintsugi::i18n::Strings::load(&settings.site.language, &settings.content_dir) {
        for line in &e.0 {
            eprintln!("{line}");
        }
        eprintln!("kintsugi: {} problem(s) found in the strings", e.0.len());
        return ExitCode::FAILURE;
    }
    match Library::load_checked(&settings.content_dir) {
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

/// `kintsugi config`: the effective settings, then each problem with how
/// to fix it.
fn config(settings: &Settings) -> ExitCode {
    let shown = settings.shown(|key| std::env::var(key).ok());
    let width = shown.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &shown {
        println!("{:<width$}  {}  ({})", s.name, s.value, s.origin);
    }
    let mut problems = settings.problems();
    problems.sort_by_key(|p| std::cmp::Reverse(p.severity));
    println!();
    for p in &problems {
        eprintln!("{p}");
    }
    let errors = problems
        .iter()
        .filter(|p| p.severity >= Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    if errors > 0 {
        eprintln!("kintsugi: {errors} error(s) and {warnings} warning(s) in the configuration");
        ExitCode::FAILURE
    } else {
        println!("kintsugi: the configuration is valid ({warnings} warning(s))");
        ExitCode::SUCCESS
    }
}

/// The configuration problems `serve` will not start with (printed the way
/// `kintsugi config` prints them); the others are logged as warnings.
fn refuse_bad_config(settings: &Settings) -> bool {
    let problems = settings.problems();
    for p in problems.iter().filter(|p| p.severity < Severity::Fatal) {
        tracing::warn!("configuration: {p}");
    }
    let fatal: Vec<_> = problems
        .iter()
        .filter(|p| p.severity == Severity::Fatal)
        .collect();
    for p in &fatal {
        eprintln!("{p}");
    }
    if !fatal.is_empty() {
        eprintln!("kintsugi: not starting: fix the configuration (`kintsugi config` shows every setting and problem)");
    }
    !fatal.is_empty()
}

async fn serve(settings: Settings, init: bool) -> ExitCode {
    if refuse_bad_config(&settings) {
        return ExitCode::FAILURE;
    }
    if let Err(e) = kintsugi::startup::check_existing_database(&settings, init) {
        eprintln!("kintsugi: not starting: {e}");
        return ExitCode::FAILURE;
    }
    kintsugi::startup::raise_open_files_limit();
    let base = settings.base_url.as_str().to_string();
    let database = settings.database_url.describe();
    match Application::build(settings).await {
        Ok(app) => {
            tracing::info!(
                url = %base,
                %database,
                version = kintsugi::startup::VERSION,
                "Kintsugi is serving"
            );
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

/// `kintsugi export` and `kintsugi erase`: privacy requests for one email.
async fn person(settings: Settings, email: String, erase: bool) -> ExitCode {
    use kintsugi::db;
    let email = match kintsugi::domain::comment::Email::parse(&email) {
        Ok(e) => e.as_str().to_string(),
        Err(e) => {
            let t = kintsugi::i18n::Strings::load(&settings.site.language, &settings.content_dir)
                .unwrap_or_else(|_| kintsugi::i18n::Strings::english());
            eprintln!("kintsugi: {}", e.text(&t));
            return ExitCode::FAILURE;
        }
    };
    let pool = match open_database(&settings).await {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("kintsugi: {e}");
            return ExitCode::FAILURE;
        }
    };
    let output = if erase {
        db::run(&pool, move |conn| db::coaching::erase_person(conn, &email))
            .await
            .map(|erased| {
                format!(
                    "kintsugi: erased {} comment(s), {} coaching request(s) with their messages, {} subscription(s) and {} email(s); {} coach repl(ies) to those comments went with them",
                    erased.comments, erased.coaching_requests, erased.subscriptions, erased.emails, erased.coach_replies
                )
            })
    } else {
        db::run(&pool, move |conn| db::coaching::export_person(conn, &email))
            .await
            .map(|data| serde_json::to_string_pretty(&data).unwrap_or_default())
    };
    match output {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kintsugi: {e}");
            ExitCode::FAILURE
        }
    }
}
