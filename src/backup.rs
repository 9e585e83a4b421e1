//! `kintsugi backup` and `kintsugi restore`: one `.tar.gz` with a
//! consistent copy of the database (taken while the site writes), the
//! content folder, the site key and the rest of the data folder.
//!
//! Inside the archive, in this order:
//! - `manifest.json`: format version, creation time, backend, the newest
//!   migration of the copied database;
//! - `database.sqlite3` (SQLite) or `database.pg.jsonl` (PostgreSQL, see
//!   `db::backup`);
//! - `site.key`: `<data_dir>/secret.key` (absent when the key comes from
//!   `KINTSUGI_SECRET_KEY`, which must then be kept with the backups);
//! - `content/...`: the content folder;
//! - `data/...`: the rest of the data folder (the mail outbox...), without
//!   the database's own files and without `backups/`.
//!
//! The archive is written to a hidden temporary name beside the target,
//! synced, then renamed: a crash never leaves a half-written archive under
//! the final name. Archives are created with mode 0600 (they hold secrets).
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{DatabaseUrl, Settings};
use crate::db;

/// The archive layout's version (bump on incompatible changes).
const FORMAT: u32 = 1;
const PREFIX: &str = "kintsugi-backup-";
const SUFFIX: &str = ".tar.gz";
const KEY_FILE: &str = "secret.key";
const SQLITE_ENTRY: &str = "database.sqlite3";
const PG_ENTRY: &str = "database.pg.jsonl";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub kintsugi_version: String,
    pub created_at: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The newest migration applied to the copied database.
    pub schema_version: String,
    /// `file` (in the archive as `site.key`) or `environment`.
    pub site_key: String,
    /// Rows per table (PostgreSQL exports).
    #[serde(default)]
    pub rows: Vec<(String, u64)>,
}

/// The name of an archive made at `now`:
/// `kintsugi-backup-20261130T033000Z.tar.gz`.
pub fn archive_name(now: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", now.format("%Y%m%dT%H%M%SZ"))
}

/// True for names [`archive_name`] makes (and only those).
pub fn is_archive_name(name: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX))
    else {
        return false;
    };
    stamp.len() == 16
        && chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").is_ok()
        && stamp.is_ascii()
}

/// Deletes all but the `keep` newest archives in `dir` (by the time in
/// their names; other files are never touched). Returns what it deleted.
pub fn rotate(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let mut archives: Vec<String> = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| is_archive_name(n))
        .collect();
    // The names sort by time.
    archives.sort();
    archives.reverse();
    let mut deleted = Vec::new();
    for name in archives.into_iter().skip(keep) {
        let path = dir.join(name);
        fs::remove_file(&path).with_context(|| format!("cannot delete {}", path.display()))?;
        deleted.push(path);
    }
    Ok(deleted)
}

/// A file or folder removed when dropped (temporary files of a backup or
/// a restore, also when it fails half-way).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = fs::remove_dir_all(&self.0);
        } else {
            let _ = fs::remove_file(&self.0);
        }
    }
}

fn scratch_name(dir: &Path, what: &str) -> Result<Scratch> {
    let tag = crate::keys::random_hex(6).map_err(|e| anyhow!(e))?;
    Ok(Scratch(dir.join(format!(".kintsugi-{what}-{tag}.tmp"))))
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
    }
    #[cfg(not(unix))]
    fs::create_dir_all(path)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// What a backup made.
#[derive(Debug)]
pub struct BackupReport {
    pub file: PathBuf,
    pub bytes: u64,
    pub manifest: Manifest,
    pub rotated: Vec<PathBuf>,
    pub seconds: f64,
}

