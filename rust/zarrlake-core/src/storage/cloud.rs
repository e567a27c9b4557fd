//! Clients for repos on object storage: `s3://`, `gs://` and `az://` roots.
//!
//! A client is built from the standard environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`, as the
//! object_store builders read it) with the caller's explicit options on top. Options are
//! never stored in the repo. Clients are cached per process, keyed by bucket, options and
//! environment; a forked child builds its own, as a connection pool belongs to the runtime
//! of the process that made it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{ObjectStore, RetryConfig};
use parking_lot::RwLock;

use crate::error::{Error, Result};
use crate::process::ForkLocal;

/// Explicit storage options, as object_store spells them (`endpoint`, `region`,
/// `allow_http`, ...), plus zarrlake's own `max_concurrency`.
pub type StorageOptions = BTreeMap<String, String>;

/// The zarrlake option that bounds requests in flight; never passed to object_store.
pub const MAX_CONCURRENCY_OPTION: &str = "max_concurrency";
pub const DEFAULT_MAX_CONCURRENCY: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloudScheme {
    S3,
    Gcs,
    Azure,
}

impl CloudScheme {
    pub fn from_scheme(s: &str) -> Option<Self> {
        match s {
            "s3" => Some(CloudScheme::S3),
            "gs" => Some(CloudScheme::Gcs),
            "az" => Some(CloudScheme::Azure),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CloudScheme::S3 => "s3",
            CloudScheme::Gcs => "gs",
            CloudScheme::Azure => "az",
        }
    }

    /// What the bucket is called on this service (for error messages).
    pub fn bucket_word(self) -> &'static str {
        match self {
            CloudScheme::Azure => "container",
            _ => "bucket",
        }
    }

    fn env_prefixes(self) -> &'static [&'static str] {
        match self {
            CloudScheme::S3 => &["AWS_"],
            CloudScheme::Gcs => &["GOOGLE_", "SERVICE_ACCOUNT"],
            CloudScheme::Azure => &["AZURE_"],
        }
    }
}

/// A bucket (or Azure container) and a prefix in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloudLocation {
    pub scheme: CloudScheme,
    pub bucket: String,
    /// No leading or trailing '/'; empty for the bucket root.
    pub prefix: String,
}

impl CloudLocation {
    /// `rest` is what follows `<scheme>://`.
    pub fn parse(scheme: CloudScheme, rest: &str, whole: &str) -> Result<Self> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::InvalidInput(format!(
                "repo location '{whole}' names no {}: use {}://<{}>/<prefix>",
                scheme.bucket_word(),
                scheme.as_str(),
                scheme.bucket_word()
            )));
        }
        let prefix = prefix.trim_matches('/');
        for part in prefix.split('/').filter(|_| !prefix.is_empty()) {
            if part.is_empty() || part == "." || part == ".." {
                return Err(Error::InvalidInput(format!(
                    "repo location '{whole}': the prefix may not contain empty, '.' or '..' parts"
                )));
            }
        }
        Ok(CloudLocation {
            scheme,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// `<scheme>://<bucket>`: what the object_store builders take.
    pub fn bucket_url(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.bucket)
    }
}

impl fmt::Display for CloudLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "{}", self.bucket_url())
        } else {
            write!(f, "{}/{}", self.bucket_url(), self.prefix)
        }
    }
}

/// The request bound that `options` ask for, or the default.
pub fn max_concurrency(options: &StorageOptions) -> Result<usize> {
    match options.get(MAX_CONCURRENCY_OPTION) {
        None => Ok(DEFAULT_MAX_CONCURRENCY),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(Error::InvalidInput(format!(
                "storage option {MAX_CONCURRENCY_OPTION}={v:?}: expected a whole number of at least 1"
            ))),
        },
    }
}

type ClientMap = HashMap<String, Arc<dyn ObjectStore>>;

static CLIENTS: ForkLocal<RwLock<ClientMap>> = ForkLocal::new();

/// Environment variables that configure a scheme's client, sorted, as one string.
fn env_fingerprint(scheme: CloudScheme) -> String {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| scheme.env_prefixes().iter().any(|p| k.starts_with(p)))
        .collect();
    vars.sort();
    vars.into_iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Retries with jittered exponential backoff on 5xx, 429, timeouts and connection errors
/// (object_store's policy; it never retries a failed precondition, and retries a
/// put-if-absent only when the request provably did not reach the server). The budget is
/// wider than the virtual reader's: a commit that gives up early leaves work to redo.
///
/// The client for exclusive writes (put-if-absent) retries nothing itself: its caller must
/// know whether an "already exists" answers its first attempt (another writer won) or a
/// resend (perhaps its own first attempt), so it resends and reads back on its own.
fn retry(exclusive: bool) -> RetryConfig {
    RetryConfig {
        max_retries: if exclusive { 0 } else { 10 },
        retry_timeout: std::time::Duration::from_secs(120),
        ..RetryConfig::default()
    }
}

fn bad_option(loc: &CloudLocation, key: &str, e: impl fmt::Display) -> Error {
    Error::InvalidInput(format!("storage option '{key}' is not understood for {loc}: {e}"))
}

