//! Which virtual references a reader may follow.
//!
//! Invariants:
//! - A remote reference (s3, gs, http, https) is read only if its URL starts with an allowed
//!   prefix at a path boundary (`s3://bucket` allows `s3://bucket/x`, not `s3://bucket2/x`).
//!   Allowed remote prefixes come from the repo config and from the reading client, and
//!   must name a bucket or host: `s3://` alone allows nothing.
//! - A local file is read only if its canonical path (symlinks resolved) lies under a local
//!   prefix that the *reading client* named. Local prefixes in the repo config are ignored:
//!   opening a repo someone else made must never read arbitrary local files.

use std::path::{Path, PathBuf};

use super::source_url::{Scheme, SourceUrl};
use crate::error::{Error, Result};
use crate::repo::Repository;

/// The prefixes one read may use, split by where they came from.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Remote prefixes (repo config and client), normalised.
    remote: Vec<String>,
    /// Local prefixes the client named, as absolute (not yet canonical) paths.
    local: Vec<PathBuf>,
}

/// A local prefix as a filesystem path: `file:///a/b/`, `/a/b` or a relative path.
fn local_prefix_path(prefix: &str) -> Option<PathBuf> {
    if let Some(rest) = prefix.strip_prefix("file://") {
        let rest = rest.strip_prefix("localhost").unwrap_or(rest);
        return rest.starts_with('/').then(|| PathBuf::from(rest));
    }
    if prefix.contains("://") || prefix.is_empty() {
        return None;
    }
    Some(PathBuf::from(prefix))
}

/// A remote prefix with its scheme lower-cased, or `None` if it names no bucket or host.
fn remote_prefix(prefix: &str) -> Option<String> {
    let (scheme, rest) = prefix.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "s3" | "s3a" => "s3",
        "gs" | "gcs" => "gs",
        "http" => "http",
        "https" => "https",
        _ => return None,
    };
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{rest}"))
}

/// True if `url` starts with `prefix` at a path boundary.
fn has_prefix(url: &str, prefix: &str) -> bool {
    url.starts_with(prefix)
        && (prefix.ends_with('/') || url.len() == prefix.len() || url.as_bytes().get(prefix.len()) == Some(&b'/'))
}

impl Policy {
    /// Builds a policy from the repo config's prefixes and the client's.
    pub fn new(config_prefixes: &[String], client_prefixes: &[String]) -> Self {
        let mut p = Policy::default();
        for pre in config_prefixes.iter().chain(client_prefixes) {
            if let Some(r) = remote_prefix(pre) {
                p.remote.push(r);
            }
        }
        for pre in client_prefixes {
            if let Some(l) = local_prefix_path(pre) {
                p.local.push(l);
            }
        }
        p
    }

    /// The policy of a repo handle: its config's prefixes plus those its client allowed.
    pub fn for_repo(repo: &Repository) -> Self {
        let all = repo.allowed_virtual_prefixes();
        let n_config = repo.config().virtual_prefixes.len().min(all.len());
        let (config, client) = all.split_at(n_config);
        Policy::new(config, client)
    }

    /// Checks a remote (non-`file`) URL.
    pub fn check_remote(&self, key: &str, url: &SourceUrl) -> Result<()> {
        debug_assert!(url.scheme != Scheme::File);
        let canonical = url.canonical();
        if self.remote.iter().any(|p| has_prefix(&canonical, p)) {
            return Ok(());
        }
        let suggest = url.suggested_prefix();
        Err(Error::VirtualNotAllowed(format!(
            "virtual chunk '{key}' refers to {canonical}, which is outside the virtual prefixes this \
             reader allows (prefix {suggest}); allow it with Client(..., allow_virtual=[\"{suggest}\"])"
        )))
    }