/// Writes one archive to `file` (default: `<data_dir>/backups/<name>`),
/// then keeps only the `keep` newest archives in its folder.
pub fn backup(
    settings: &Settings,
    file: Option<PathBuf>,
    keep: Option<usize>,
) -> Result<BackupReport> {
    let started = std::time::Instant::now();
    let now = Utc::now();
    let target = match file {
        Some(f) if f.is_dir() => f.join(archive_name(now)),
        Some(f) => f,
        None => settings.data_dir.join("backups").join(archive_name(now)),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if target.exists() {
        bail!("{} exists already; not overwriting it", target.display());
    }

    // The database first: every write acknowledged before this point is in
    // the copy.
    let mut conn = db::backup::connect(&settings.database_url)
        .map_err(|e| anyhow!("cannot open the database: {e}"))?;
    let db_copy = scratch_name(&dir, "db")?;
    let (backend, entry, schema_version, rows) = match &settings.database_url {
        DatabaseUrl::Sqlite(_) => {
            db::backup::sqlite_copy_into(&mut conn, &db_copy.0)
                .map_err(|e| anyhow!("cannot copy the SQLite database: {e}"))?;
            let version = db::backup::schema_version(&mut conn)
                .map_err(|e| anyhow!("cannot read the schema version: {e}"))?;
            ("sqlite", SQLITE_ENTRY, version, Vec::new())
        }
        DatabaseUrl::Postgres(_) => {
            let mut out = BufWriter::new(create_private(&db_copy.0)?);
            let (version, counts) = db::backup::pg_export(&mut conn, &mut out)
                .map_err(|e| anyhow!("cannot export the PostgreSQL database: {e}"))?;
            out.flush()?;
            ("postgres", PG_ENTRY, version, counts.0)
        }
    };
    drop(conn);
    let schema_version = schema_version.ok_or_else(|| {
        anyhow!("the database has no migrations applied yet; run `kintsugi migrate` first")
    })?;
    let key_path = settings.data_dir.join(KEY_FILE);
    if settings.secret_key.is_none() {
        // The key the site uses (made now if the site never needed one yet,
        // so the archive and the site agree from here on).
        crate::keys::SiteKey::load(None, &settings.data_dir)
            .map_err(|e| anyhow!("cannot read the site key: {e}"))?;
    }
    let key_in_file = settings.secret_key.is_none() && key_path.is_file();
    let manifest = Manifest {
        format: FORMAT,
        kintsugi_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        backend: backend.to_string(),
        schema_version,
        site_key: if key_in_file { "file" } else { "environment" }.to_string(),
        rows,
    };

    let tmp = scratch_name(&dir, "backup")?;
    let file =
        create_private(&tmp.0).with_context(|| format!("cannot create {}", tmp.0.display()))?;
    let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Complete);
    tar.follow_symlinks(true);
    let json = serde_json::to_vec_pretty(&manifest)?;
    append_bytes(&mut tar, "manifest.json", &json)?;
    tar.append_path_with_name(&db_copy.0, entry)?;
    if key_in_file {
        tar.append_path_with_name(&key_path, "site.key")?;
    }
    if settings.content_dir.is_dir() {
        tar.append_dir_all("content", &settings.content_dir)
            .with_context(|| format!("cannot read {}", settings.content_dir.display()))?;
    }
    if settings.data_dir.is_dir() {
        let skip = data_files_to_skip(settings, &dir);
        append_data(&mut tar, &settings.data_dir, Path::new("data"), &skip)?;
    }
    let gz = tar.into_inner()?;
    let writer = gz.finish()?;
    let file = writer.into_inner().map_err(|e| anyhow!(e.to_string()))?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    drop(file);
    fs::rename(&tmp.0, &target).with_context(|| format!("cannot create {}", target.display()))?;
    sync_dir(&dir);
    let rotated = match keep {
        Some(n) => rotate(&dir, n.max(1))?,
        None => Vec::new(),
    };
    Ok(BackupReport {
        file: target,
        bytes,
        manifest,
        rotated,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(Utc::now().timestamp().max(0) as u64);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)?;
    Ok(())
}

/// The media library's smaller copies in the data folder: rebuilt from
/// the content, never backed up.
const MEDIA_CACHE: &str = crate::content::media::CACHE_DIR;

/// Paths in the data folder that are not copied as files: the database
/// (copied consistently above), the key (as `site.key`), the backups, and
/// the media library's smaller copies (made again from the content).
fn data_files_to_skip(settings: &Settings, backup_dir: &Path) -> Vec<PathBuf> {
    let mut skip = vec![
        settings.data_dir.join(KEY_FILE),
        settings.data_dir.join("backups"),
        settings.data_dir.join(MEDIA_CACHE),
        backup_dir.to_path_buf(),
    ];
    if let DatabaseUrl::Sqlite(path) = &settings.database_url {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            skip.push(PathBuf::from(p));
        }
    }
    skip.iter()
        .map(|p| fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        .collect()
}

fn append_data<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: &Path,
    name: &Path,
    skip: &[PathBuf],
) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let file_name = entry.file_name();
        if file_name.to_string_lossy().starts_with('.') {
            continue;
        }
        let real = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if skip.contains(&real) {
            continue;
        }
        let inner = name.join(&file_name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            append_data(tar, &path, &inner, skip)?;
        } else if kind.is_file() {
            tar.append_path_with_name(&path, &inner)?;
        }
    }
    Ok(())
}

/// What a restore did, line by line, for the operator.
#[derive(Debug)]
pub struct RestoreReport {
    pub manifest: Manifest,
    pub lines: Vec<String>,
}

