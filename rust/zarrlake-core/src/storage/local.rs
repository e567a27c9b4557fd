//! Direct local-disk operations: the same semantics as object_store's local backend
//! without its URL encoding, per-file metadata calls and blocking-pool hops.
//!
//! Put-if-absent writes a temp file (in the repo's hidden temp directory, see `temp`) and
//! hard-links it into place: the link fails if the target exists, so exactly one writer
//! wins, and readers never see a partial object. Hidden names (starting with '.') are
//! never listed.

use std::io::ErrorKind;
use std::path::Path;

use super::temp::{io_err, TempFile};
use crate::buffer_pool;
use crate::error::Result;

pub(super) fn put_if_absent(root: &Path, key: &str, bytes: &[u8]) -> Result<bool> {
    let path = root.join(key);
    if path.exists() {
        return Ok(false);
    }
    // Removed when this returns, on every path: after a link the object has its own name.
    let tmp = TempFile::write(root, bytes)?;
    let mut linked = std::fs::hard_link(tmp.path(), &path);
    if matches!(&linked, Err(e) if e.kind() == ErrorKind::NotFound) {
        // Create the directory only when the first write into it finds it missing.
        let parent = path.parent().unwrap_or(root);
        std::fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e))?;
        linked = std::fs::hard_link(tmp.path(), &path);
    }
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err("link", &path, e)),
    }
}

/// Stores a content-addressed object: if it exists (with these very bytes), it is marked
/// written now instead, as a remote store's plain PUT would: garbage collection measures
/// its grace period from that time. One that vanishes in between is written anew.
pub(super) fn put_immutable(root: &Path, key: &str, bytes: &[u8]) -> Result<()> {
    let path = root.join(key);
    let touched = std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
    match touched {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => put_if_absent(root, key, bytes).map(|_| ()),
        Err(e) => Err(io_err("touch", &path, e)),
    }
}

/// A whole file; a large one into a pooled buffer (see `buffer_pool`).
pub(super) fn read(path: &Path) -> std::io::Result<bytes::Bytes> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    if len < buffer_pool::MIN_POOLED {
        let mut buf = Vec::with_capacity(len);
        file.read_to_end(&mut buf)?;
        return Ok(buf.into());
    }
    let mut buf = buffer_pool::take(len);
    file.read_to_end(&mut buf)?;
    Ok(buffer_pool::into_bytes(buf))
}

pub(super) fn exists(root: &Path, key: &str) -> Result<bool> {
    let path = root.join(key);
    match std::fs::metadata(&path) {
        Ok(m) => Ok(m.is_file()),
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => Ok(false),
        Err(e) => Err(io_err("stat", &path, e)),
    }
}

fn visible(entry: &std::fs::DirEntry) -> Option<String> {
    let name = entry.file_name().into_string().ok()?;
    (!name.starts_with('.')).then_some(name)
}

