//! Notices when the SQLite database file is deleted, moved or replaced
//! while the server runs. Open connections keep writing into the old file
//! (the operating system keeps a deleted file alive while it is open), so
//! every write would be acknowledged and then lost. The file's identity
//! (device and inode) is recorded at start and compared every few seconds
//! and by `/readyz`; while it differs, writes are refused (503).
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::DatabaseUrl;

/// What identifies a file on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    pub device: u64,
    pub inode: u64,
}

impl FileIdentity {
    pub fn of(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(Self {
            device: meta.dev(),
            inode: meta.ino(),
        })
    }
}

#[derive(Debug)]
pub struct DatabaseWatch {
    /// The SQLite file and its identity at start (None: PostgreSQL).
    file: Option<(PathBuf, FileIdentity)>,
    lost: AtomicBool,
}

impl DatabaseWatch {
    /// Watches nothing (PostgreSQL, or tests that build their own state).
    pub fn none() -> Self {
        Self {
            file: None,
            lost: AtomicBool::new(false),
        }
    }

    /// Records the identity of the SQLite file (call once it exists).
    pub fn of(url: &DatabaseUrl) -> Self {
        let file = match url {
            DatabaseUrl::Sqlite(path) => match FileIdentity::of(path) {
                Ok(id) => Some((path.clone(), id)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot watch the database file");
                    None
                }
            },
            DatabaseUrl::Postgres(_) => None,
        };
        Self {
            file,
            lost: AtomicBool::new(false),
        }
    }

    /// True while the database file is gone or replaced.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// Compares the file with the one opened at start; sets (or clears,
    /// when it is back) the lost flag and logs each change. Err says what
    /// happened.
    pub fn check(&self) -> Result<(), String> {
        let Some((path, started)) = &self.file else {
            return Ok(());
        };
        let problem = match FileIdentity::of(path) {
            Ok(now) if now == *started => None,
            Ok(now) => Some(format!(
                "the database file {} was replaced while the server was running (it was device {} inode {}, now device {} inode {}); writes are refused until the original file is put back or the server is restarted",
                path.display(),
                started.device,
                started.inode,
                now.device,
                now.inode
            )),
            Err(e) => Some(format!(
                "the database file {} is gone ({e}): it was deleted or moved while the server was running; writes are refused until it is put back (a restart will not create a new one without --init)",
                path.display()
            )),
        };
        let was_lost = self.lost.swap(problem.is_some(), Ordering::AcqRel);
        match (&problem, was_lost) {
            (Some(why), false) => tracing::error!("{why}"),
            (None, true) => tracing::warn!(
                path = %path.display(),
                "the database file is back; writes are accepted again"
            ),
            _ => {}
        }
        problem.map_or(Ok(()), Err)
    }

    /// Checks every `every` on the actix runtime, for as long as it runs.
    /// Whether the folder holding the database has room for a few more
    /// writes. A full disk lets a one-row readiness write through (it
    /// rewrites a page already there) while every new comment fails, so
    /// readiness also asks the file system.
    pub fn check_space(&self) -> Result<(), String> {
        let Some((path, _)) = &self.file else {
            return Ok(());
        };
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        match free_bytes(folder) {
            Some(free) if free < MIN_FREE_BYTES => Err(format!(
                "the disk holding {} has only {} KiB free; new writes will fail until space is freed",
                folder.display(),
                free / 1024
            )),
            _ => Ok(()),
        }
    }

    pub fn spawn_checks(self: &Arc<Self>, every: Duration) {
        if self.file.is_none() {
            return;
        }
        let watch = self.clone();
        actix_web::rt::spawn(async move {
            loop {
                actix_web::rt::time::sleep(every).await;
                let _ = watch.check();
            }
        });
    }
}

/// Below this much free space, readiness says writes are failing.
pub const MIN_FREE_BYTES: u64 = 1024 * 1024;

/// Bytes an unprivileged process may still write in `folder` (None when
/// the file system cannot tell).
fn free_bytes(folder: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(folder.as_os_str().as_bytes()).ok()?;
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a zeroed struct to fill.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) } != 0 {
        return None;
    }
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_read_from_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).is_some_and(|free| free > 0));
        assert_eq!(free_bytes(&dir.path().join("no such folder")), None);
        let path = dir.path().join("k.sqlite3");
        std::fs::write(&path, b"one").unwrap();
        let watch = DatabaseWatch::of(&DatabaseUrl::Sqlite(path));
        // A test machine has more than a mebibyte free.
        assert!(watch.check_space().is_ok());
    }

    #[test]
    fn a_deleted_or_replaced_file_is_noticed_and_a_restored_one_heals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.sqlite3");
        std::fs::write(&path, b"one").unwrap();
        let watch = DatabaseWatch::of(&DatabaseUrl::Sqlite(path.clone()));
        assert!(watch.check().is_ok());
        let aside = dir.path().join("aside");
        std::fs::rename(&path, &aside).unwrap();
        assert!(watch.check().unwrap_err().contains("is gone"));
        assert!(watch.is_lost());
        std::fs::write(&path, b"new").unwrap();
        assert!(watch.check().unwrap_err().contains("replaced"));
        std::fs::rename(&aside, &path).unwrap();
        assert!(watch.check().is_ok());
        assert!(!watch.is_lost());
    }
}
