//! Reading virtual chunks: byte ranges of external objects, from allowed prefixes only.
//!
//! ```text
//! ChunkRef::Virtual{url, offset, len, etag, mtime}
//!   -> source_url  parse; refuse unknown schemes and '.'/'..' segments
//!   -> access      allowed prefix? (local files: client-named prefixes, canonical paths)
//!   -> stores      cached client per bucket/host (object_store; AWS_*/GOOGLE_* env)
//!   -> coalesce    (get_many) merge nearby ranges of one source into one request
//!   -> batcher     (single remote reads) the same, for reads arriving within 2 ms
//!   -> fetch       ranged GET with If-Match; compare ETag/mtime -> SourceChanged
//! ```

mod access;
mod batch;
mod batcher;
mod coalesce;
mod fetch;
mod source_url;
mod stores;

use std::ops::Range;

use bytes::Bytes;

pub use access::Policy;
pub use batch::read_values;
pub use coalesce::{plan, Merged, CONCURRENCY, MAX_GAP, MAX_MERGED};
pub use source_url::{Scheme, SourceUrl};

use crate::error::{Error, Result};
use crate::format::ChunkRef;
use crate::repo::Repository;

/// Reads the (optionally sub-ranged, already clamped) bytes of a virtual chunk ref.
pub async fn read(repo: &Repository, key: &str, r: &ChunkRef, range: Option<Range<u64>>) -> Result<Bytes> {
    let ChunkRef::Virtual(v) = r else {
        return Err(Error::InvalidInput(format!("'{key}' is not a virtual chunk")));
    };
    let crate::format::VirtualRef {
        url,
        offset,
        len,
        etag,
        mtime,
    } = v.as_ref();
    let rg = range.unwrap_or(0..*len);
    let policy = Policy::for_repo(repo);
    let src = fetch::resolve(&policy, key, url).await?;
    let abs = source_range(key, *offset, rg)?;
    if src.scheme == Scheme::File || abs.is_empty() {
        let v = fetch::Version {
            etag: etag.as_deref(),
            mtime: *mtime,
        };
        return fetch::fetch(&src, key, abs, v).await;
    }
    batcher::read(src, key, abs, etag.clone(), *mtime).await
}