/// Every object key under `prefix` (a directory), sorted.
pub(super) fn list(root: &Path, prefix: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![prefix.to_string()];
    while let Some(dir) = stack.pop() {
        let path = root.join(&dir);
        let entries = match std::fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => continue,
            Err(e) => return Err(io_err("list", &path, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_err("list", &path, e))?;
            let Some(name) = visible(&entry) else { continue };
            let key = if dir.is_empty() { name } else { format!("{dir}/{name}") };
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(key);
            } else {
                out.push(key);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The names of the directories directly under `prefix`, sorted.
pub(super) fn list_dirs(root: &Path, prefix: &str) -> Result<Vec<String>> {
    let path = root.join(prefix);
    let entries = match std::fs::read_dir(&path) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", &path, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err("list", &path, e))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            if let Some(name) = visible(&entry) {
                out.push(name);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The keys of the files directly in `dir` whose name starts with `name_prefix`, sorted,
/// at most `limit`.
pub(super) fn list_names_with_prefix(root: &Path, dir: &str, name_prefix: &str, limit: usize) -> Result<Vec<String>> {
    let path = root.join(dir);
    let entries = match std::fs::read_dir(&path) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", &path, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err("list", &path, e))?;
        let Some(name) = visible(&entry) else { continue };
        if name.starts_with(name_prefix) && !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            names.push(name);
        }
    }
    names.sort();
    names.truncate(limit);
    Ok(names.into_iter().map(|n| format!("{dir}/{n}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_writer_wins_and_temp_files_stay_hidden() {
        let dir = tempfile::tempdir().unwrap();
        assert!(put_if_absent(dir.path(), "a/b/k", b"one").unwrap());
        assert!(!put_if_absent(dir.path(), "a/b/k", b"two").unwrap());
        assert_eq!(std::fs::read(dir.path().join("a/b/k")).unwrap(), b"one");
        std::fs::write(dir.path().join("a/b/.k.1234.tmp"), b"junk").unwrap();
        assert!(no_temp_files(dir.path()));
        assert!(put_if_absent(dir.path(), "a/c", b"x").unwrap());
        assert_eq!(
            list(dir.path(), "a").unwrap(),
            vec!["a/b/k".to_string(), "a/c".to_string()]
        );
        assert_eq!(
            list(dir.path(), "").unwrap(),
            vec!["a/b/k".to_string(), "a/c".to_string()]
        );
        assert_eq!(list_dirs(dir.path(), "a").unwrap(), vec!["b".to_string()]);
        assert!(list(dir.path(), "missing").unwrap().is_empty());
        assert!(list_dirs(dir.path(), "missing").unwrap().is_empty());
        assert!(exists(dir.path(), "a/b/k").unwrap());
        assert!(!exists(dir.path(), "a/b").unwrap(), "directories are not objects");
        assert!(!exists(dir.path(), "a/b/k/deeper").unwrap());
        assert!(put_if_absent(dir.path(), "a/x%2Fy", b"x").unwrap());
        assert!(exists(dir.path(), "a/x%2Fy").unwrap());
        assert!(dir.path().join("a/x%2Fy").is_file(), "keys are paths as they are");
        assert!(put_if_absent(dir.path(), "a/cd", b"x").unwrap());
        assert!(put_if_absent(dir.path(), "a/ce", b"x").unwrap());
        assert_eq!(
            list_names_with_prefix(dir.path(), "a", "c", 10).unwrap(),
            vec!["a/c".to_string(), "a/cd".to_string(), "a/ce".to_string()]
        );
        assert_eq!(
            list_names_with_prefix(dir.path(), "a", "c", 1).unwrap(),
            vec!["a/c".to_string()]
        );
        assert!(
            list_names_with_prefix(dir.path(), "a", "b", 10).unwrap().is_empty(),
            "dirs are not names"
        );
        assert!(list_names_with_prefix(dir.path(), "missing", "", 10)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn racing_puts_have_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let root = root.clone();
                std::thread::spawn(move || put_if_absent(&root, "refs/x/1", format!("{i}").as_bytes()).unwrap())
            })
            .collect();
        let wins = handles.into_iter().map(|h| h.join().unwrap()).filter(|w| *w).count();
        assert_eq!(wins, 1);
        assert!(
            no_temp_files(&root),
            "the losers' links failed: their temp files are gone"
        );
    }

    fn no_temp_files(root: &Path) -> bool {
        !std::fs::read_dir(root.join(super::super::temp::TEMP_DIR)).is_ok_and(|mut d| d.next().is_some())
    }

    #[test]
    fn a_failed_link_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        // The target's parent is a file: the link fails with something other than
        // AlreadyExists, after the temp file was written.
        let err = put_if_absent(dir.path(), "file/k", b"data").unwrap_err();
        assert!(err.to_string().contains("cannot link"), "{err}");
        assert!(no_temp_files(dir.path()));
        assert!(put_if_absent(dir.path(), "new/dir/k", b"data").unwrap());
        assert!(
            no_temp_files(dir.path()),
            "nor does a link that needed its directory created"
        );
    }
}
