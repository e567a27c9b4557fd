//! Append-only versioned cells: branches, tags and session state.
//!
//! A cell at `<prefix>` is the dense sequence `<prefix>/<seq>` for seq = 1, 2, ...; the
//! newest version is its value. A new version is written with put-if-absent at `seq + 1`,
//! so two writers racing for the same version cannot both win: a compare-and-swap that
//! works on every backend. Finding the newest version probes forward from the last seq this
//! process saw (usually one request) and falls back to an exponential search, never to
//! listing every version.
//!
//! A deleted version must never make an older one look newest (a branch silently rolled
//! back, or an empty branch whose next commit would be invisible): every search checks the
//! versions just past the tip it found, and a hole is `Corrupt`, naming what exists. The
//! newest version has nothing past it, so each version also leaves a witness, an empty
//! `<prefix>/<seq>.w` written once the version is in place: a witness without its version
//! is a deleted version too.

use std::collections::HashMap;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Result;
use crate::format::codec::{self, Kind};
use crate::storage::Storage;

#[derive(Debug)]
pub struct VersionedCells {
    storage: Storage,
    /// Last seen (seq, encoded value) per cell; versions are immutable so this never lies,
    /// it can only be behind.
    seen: Mutex<HashMap<String, (u64, Bytes)>>,
}

fn version_key(prefix: &str, seq: u64) -> String {
    format!("{prefix}/{seq:020}")
}

fn witness_key(prefix: &str, seq: u64) -> String {
    format!("{prefix}/{seq:020}.w")
}

