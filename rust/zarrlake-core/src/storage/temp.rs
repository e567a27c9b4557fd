//! Temp files of local put-if-absent writes.
//!
//! All of them live in one hidden directory under the repo root, never beside their
//! targets, so that collecting the ones a killed writer left behind reads one small
//! directory instead of walking every chunk directory. A temp file is removed by its
//! writer on every path, error and panic included ([`TempFile`]); only a killed
//! process leaves one, and [`collect_stale_once`] removes those when the repo is opened.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::process::{self, ForkLocal};

/// The directory, directly under the repo root, that holds every temp file. Hidden: a
/// name starting with '.' is never listed as a key.
pub(super) const TEMP_DIR: &str = ".tmp";

/// A temp file older than this belongs to a dead writer: a live one links its file into
/// place within milliseconds of creating it. Generous, so that a writer stalled on a slow
/// disk or suspended for a while never loses its file.
pub(super) const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A temp file that is removed when this is dropped, whatever happened in between.
pub(super) struct TempFile(PathBuf);

impl TempFile {
    /// Writes `bytes` to a fresh temp file of the repo at `root`.
    pub(super) fn write(root: &Path, bytes: &[u8]) -> Result<TempFile> {
        let dir = root.join(TEMP_DIR);
        // Fresh OS randomness: forked siblings must never pick the same temp file.
        let tmp = TempFile(dir.join(format!("{}.tmp", hex::encode(process::random_bytes::<16>()))));
        // Create the directory only when the first write finds it missing. A failed write
        // (a full disk) leaves a partial file: dropping `tmp` removes it.
        if let Err(e) = std::fs::write(&tmp.0, bytes) {
            if e.kind() != ErrorKind::NotFound {
                return Err(io_err("write", &tmp.0, e));
            }
            std::fs::create_dir_all(&dir).map_err(|e| io_err("create", &dir, e))?;
            std::fs::write(&tmp.0, bytes).map_err(|e| io_err("write", &tmp.0, e))?;
        }
        Ok(tmp)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: nothing can be reported from a drop, and a file left here is
        // collected as stale later.
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(super) fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Storage(format!("cannot {what} {}: {e}", path.display()))
}

/// Removes the temp files of the repo at `root` last modified more than `age` ago.
/// Returns how many were removed. Best effort: a file that cannot be read or removed
/// is left for the next time.
pub(super) fn remove_stale(root: &Path, age: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(root.join(TEMP_DIR)) else {
        return 0;
    };
    let Some(cutoff) = SystemTime::now().checked_sub(age) else {
        return 0;
    };
    let stale = |entry: &std::fs::DirEntry| {
        let meta = entry.metadata().ok()?;
        (meta.is_file() && meta.modified().ok()? < cutoff).then_some(())
    };
    entries
        .flatten()
        .filter(|entry| stale(entry).is_some())
        .filter(|entry| std::fs::remove_file(entry.path()).is_ok())
        .count()
}

/// [`remove_stale`] with [`STALE_AFTER`], at most once per process for each repo root:
/// a dead writer's files do not reappear, so one pass per process is enough, and opening
/// a repo again stays free.
pub(super) fn collect_stale_once(root: &Path) {
    // Per process: a forked child's writers are its own, and it must not take a lock that
    // a parent thread may have held at fork time.
    static SWEPT: ForkLocal<Mutex<HashSet<PathBuf>>> = ForkLocal::new();
    let first = SWEPT.get_or_init(Default::default).lock().insert(root.to_path_buf());
    if first {
        remove_stale(root, STALE_AFTER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn temp_files(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(TEMP_DIR))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn plant(root: &Path, name: &str, age: Duration) {
        std::fs::create_dir_all(root.join(TEMP_DIR)).unwrap();
        let f = File::create(root.join(TEMP_DIR).join(name)).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn dropping_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = TempFile::write(dir.path(), b"x").unwrap();
        assert_eq!(std::fs::read(tmp.path()).unwrap(), b"x");
        assert_eq!(temp_files(dir.path()).len(), 1);
        drop(tmp);
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn only_old_files_are_stale() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(remove_stale(dir.path(), STALE_AFTER), 0, "no temp directory yet");
        plant(dir.path(), "old.tmp", STALE_AFTER + Duration::from_secs(60));
        plant(dir.path(), "fresh.tmp", Duration::from_secs(1));
        assert_eq!(remove_stale(dir.path(), STALE_AFTER), 1);
        assert_eq!(temp_files(dir.path()), vec!["fresh.tmp".to_string()]);
    }

    #[test]
    fn collected_once_per_process_per_root() {
        let dir = tempfile::tempdir().unwrap();
        let old = STALE_AFTER + Duration::from_secs(60);
        plant(dir.path(), "a.tmp", old);
        collect_stale_once(dir.path());
        assert!(temp_files(dir.path()).is_empty());
        plant(dir.path(), "b.tmp", old);
        collect_stale_once(dir.path());
        assert_eq!(
            temp_files(dir.path()),
            vec!["b.tmp".to_string()],
            "a second open does not scan"
        );
    }
}