/// True when `dir` is absent or holds nothing but `ignore`d names.
fn is_empty_dir(dir: &Path, ignore: &[&str]) -> Result<bool> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries {
                let name = e?.file_name();
                if !ignore.iter().any(|i| name.to_str() == Some(*i)) {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(anyhow!(e).context(format!("cannot read {}", dir.display()))),
    }
}

/// Reads the manifest of an archive (its first entry).
pub fn read_manifest(archive: &Path) -> Result<Manifest> {
    let file = File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    for entry in tar.entries()? {
        let entry = entry?;
        if entry.path()?.as_ref() == Path::new("manifest.json") {
            return Ok(serde_json::from_reader(entry)?);
        }
    }
    bail!(
        "{} is not a Kintsugi backup (no manifest.json)",
        archive.display()
    )
}

/// Restores `archive` into the configured data folder, database and (when
/// empty) content folder. Refuses a data folder holding anything but
/// `backups/`, an existing SQLite file, or a PostgreSQL database with
/// tables, unless `force`.
pub fn restore(settings: &Settings, archive: &Path, force: bool) -> Result<RestoreReport> {
    let manifest = read_manifest(archive)?;
    if manifest.format > FORMAT {
        bail!(
            "{} was made by a newer Kintsugi (archive format {}); restore it with that release",
            archive.display(),
            manifest.format
        );
    }
    let here = match settings.database_url {
        DatabaseUrl::Sqlite(_) => "sqlite",
        DatabaseUrl::Postgres(_) => "postgres",
    };
    if manifest.backend != here {
        bail!(
            "this backup holds a {} database and the site is configured for {}; restoring across backends is not supported (restore on the same backend, then move the data with a later `kintsugi migrate-data`)",
            manifest.backend,
            here
        );
    }
    let known = db::backup::known_versions(&settings.database_url).map_err(|e| anyhow!(e))?;
    if !known.contains(&manifest.schema_version) {
        bail!(
            "the backup's database is at migration {}, which this Kintsugi does not know (a newer release made it)",
            manifest.schema_version
        );
    }
    let data_dir = &settings.data_dir;
    if !force && !is_empty_dir(data_dir, &["backups", MEDIA_CACHE])? {
        bail!(
            "the data folder {} is not empty; restore into an empty data folder, or add --force to overwrite what is there",
            data_dir.display()
        );
    }
    if let DatabaseUrl::Sqlite(path) = &settings.database_url {
        if !force && path.exists() {
            bail!(
                "the database {} exists already; move it away, or add --force to replace it",
                path.display()
            );
        }
    }
    let mut lines = Vec::new();
    let mut pg_conn = None;
    if let DatabaseUrl::Postgres(_) = settings.database_url {
        let mut conn = db::backup::connect(&settings.database_url)
            .map_err(|e| anyhow!("cannot open the database: {e}"))?;
        if !force && db::backup::pg_has_tables(&mut conn).map_err(|e| anyhow!(e))? {
            bail!("the PostgreSQL database already holds tables; restore into an empty database, or add --force to replace Kintsugi's tables");
        }
        pg_conn = Some(conn);
    }

    create_private_dir(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let staging = scratch_name(data_dir, "restore")?;
    create_private_dir(&staging.0)?;
    let file = File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    tar.unpack(&staging.0)
        .with_context(|| format!("cannot unpack {}", archive.display()))?;

    // The database.
    match (&settings.database_url, pg_conn) {
        (DatabaseUrl::Sqlite(path), _) => {
            let staged = staging.0.join(SQLITE_ENTRY);
            let problems =
                db::backup::sqlite_integrity_problems(&staged).map_err(|e| anyhow!(e))?;
            if !problems.is_empty() {
                bail!(
                    "the archived database fails its integrity check: {}",
                    problems.join("; ")
                );
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_private_dir(dir)?;
            }
            for suffix in ["-wal", "-shm", "-journal", ""] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                let _ = fs::remove_file(PathBuf::from(p));
            }
            if fs::rename(&staged, path).is_err() {
                fs::copy(&staged, path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            let ran = db::backup::migrate(&settings.database_url).map_err(|e| anyhow!(e))?;
            lines.push(format!(
                "restored the SQLite database to {} (integrity check ok{})",
                path.display(),
                if ran > 0 {
                    format!(", {ran} newer migration(s) applied")
                } else {
                    String::new()
                }
            ));
        }
        (DatabaseUrl::Postgres(_), Some(mut conn)) => {
            let staged = File::open(staging.0.join(PG_ENTRY))
                .context("the archive has no PostgreSQL export")?;
            let counts = db::backup::pg_restore(
                &mut conn,
                &mut BufReader::new(staged),
                &manifest.schema_version,
                force,
            )
            .map_err(|e| anyhow!("cannot restore the PostgreSQL database: {e}"))?;
            lines.push(format!(
                "restored the PostgreSQL database: {} row(s) in {} table(s)",
                counts.total(),
                counts.0.len()
            ));
        }
        (DatabaseUrl::Postgres(_), None) => unreachable!("connected above"),
    }

    // The site key.
    let staged_key = staging.0.join("site.key");
    if staged_key.is_file() {
        let target = data_dir.join(KEY_FILE);
        let _ = fs::remove_file(&target);
        fs::rename(&staged_key, &target)
            .with_context(|| format!("cannot write {}", target.display()))?;
        set_private(&target)?;
        lines.push(format!("restored the site key to {}", target.display()));
    } else {
        lines.push("the backup holds no site key: it came from KINTSUGI_SECRET_KEY, which must be set to the same value here".to_string());
    }

    // The rest of the data folder.
    let staged_data = staging.0.join("data");
    if staged_data.is_dir() {
        move_tree(&staged_data, data_dir)?;
        lines.push(format!(
            "restored the data folder's files to {}",
            data_dir.display()
        ));
    }

    // The content.
    let staged_content = staging.0.join("content");
    if staged_content.is_dir() {
        let content = &settings.content_dir;
        if is_empty_dir(content, &[])? || force {
            fs::create_dir_all(content)?;
            move_tree(&staged_content, content)?;
            lines.push(format!("restored the content to {}", content.display()));
        } else {
            lines.push(format!(
                "kept the content folder {} as it is (not empty); add --force to write the archived files over it",
                content.display()
            ));
        }
    }
    drop(staging);
    Ok(RestoreReport { manifest, lines })
}

#[cfg(unix)]
fn set_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn set_private(_path: &Path) -> Result<()> {
    Ok(())
}

/// Moves every file under `from` to the same place under `to`, replacing
/// files of the same name and keeping others.
fn move_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            move_tree(&entry.path(), &target)?;
        } else {
            if target.is_dir() {
                bail!("cannot restore {}: a folder has its name", target.display());
            }
            if fs::rename(entry.path(), &target).is_err() {
                fs::copy(entry.path(), &target)
                    .with_context(|| format!("cannot write {}", target.display()))?;
            }
        }
    }
    Ok(())
}