/// Where `rg` of a virtual chunk lies in its source file. Refs come from outside, so
/// one whose range does not fit in a u64 is refused rather than wrapped around.
pub(crate) fn source_range(key: &str, offset: u64, rg: std::ops::Range<u64>) -> Result<std::ops::Range<u64>> {
    match (offset.checked_add(rg.start), offset.checked_add(rg.end)) {
        (Some(start), Some(end)) => Ok(start..end),
        _ => Err(Error::corrupt(
            key,
            format!("virtual reference at offset {offset} runs past the largest file size"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::RepoConfig;
    use crate::repo::Author;
    use crate::session::{ByteRange, Session};

    struct Fixture {
        _dir: tempfile::TempDir,
        data: tempfile::TempDir,
        file: std::path::PathBuf,
        repo: Repository,
    }

    async fn fixture(config_prefixes: Vec<String>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let file = std::fs::canonicalize(data.path()).unwrap().join("src.bin");
        std::fs::write(&file, (0..=255u8).cycle().take(4096).collect::<Vec<u8>>()).unwrap();
        let cfg = RepoConfig {
            virtual_prefixes: config_prefixes,
            ..RepoConfig::default()
        };
        let repo = Repository::create(dir.path().join("repo").to_str().unwrap(), cfg)
            .await
            .unwrap();
        Fixture {
            _dir: dir,
            data,
            file,
            repo,
        }
    }

    fn mtime_micros(p: &std::path::Path) -> i64 {
        let m = std::fs::metadata(p).unwrap().modified().unwrap();
        m.duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64
    }

    async fn session(repo: &Repository) -> Session {
        repo.start_session(Some("main".into()), None, true, 3_600_000_000, Author::default(), None)
            .await
            .unwrap()
    }

    fn vref(f: &Fixture, offset: u64, len: u64, mtime: Option<i64>) -> ChunkRef {
        ChunkRef::new_virtual(format!("file://{}", f.file.display()), offset, len, None, mtime)
    }

    #[tokio::test]
    async fn a_reference_past_the_largest_file_size_is_refused() {
        let f = fixture(vec!["file:///".into()]).await;
        let s = session(&f.repo).await;
        let err = s
            .set_refs(vec![("a/0".into(), vref(&f, u64::MAX - 1, 5, None))])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "invalid_input", "{err}");
        assert!(err.to_string().contains("'a/0'"), "{err}");
        let wrapped = source_range("a/0", u64::MAX - 1, 0..5).unwrap_err();
        assert_eq!(wrapped.kind(), "corrupt_object");
    }

    #[tokio::test]
    async fn local_reads_need_an_explicit_client_prefix() {
        let f = fixture(vec!["file:///".into()]).await;
        let s = session(&f.repo).await;
        s.set_refs(vec![("a/0".into(), vref(&f, 10, 5, None))]).await.unwrap();
        let e = s.get("a/0", None).await.unwrap_err();
        assert_eq!(e.kind(), "virtual_not_allowed", "{e}");
        assert!(e.to_string().contains("allow_virtual"), "{e}");
        f.repo.allow_virtual(vec![f.data.path().display().to_string()]);
        let b = s.get("a/0", None).await.unwrap().unwrap();
        assert_eq!(&b[..], &[10, 11, 12, 13, 14]);
        let part = s.get("a/0", Some(ByteRange::Range(1, 3))).await.unwrap().unwrap();
        assert_eq!(&part[..], &[11, 12]);
    }

    #[tokio::test]
    async fn changed_and_missing_sources_fail_clearly() {
        let f = fixture(vec![]).await;
        f.repo
            .allow_virtual(vec![format!("file://{}/", f.data.path().display())]);
        let s = session(&f.repo).await;
        let m = mtime_micros(&f.file);
        s.set_refs(vec![
            ("a/0".into(), vref(&f, 0, 4, Some(m))),
            ("a/1".into(), vref(&f, 4000, 200, None)),
        ])
        .await
        .unwrap();
        assert_eq!(s.get("a/0", None).await.unwrap().unwrap().len(), 4);
        // Beyond the end of the file.
        assert_eq!(s.get("a/1", None).await.unwrap_err().kind(), "source_changed");
        // Rewrite the file with a different modification time.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&f.file, vec![7u8; 4096]).unwrap();
        let e = s.get("a/0", None).await.unwrap_err();
        assert_eq!(e.kind(), "source_changed", "{e}");
        assert!(e.to_string().contains("modified"), "{e}");
        std::fs::remove_file(&f.file).unwrap();
        let e = s.get("a/0", None).await.unwrap_err();
        assert_eq!(e.kind(), "source_changed");
        assert!(e.to_string().contains("no longer exists"), "{e}");
    }

    #[tokio::test]
    async fn get_many_coalesces_and_mixes_kinds() {
        let f = fixture(vec![]).await;
        f.repo.allow_virtual(vec![f.data.path().display().to_string()]);
        let s = session(&f.repo).await;
        let mut refs = Vec::new();
        for i in 0..20u64 {
            refs.push((format!("v/{i}"), vref(&f, i * 100, 50, None)));
        }
        s.set_refs(refs).await.unwrap();
        s.set_many(vec![
            ("v/.zarray".into(), Bytes::from_static(b"{}")),
            ("w/0".into(), Bytes::from(vec![9u8; 2000])),
        ])
        .await
        .unwrap();
        let mut reqs: Vec<(String, Option<ByteRange>)> = (0..20).rev().map(|i| (format!("v/{i}"), None)).collect();
        reqs.push(("v/.zarray".into(), None));
        reqs.push(("w/0".into(), Some(ByteRange::Suffix(3))));
        reqs.push(("missing/0".into(), None));
        reqs.push(("v/3".into(), Some(ByteRange::Range(10, 20))));
        let got = s.get_many(reqs).await.unwrap();
        for (j, i) in (0..20u64).rev().enumerate() {
            let want: Vec<u8> = (i * 100..i * 100 + 50).map(|x| (x % 256) as u8).collect();
            assert_eq!(got[j].as_deref(), Some(&want[..]), "chunk {i}");
        }
        assert_eq!(got[20].as_deref(), Some(&b"{}"[..]));
        assert_eq!(got[21].as_deref(), Some(&[9u8, 9, 9][..]));
        assert_eq!(got[22], None);
        let want: Vec<u8> = (310..320u64).map(|x| (x % 256) as u8).collect();
        assert_eq!(got[23].as_deref(), Some(&want[..]));
    }

    #[tokio::test]
    async fn remote_refs_outside_the_prefixes_are_refused() {
        let f = fixture(vec!["s3://allowed-bucket/".into()]).await;
        let s = session(&f.repo).await;
        let r = ChunkRef::new_virtual("s3://other-bucket/x.nc".into(), 0, 4, None, None);
        s.set_refs(vec![("a/0".into(), r)]).await.unwrap();
        let e = s.get("a/0", None).await.unwrap_err();
        assert_eq!(e.kind(), "virtual_not_allowed");
        assert!(e.to_string().contains("s3://other-bucket/"), "{e}");
        let e = s.get_many(vec![("a/0".into(), None)]).await.unwrap_err();
        assert_eq!(e.kind(), "virtual_not_allowed");
    }
}
