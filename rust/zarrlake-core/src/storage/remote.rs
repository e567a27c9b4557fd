//! What writing to a remote object store needs beyond a plain request: deciding a
//! put-if-absent whose response was lost, checking once that the store really refuses a
//! second put-if-absent, and naming a missing bucket.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::process::ForkLocal;

/// How often a put-if-absent whose outcome is unknown is resent (about 25 s in all with
/// `backoff`): the exclusive client resends nothing itself.
pub(super) const LOST_PUT_RETRIES: u32 = 10;

pub(super) fn create_opts() -> PutOptions {
    PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    }
}

/// True when a failed put may nevertheless have been stored: it timed out, its connection
/// dropped, or the server failed after receiving it. Only a definite answer (exists,
/// refused, bad request) rules that out.
pub(super) fn may_have_landed(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    // A client error is a definite refusal, but for a timeout, a conflict with a concurrent
    // conditional write (S3's 409) and throttling.
    if let Some(status) = http_status(e) {
        if (400..500).contains(&status) && ![408, 409, 429].contains(&status) {
            return false;
        }
    }
    !matches!(
        e,
        E::NotFound { .. }
            | E::AlreadyExists { .. }
            | E::Precondition { .. }
            | E::NotModified { .. }
            | E::NotImplemented { .. }
            | E::NotSupported { .. }
            | E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::InvalidPath { .. }
            | E::UnknownConfigurationKey { .. }
    )
}

/// The HTTP status in object_store's message for a non-2xx answer (it keeps the typed
/// error private).
fn http_status(e: &object_store::Error) -> Option<u16> {
    let text = e.to_string();
    let (_, rest) = text.split_once("status code: ")?;
    rest.get(..3)?.parse().ok()
}

/// What reading a key back says about a put of `ours`: `None` if nothing is there,
/// `Some(true)` if exactly our bytes are (so our put landed, or an identical one did),
/// `Some(false)` if another writer's are.
///
/// Deciding by content is sound because every object written exclusively (a ref version,
/// a session state, a fragment) carries its writer's identity or is a pure function of
/// what it records: equal bytes mean an equal outcome.
pub(super) fn compare(found: Option<&Bytes>, ours: &Bytes) -> Option<bool> {
    found.map(|b| b == ours)
}

/// Jittered backoff before resending a put that did not land: 50-100 ms, doubling.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = 50u64 << attempt.min(6);
    let jitter = u64::from(crate::process::random_bytes::<1>()[0]) * base / 255;
    Duration::from_millis(base + jitter)
}

/// Buckets (with their options) whose conditional puts this process has checked.
static CHECKED: ForkLocal<Mutex<HashSet<String>>> = ForkLocal::new();

/// Fails unless `store` refuses a second put-if-absent of one key. Run once per process
/// and bucket before the first exclusive write: a store that ignores `If-None-Match`
/// would let two committers both "win" one ref version, and one commit would be lost.
pub(super) async fn check_conditional_puts(
    store: &dyn ObjectStore,
    probe_dir: &str,
    cache_key: &str,
    shown: &str,
) -> Result<()> {
    let checked = CHECKED.get_or_init(Default::default);
    if checked.lock().contains(cache_key) {
        return Ok(());
    }
    let unsupported = |why: &str| {
        Error::Unsupported(format!(
            "{shown} cannot be written safely: {why}. zarrlake needs put-if-absent (`If-None-Match: *` on S3, \
             generation preconditions on GCS, `If-None-Match` on Azure) so that concurrent commits cannot \
             overwrite each other; use a store that enforces it"
        ))
    };
    // A probe that hit a transient failure (reset, timeout, 5xx) says nothing about the
    // store: it is run again on a fresh key.
    let mut attempt = 0;
    let outcome = loop {
        let path = Path::from(format!(
            "{probe_dir}{}",
            hex::encode(crate::process::random_bytes::<8>())
        ));
        match probe_once(store, &path).await {
            Err(e) if may_have_landed(&e) && attempt < PROBE_ATTEMPTS => {
                let _ = store.delete(&path).await; // it may have landed
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
            }
            other => break other,
        }
    };
    match outcome {
        Ok(Probe::Refused) => {
            checked.lock().insert(cache_key.to_string());
            Ok(())
        }
        Ok(Probe::Accepted) => Err(unsupported("it accepted a second put-if-absent of one key")),
        Ok(Probe::NotSupported) => Err(unsupported("its client has conditional puts turned off")),
        Err(e) => Err(Error::from(e)),
    }
}

const PROBE_ATTEMPTS: u32 = 5;

/// What a store did with a second put-if-absent of one key.
enum Probe {
    Refused,
    Accepted,
    NotSupported,
}

async fn probe_once(store: &dyn ObjectStore, path: &Path) -> std::result::Result<Probe, object_store::Error> {
    match store.put_opts(path, PutPayload::from_static(b"1"), create_opts()).await {
        Ok(_) => {}
        Err(object_store::Error::NotImplemented { .. } | object_store::Error::NotSupported { .. }) => {
            return Ok(Probe::NotSupported);
        }
        Err(e) => return Err(e),
    }
    let second = store.put_opts(path, PutPayload::from_static(b"2"), create_opts()).await;
    let _ = store.delete(path).await;
    match second {
        Err(object_store::Error::AlreadyExists { .. }) => Ok(Probe::Refused),
        Ok(_) => Ok(Probe::Accepted),
        Err(e) => Err(e),
    }
}

/// The error for a request against a bucket that does not exist, naming it; `None` when
/// `e` is about something else.
pub(super) fn missing_bucket(e: &object_store::Error, bucket: &str, word: &str, shown: &str) -> Option<Error> {
    let text = e.to_string();
    let missing = [
        "NoSuchBucket",
        "ContainerNotFound",
        "The specified bucket does not exist",
    ]
    .iter()
    .any(|m| text.contains(m));
    missing.then(|| {
        Error::NotFound(format!(
            "the {word} '{bucket}' does not exist (repo location {shown}): create it first, or check its name and endpoint"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_definite_answers_rule_out_a_landed_put() {
        let generic = object_store::Error::Generic {
            store: "S3",
            source: "connection reset".into(),
        };
        assert!(may_have_landed(&generic));
        let exists = object_store::Error::AlreadyExists {
            path: "x".into(),
            source: "exists".into(),
        };
        assert!(!may_have_landed(&exists));
        let status = |code: &str| object_store::Error::Generic {
            store: "S3",
            source: format!("Error performing PUT in 1ms - Server returned non-2xx status code: {code}: body").into(),
        };
        assert!(!may_have_landed(&status("400 Bad Request")));
        assert!(!may_have_landed(&status("403 Forbidden")));
        assert!(may_have_landed(&status("503 Service Unavailable")));
        assert!(may_have_landed(&status("429 Too Many Requests")));
        assert!(may_have_landed(&status("409 Conflict")));
        let ours = Bytes::from_static(b"ours");
        assert_eq!(compare(None, &ours), None);
        assert_eq!(compare(Some(&ours.clone()), &ours), Some(true));
        assert_eq!(compare(Some(&Bytes::from_static(b"theirs")), &ours), Some(false));
        assert!(backoff(0) >= Duration::from_millis(50) && backoff(0) <= Duration::from_millis(100));
        assert!(backoff(30) <= Duration::from_millis(6400));
    }
}