/// `builder` with the explicit options applied, naming any key its service does not know.
fn configure<B, K>(
    mut builder: B,
    loc: &CloudLocation,
    options: &StorageOptions,
    set: impl Fn(B, K, &str) -> B,
) -> Result<B>
where
    K: std::str::FromStr,
    K::Err: fmt::Display,
{
    for (k, v) in options.iter().filter(|(k, _)| k.as_str() != MAX_CONCURRENCY_OPTION) {
        let key: K = k.parse().map_err(|e| bad_option(loc, k, e))?;
        builder = set(builder, key, v);
    }
    Ok(builder)
}

fn build(loc: &CloudLocation, options: &StorageOptions, exclusive: bool) -> Result<Arc<dyn ObjectStore>> {
    let fail = |e: object_store::Error| Error::InvalidInput(format!("cannot configure a client for {loc}: {e}"));
    let (url, retry) = (loc.bucket_url(), retry(exclusive));
    let store: Arc<dyn ObjectStore> = match loc.scheme {
        CloudScheme::S3 => {
            let b = AmazonS3Builder::from_env().with_url(url).with_retry(retry);
            let b = configure(b, loc, options, |b, k: AmazonS3ConfigKey, v| b.with_config(k, v))?;
            Arc::new(b.build().map_err(fail)?)
        }
        CloudScheme::Gcs => {
            let b = GoogleCloudStorageBuilder::from_env().with_url(url).with_retry(retry);
            let b = configure(b, loc, options, |b, k: GoogleConfigKey, v| b.with_config(k, v))?;
            Arc::new(b.build().map_err(fail)?)
        }
        CloudScheme::Azure => {
            let b = MicrosoftAzureBuilder::from_env().with_url(url).with_retry(retry);
            let b = configure(b, loc, options, |b, k: AzureConfigKey, v| b.with_config(k, v))?;
            Arc::new(b.build().map_err(fail)?)
        }
    };
    Ok(store)
}

/// The cached client for `loc`'s bucket with `options`, built on first use; `exclusive`
/// for the one that sends put-if-absent (see `retry`).
pub fn client(loc: &CloudLocation, options: &StorageOptions, exclusive: bool) -> Result<Arc<dyn ObjectStore>> {
    let opts: String = options.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let key = format!(
        "{}\n{exclusive}\n{opts}\n{}",
        loc.bucket_url(),
        env_fingerprint(loc.scheme)
    );
    let map = CLIENTS.get_or_init(Default::default);
    if let Some(s) = map.read().get(&key) {
        return Ok(s.clone());
    }
    let store = build(loc, options, exclusive)?;
    Ok(map.write().entry(key).or_insert(store).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<CloudLocation> {
        let (scheme, rest) = s.split_once("://").unwrap();
        CloudLocation::parse(CloudScheme::from_scheme(scheme).unwrap(), rest, s)
    }

    #[test]
    fn locations_parse_into_bucket_and_prefix() {
        let l = parse("s3://bucket/a/b/").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("bucket", "a/b"));
        assert_eq!(l.to_string(), "s3://bucket/a/b");
        assert_eq!(parse("gs://b").unwrap().to_string(), "gs://b");
        assert_eq!(parse("az://container/x").unwrap().prefix, "x");
        for bad in ["s3://", "s3:///x", "gs://b/a//c", "az://c/../x", "s3://b/./x"] {
            assert_eq!(parse(bad).unwrap_err().kind(), "invalid_input", "{bad}");
        }
    }

    #[test]
    fn options_are_checked_per_service() {
        let loc = parse("s3://bucket/p").unwrap();
        let mut o = StorageOptions::new();
        o.insert("endpoint".into(), "http://127.0.0.1:1".into());
        o.insert("allow_http".into(), "true".into());
        o.insert("region".into(), "us-east-1".into());
        o.insert(MAX_CONCURRENCY_OPTION.into(), "8".into());
        assert!(client(&loc, &o, false).is_ok());
        assert_eq!(max_concurrency(&o).unwrap(), 8);
        o.insert("no_such_option".into(), "1".into());
        let e = client(&loc, &o, false).err().unwrap();
        assert_eq!(e.kind(), "invalid_input");
        assert!(e.to_string().contains("no_such_option"), "{e}");
        let gs = parse("gs://bucket").unwrap();
        let e = client(&gs, &[("region".to_string(), "x".to_string())].into(), false)
            .err()
            .unwrap();
        assert!(e.to_string().contains("'region'"), "{e}");
        for bad in ["0", "-1", "many"] {
            let o: StorageOptions = [(MAX_CONCURRENCY_OPTION.to_string(), bad.to_string())].into();
            assert_eq!(max_concurrency(&o).unwrap_err().kind(), "invalid_input");
        }
        let az = parse("az://container/p").unwrap();
        let o: StorageOptions = [
            ("account_name".to_string(), "devstore".to_string()),
            ("use_emulator".to_string(), "true".to_string()),
        ]
        .into();
        assert!(client(&az, &o, false).is_ok());
    }

    #[test]
    fn clients_are_cached_per_bucket_and_options() {
        let a = parse("s3://cache-a/x").unwrap();
        let a2 = parse("s3://cache-a/y").unwrap();
        let o: StorageOptions = [("region".to_string(), "eu-west-1".to_string())].into();
        let c1 = client(&a, &o, false).unwrap();
        assert!(Arc::ptr_eq(&c1, &client(&a2, &o, false).unwrap()));
        let o2: StorageOptions = [("region".to_string(), "eu-west-2".to_string())].into();
        assert!(!Arc::ptr_eq(&c1, &client(&a, &o2, false).unwrap()));
    }
}