    /// Checks a local file by its canonical path (symlinks resolved). For a file that does
    /// not exist, pass its literal path and `lexical = true`: it is then also compared with
    /// the prefixes as the client spelled them.
    pub fn check_local(&self, key: &str, url: &SourceUrl, path: &Path, lexical: bool) -> Result<()> {
        let allowed = self.local.iter().any(|dir| {
            let canonical_ok = std::fs::canonicalize(dir).is_ok_and(|c| path.starts_with(&c));
            canonical_ok || (lexical && dir.is_absolute() && path.starts_with(dir))
        });
        if allowed {
            return Ok(());
        }
        let suggest = url.suggested_prefix();
        Err(Error::VirtualNotAllowed(format!(
            "virtual chunk '{key}' refers to the local file {}, and local files are read only from \
             prefixes the reading client names explicitly (prefix {suggest}); allow it with \
             Client(..., allow_virtual=[\"{suggest}\"])",
            url.canonical()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> SourceUrl {
        SourceUrl::parse(s).unwrap()
    }

    #[test]
    fn remote_prefixes_match_at_boundaries() {
        let p = Policy::new(
            &["s3://bucket".into()],
            &["https://host/data/".into(), "S3://other/".into()],
        );
        assert!(p.check_remote("k", &url("s3://bucket/a.nc")).is_ok());
        assert!(p.check_remote("k", &url("s3://other/a.nc")).is_ok());
        assert!(p.check_remote("k", &url("https://host/data/x/y.tif")).is_ok());
        let e = p.check_remote("x/0.0", &url("s3://bucket2/a.nc")).unwrap_err();
        assert_eq!(e.kind(), "virtual_not_allowed");
        let msg = e.to_string();
        assert!(msg.contains("s3://bucket2/") && msg.contains("allow_virtual"), "{msg}");
        assert!(p.check_remote("k", &url("https://host/datax/y.tif")).is_err());
    }

    #[test]
    fn broad_prefixes_allow_nothing() {
        let p = Policy::new(&["s3://".into(), "".into(), "https://".into()], &[]);
        assert!(p.check_remote("k", &url("s3://b/k")).is_err());
        assert!(p.check_remote("k", &url("https://h/k")).is_err());
    }

    #[test]
    fn local_files_need_a_client_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.nc");
        std::fs::write(&f, b"x").unwrap();
        let canon = std::fs::canonicalize(&f).unwrap();
        let u = url(&format!("file://{}", canon.display()));
        let dir_url = format!("file://{}/", dir.path().display());
        // From the repo config only: refused.
        let p = Policy::new(std::slice::from_ref(&dir_url), &[]);
        let e = p.check_local("k", &u, &canon, false).unwrap_err();
        assert!(e.to_string().contains("local files are read only"), "{e}");
        // Named by the client (URL or plain path): allowed.
        assert!(Policy::new(&[], &[dir_url]).check_local("k", &u, &canon, false).is_ok());
        let plain = dir.path().display().to_string();
        assert!(Policy::new(&[], &[plain]).check_local("k", &u, &canon, false).is_ok());
        // A sibling directory does not count.
        let other = tempfile::tempdir().unwrap();
        let p = Policy::new(&[], &[other.path().display().to_string()]);
        assert!(p.check_local("k", &u, &canon, false).is_err());
    }

    #[test]
    fn symlinks_out_of_an_allowed_dir_are_refused() {
        let allowed = tempfile::tempdir().unwrap();
        let secret = tempfile::tempdir().unwrap();
        let target = secret.path().join("secret");
        std::fs::write(&target, b"s").unwrap();
        let link = allowed.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let canon = std::fs::canonicalize(&link).unwrap();
        let u = url(&format!("file://{}", link.display()));
        let p = Policy::new(&[], &[allowed.path().display().to_string()]);
        assert!(p.check_local("k", &u, &canon, false).is_err());
    }

    #[test]
    fn repo_policy_splits_config_and_client() {
        let p = Policy::new(&["file:///".into()], &[]);
        assert!(p.local.is_empty());
        assert!(p.remote.is_empty());
    }
}
