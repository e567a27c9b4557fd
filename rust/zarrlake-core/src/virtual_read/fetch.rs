//! One ranged GET of a virtual source, with the source-change guards.
//!
//! A reference may record the source's ETag and modification time (microseconds). A read
//! sends the ETag as `If-Match` (remote stores answer 412 if it changed) and compares the
//! ETag and modification time the store reports, so a changed source fails with
//! `SourceChanged` instead of returning wrong bytes. A missing source, or one now shorter
//! than the reference, fails the same way.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore};

use super::access::Policy;
use super::source_url::{Scheme, SourceUrl};
use super::stores::store_for;
use crate::error::{Error, Result};

/// A source that passed the access check, ready to read from.
#[derive(Clone)]
pub struct Source {
    /// The canonical URL, for messages.
    pub url: String,
    pub scheme: Scheme,
    pub store: Arc<dyn ObjectStore>,
    pub path: ObjPath,
}

/// What a reference recorded about its source's version.
#[derive(Clone, Copy, Debug, Default)]
pub struct Version<'a> {
    pub etag: Option<&'a str>,
    pub mtime: Option<i64>,
}

fn changed(key: &str, url: &str, why: &str) -> Error {
    Error::SourceChanged(format!(
        "virtual chunk '{key}' cannot be read: its source {url} {why}; the reference would \
         return wrong bytes, so re-ingest the source into the repo"
    ))
}

/// Checks `url` against the policy and finds its store and path.
pub async fn resolve(policy: &Policy, key: &str, url: &str) -> Result<Source> {
    let u = SourceUrl::parse(url).map_err(|e| match e {
        Error::InvalidInput(m) => Error::InvalidInput(format!("virtual chunk '{key}': {m}")),
        other => other,
    })?;
    let canonical_url = u.canonical();
    let path = if u.scheme == Scheme::File {
        let (policy, key_s, u2) = (policy.clone(), key.to_string(), u.clone());
        let canon: PathBuf = tokio::task::spawn_blocking(move || -> Result<PathBuf> {
            let raw = PathBuf::from(&u2.path);
            match std::fs::canonicalize(&raw) {
                Ok(c) => {
                    policy.check_local(&key_s, &u2, &c, false)?;
                    Ok(c)
                }
                Err(e) => {
                    // Never tell a reader more about a file it may not read.
                    policy.check_local(&key_s, &u2, &raw, true)?;
                    Err(if e.kind() == std::io::ErrorKind::NotFound {
                        changed(&key_s, &u2.canonical(), "no longer exists")
                    } else {
                        Error::Storage(format!("virtual chunk '{key_s}': cannot open {}: {e}", u2.canonical()))
                    })
                }
            }
        })
        .await??;
        ObjPath::from_absolute_path(&canon)
            .map_err(|e| Error::InvalidInput(format!("virtual chunk '{key}': bad local path {canonical_url}: {e}")))?
    } else {
        policy.check_remote(key, &u)?;
        ObjPath::parse(&u.path).map_err(|e| {
            Error::InvalidInput(format!("virtual chunk '{key}': bad object key in {canonical_url}: {e}"))
        })?
    };
    let store = store_for(&u)?;
    Ok(Source {
        url: canonical_url,
        scheme: u.scheme,
        store,
        path,
    })
}

fn map_err(e: object_store::Error, key: &str, url: &str) -> Error {
    match e {
        object_store::Error::Precondition { .. } | object_store::Error::NotModified { .. } => {
            changed(key, url, "changed since it was referenced (its ETag no longer matches)")
        }
        object_store::Error::NotFound { .. } => changed(key, url, "no longer exists"),
        other => Error::Storage(format!("reading virtual chunk '{key}' from {url}: {other}")),
    }
}

/// Fails if the store reports a different ETag or modification time than the reference.
fn check_version(meta: &ObjectMeta, scheme: Scheme, v: Version<'_>, key: &str, url: &str) -> Result<()> {
    if scheme != Scheme::File {
        if let (Some(want), Some(got)) = (v.etag, meta.e_tag.as_deref()) {
            if want.trim_matches('"') != got.trim_matches('"') {
                return Err(changed(
                    key,
                    url,
                    &format!("changed since it was referenced (ETag {got}, expected {want})"),
                ));
            }
        }
    }
    if let Some(want) = v.mtime {
        let got = meta.last_modified.timestamp_micros();
        if got != want {
            return Err(changed(
                key,
                url,
                &format!("was modified after it was referenced (modification time {got} µs, expected {want} µs)"),
            ));
        }
    }
    Ok(())
}

/// Reads `range` of the source, checking its version.
pub async fn fetch(src: &Source, key: &str, range: Range<u64>, v: Version<'_>) -> Result<Bytes> {
    if range.start >= range.end {
        return Ok(Bytes::new());
    }
    let want = range.end - range.start;
    let if_match = if src.scheme == Scheme::File {
        None
    } else {
        v.etag.map(str::to_string)
    };
    let opts = GetOptions::default()
        .with_range(Some(GetRange::Bounded(range.clone())))
        .with_if_match(if_match);
    let res = src
        .store
        .get_opts(&src.path, opts)
        .await
        .map_err(|e| map_err(e, key, &src.url))?;
    check_version(&res.meta, src.scheme, v, key, &src.url)?;
    if res.meta.size < range.end {
        return Err(changed(
            key,
            &src.url,
            &format!(
                "is {} bytes long, shorter than the referenced range {}..{}",
                res.meta.size, range.start, range.end
            ),
        ));
    }
    let bytes = res.bytes().await.map_err(|e| map_err(e, key, &src.url))?;
    if bytes.len() as u64 != want {
        return Err(changed(
            key,
            &src.url,
            &format!("returned {} bytes where {want} were referenced", bytes.len()),
        ));
    }
    Ok(bytes)
}