impl VersionedCells {
    pub fn new(storage: Storage) -> Self {
        VersionedCells {
            storage,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this process last saw the cell with no version at all (so its first
    /// version can be put without a read: the put-if-absent fails if one appeared).
    pub fn known_empty(&self, prefix: &str) -> bool {
        matches!(self.seen.lock().get(prefix), Some((0, _)))
    }

    fn note_empty(&self, prefix: &str) {
        self.seen.lock().insert(prefix.to_string(), (0, Bytes::new()));
    }

    /// Where a search starts: the version seen last (seq 0: none), with its bytes.
    fn cached(&self, prefix: &str) -> (u64, Option<Bytes>) {
        match self.seen.lock().get(prefix).cloned() {
            Some((s, b)) if s > 0 => (s, Some(b)),
            _ => (0, None),
        }
    }

    /// The version of the cell this handle saw last (read or wrote), without a request.
    /// Only a starting point for a conditional write: a newer version makes it fail.
    pub fn last_seen<T: DeserializeOwned>(&self, kind: Kind, prefix: &str) -> Option<(u64, T)> {
        let (seq, bytes) = self.seen.lock().get(prefix).cloned().filter(|(seq, _)| *seq > 0)?;
        let value = codec::decode(kind, &version_key(prefix, seq), &bytes).ok()?;
        Some((seq, value))
    }

    /// Like `latest`, without the hole probes: GETs forward from the last version seen
    /// until one misses. For the check repeated after every write; a deleted version it
    /// cannot see is caught by the next full read (the commit's seal), before anything
    /// is committed.
    pub async fn latest_quick<T: DeserializeOwned>(&self, kind: Kind, prefix: &str) -> Result<Option<(u64, T)>> {
        let (mut seq, mut bytes) = self.cached(prefix);
        while let Some(b) = self.storage.get(&version_key(prefix, seq + 1)).await? {
            seq += 1;
            bytes = Some(b);
        }
        let Some(bytes) = bytes else {
            self.note_empty(prefix);
            return Ok(None);
        };
        let value = codec::decode(kind, &version_key(prefix, seq), &bytes)?;
        self.seen.lock().insert(prefix.to_string(), (seq, bytes));
        Ok(Some((seq, value)))
    }

    /// The newest version of the cell, with its seq, or `None` if it has none.
    pub async fn latest<T: DeserializeOwned>(&self, kind: Kind, prefix: &str) -> Result<Option<(u64, T)>> {
        let (mut seq, mut bytes) = self.cached(prefix);
        // After a cold start, version seq + 1 was just seen missing.
        let mut next_known_missing = false;
        if seq == 0 {
            // Most refs are short: version 1, version 2 and the witness of 2 at once, which
            // settle a ref of one version in one round trip.
            let (k1, k2) = (version_key(prefix, 1), version_key(prefix, 2));
            let (one, two, past) = futures::try_join!(
                self.storage.get(&k1),
                self.storage.exists(&k2),
                self.versions_past(prefix, 1),
            )?;
            match (one, two) {
                (Some(b), false) if !past => {
                    let value = codec::decode(kind, &k1, &b)?;
                    self.seen.lock().insert(prefix.to_string(), (1, b));
                    return Ok(Some((1, value)));
                }
                (Some(b), false) => {
                    (seq, bytes) = (1, Some(b)); // a hole at 2: the search below reports it
                }
                // A version 2 without 1 is a hole too, which the witness of 1 shows.
                (None, _) => {}
                (Some(_), true) => seq = self.find_newest_from(prefix, 2).await?,
            }
            next_known_missing = true;
        }
        // The first round asks everything at once: the next version, the hole probes past
        // the tip, and the tip's bytes if they are not at hand. Usually nothing is newer,
        // and that round is the whole search (one round trip). Later rounds, walking over
        // versions that landed since, read one version at a time.
        let mut first_round = true;
        loop {
            let want_next = !next_known_missing;
            next_known_missing = false;
            let want_tip = seq > 0 && bytes.is_none();
            let (next, past, tip) = if first_round {
                futures::try_join!(
                    self.get_if(want_next, version_key(prefix, seq + 1)),
                    self.versions_past(prefix, seq),
                    self.get_if(want_tip, version_key(prefix, seq)),
                )?
            } else {
                (self.get_if(want_next, version_key(prefix, seq + 1)).await?, false, None)
            };
            if want_tip {
                match tip {
                    Some(b) => bytes = Some(b),
                    None => {
                        return Err(crate::error::Error::corrupt(
                            version_key(prefix, seq),
                            "ref version vanished",
                        ))
                    }
                }
            }
            if let Some(b) = next {
                seq += 1;
                bytes = Some(b);
                first_round = false;
                continue;
            }
            if !first_round {
                // Past the versions that landed: the hole probes for the tip reached.
                first_round = true;
                next_known_missing = true;
                continue;
            }
            if !past {
                break;
            }
            // Something lies past a missing seq + 1. A writer stores a version before its
            // witness, and a version only after the one before it, so one may have landed
            // between our read and the probes: read it again before calling it a hole.
            match self.storage.get(&version_key(prefix, seq + 1)).await? {
                Some(b) => {
                    seq += 1;
                    bytes = Some(b);
                    first_round = false;
                }
                None => return Err(self.hole_error(prefix, seq + 1).await),
            }
        }
        let Some(bytes) = bytes.filter(|_| seq > 0) else {
            self.note_empty(prefix);
            return Ok(None);
        };
        let value = codec::decode(kind, &version_key(prefix, seq), &bytes)?;
        self.seen.lock().insert(prefix.to_string(), (seq, bytes));
        Ok(Some((seq, value)))
    }

    async fn get_if(&self, wanted: bool, key: String) -> Result<Option<Bytes>> {
        if wanted {
            self.storage.get(&key).await
        } else {
            Ok(None)
        }
    }

    /// Whether version `seq + 1` was ever written: its witness exists. Every version
    /// leaves one, so one probe finds a deleted version, whether it was the newest or
    /// had later ones. (Probing later versions as well would only add the case of a
    /// version whose witness write failed and that was then deleted.)
    async fn versions_past(&self, prefix: &str, seq: u64) -> Result<bool> {
        self.storage.exists(&witness_key(prefix, seq + 1)).await
    }

    async fn hole_error(&self, prefix: &str, missing: u64) -> crate::error::Error {
        let mut found: Vec<u64> = match self.storage.list(prefix).await {
            // Witnesses ("<seq>.w") do not parse: only versions are listed.
            Ok(keys) => keys.iter().filter_map(|k| k.rsplit('/').next()?.parse().ok()).collect(),
            Err(e) => return e,
        };
        found.sort_unstable();
        let shown: Vec<String> = found.iter().take(20).map(u64::to_string).collect();
        let more = if found.len() > shown.len() { ", ..." } else { "" };
        crate::error::Error::corrupt(
            version_key(prefix, missing),
            format!(
                "{prefix} is missing version {missing}, which was written (versions present: {}{more}); \
                 its tip cannot be trusted, so it is neither read nor moved",
                shown.join(", ")
            ),
        )
    }

    /// The newest version, searching up from `lo`, which exists: exponential, then binary.
    async fn find_newest_from(&self, prefix: &str, mut lo: u64) -> Result<u64> {
        let mut hi = lo.saturating_mul(2);
        while self.storage.exists(&version_key(prefix, hi)).await? {
            lo = hi;
            hi = hi.saturating_mul(2);
        }
        // lo exists, hi does not.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.storage.exists(&version_key(prefix, mid)).await? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Writes version `after + 1`. Returns false if another writer got there first.
    pub async fn put_next<T: Serialize>(&self, kind: Kind, prefix: &str, after: u64, value: &T) -> Result<bool> {
        let bytes = codec::encode(kind, value)?;
        let seq = after + 1;
        let won = self
            .storage
            .put_if_absent(&version_key(prefix, seq), bytes.clone())
            .await?;
        if won {
            self.seen.lock().insert(prefix.to_string(), (seq, bytes));
            // The version is in place whatever happens now, so a failed witness is not an
            // error: it only leaves this version's deletion undetectable.
            let _ = self
                .storage
                .put_if_absent(&witness_key(prefix, seq), Bytes::new())
                .await;
        }
        Ok(won)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Location;

    #[tokio::test]
    async fn versions_race_and_newest_is_found_cold() {
        let loc = Location::Memory(format!("refs-test-{}", crate::format::ObjectId::new()));
        let a = VersionedCells::new(Storage::open(&loc).unwrap());
        let b = VersionedCells::new(Storage::open(&loc).unwrap());
        assert!(a.latest::<String>(Kind::Ref, "refs/x").await.unwrap().is_none());
        assert!(a.put_next(Kind::Ref, "refs/x", 0, &"one".to_string()).await.unwrap());
        // b has not seen version 1: its write of version 1 must lose.
        assert!(!b.put_next(Kind::Ref, "refs/x", 0, &"other".to_string()).await.unwrap());
        for i in 1..37u64 {
            assert!(a
                .put_next(Kind::Ref, "refs/x", i, &format!("v{}", i + 1))
                .await
                .unwrap());
        }
        let (seq, v): (u64, String) = b.latest(Kind::Ref, "refs/x").await.unwrap().unwrap();
        assert_eq!((seq, v.as_str()), (37, "v37"));
        let fresh = VersionedCells::new(Storage::open(&loc).unwrap());
        let (seq, _): (u64, String) = fresh.latest(Kind::Ref, "refs/x").await.unwrap().unwrap();
        assert_eq!(seq, 37);
    }

    /// A cell with versions 1..=n, then version `missing` deleted.
    async fn cell_with_hole(n: u64, missing: u64) -> Storage {
        let loc = Location::Memory(format!("refs-hole-{}", crate::format::ObjectId::new()));
        let storage = Storage::open(&loc).unwrap();
        let w = VersionedCells::new(storage.clone());
        for i in 0..n {
            let v = format!("v{}", i + 1);
            assert!(w.put_next(Kind::Ref, "refs/m", i, &v).await.unwrap());
        }
        storage.delete(&version_key("refs/m", missing)).await.unwrap();
        storage
    }

    #[tokio::test]
    async fn a_missing_version_is_corruption_not_an_older_tip() {
        // Four versions, one deleted: a reader gets the true tip or an error naming the
        // hole, never an older version and never "no versions".
        for missing in [1u64, 2, 3, 4] {
            let storage = cell_with_hole(4, missing).await;
            match VersionedCells::new(storage.clone())
                .latest::<String>(Kind::Ref, "refs/m")
                .await
            {
                Ok(Some((4, v))) => assert_eq!(v, "v4", "missing {missing}"),
                Ok(other) => panic!("missing {missing}: wrong tip {other:?}"),
                Err(e) => {
                    assert_eq!(e.kind(), "corrupt_object", "missing {missing}");
                    assert!(e.to_string().contains(&format!("missing version {missing}")), "{e}");
                }
            }
            if missing > 1 {
                // A handle that last saw the version below the hole refuses to go on from it.
                let warm = VersionedCells::new(storage);
                warm.seen.lock().insert("refs/m".into(), (missing - 1, Bytes::new()));
                let err = warm.latest::<String>(Kind::Ref, "refs/m").await.unwrap_err();
                assert_eq!(err.kind(), "corrupt_object");
            }
        }
        // The cases that used to resolve wrongly: any version of 3 missing, the newest
        // (found only by its witness) and the only one included.
        let only = VersionedCells::new(cell_with_hole(1, 1).await);
        assert_eq!(
            only.latest::<String>(Kind::Ref, "refs/m").await.unwrap_err().kind(),
            "corrupt_object"
        );
        for missing in [1u64, 2, 3] {
            let err = VersionedCells::new(cell_with_hole(3, missing).await)
                .latest::<String>(Kind::Ref, "refs/m")
                .await
                .unwrap_err();
            assert!(err.to_string().contains("versions present: "), "{err}");
        }
    }
}