/// `kintsugi backup [FILE] [--keep N]`.
pub fn backup_command(
    settings: &Settings,
    file: Option<PathBuf>,
    keep: Option<usize>,
) -> std::process::ExitCode {
    match backup(settings, file, keep) {
        Ok(report) => {
            println!(
                "kintsugi: wrote {} ({} bytes, {} database, migration {}, in {:.2} s)",
                report.file.display(),
                report.bytes,
                report.manifest.backend,
                report.manifest.schema_version,
                report.seconds
            );
            if report.manifest.site_key == "environment" {
                println!("kintsugi: the site key comes from KINTSUGI_SECRET_KEY and is not in the archive: keep it with your backups");
            }
            for path in report.rotated {
                println!("kintsugi: deleted the old backup {}", path.display());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kintsugi: backup failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `kintsugi restore FILE [--force]`.
pub fn restore_command(settings: &Settings, file: &Path, force: bool) -> std::process::ExitCode {
    match restore(settings, file, force) {
        Ok(report) => {
            for line in report.lines {
                println!("kintsugi: {line}");
            }
            println!(
                "kintsugi: restored the backup made at {}",
                report.manifest.created_at
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kintsugi: restore refused or failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_carry_the_utc_time_and_are_recognised() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T03:30:05Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(archive_name(t), "kintsugi-backup-20261130T033005Z.tar.gz");
        assert!(is_archive_name(&archive_name(t)));
        assert!(!is_archive_name("kintsugi-backup-latest.tar.gz"));
        assert!(!is_archive_name("my-notes.tar.gz"));
        assert!(!is_archive_name(
            "kintsugi-backup-20261130T033005Z.tar.gz.part"
        ));
    }

    #[test]
    fn rotation_keeps_the_newest_and_touches_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "kintsugi-backup-20261101T033000Z.tar.gz",
            "kintsugi-backup-20261103T033000Z.tar.gz",
            "kintsugi-backup-20261102T033000Z.tar.gz",
            "kintsugi-backup-20261104T033000Z.tar.gz",
            "mine.tar.gz",
            "kintsugi-backup-old.tar.gz",
        ];
        for n in names {
            fs::write(dir.path().join(n), b"x").unwrap();
        }
        let deleted = rotate(dir.path(), 2).unwrap();
        assert_eq!(deleted.len(), 2);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "kintsugi-backup-20261103T033000Z.tar.gz",
                "kintsugi-backup-20261104T033000Z.tar.gz",
                "kintsugi-backup-old.tar.gz",
                "mine.tar.gz",
            ]
        );
    }
}
