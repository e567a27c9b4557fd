//! Store clients for virtual sources, built once per bucket (or host) and cached.
//!
//! Credentials and endpoints come from the standard environment variables, as the
//! object_store builders read them: `AWS_*` for `s3://` (e.g. `AWS_ENDPOINT_URL`,
//! `AWS_ALLOW_HTTP`, `AWS_ACCESS_KEY_ID`, `AWS_SKIP_SIGNATURE`), `GOOGLE_*` for `gs://`.
//! The cache key includes those variables, so a changed environment builds a new client
//! instead of reusing one pointed at the old endpoint. The cache is per process: a forked
//! child builds its own clients (the parent's connection pools belong to its runtime).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use parking_lot::RwLock;

use super::source_url::{Scheme, SourceUrl};
use crate::error::{Error, Result};
use crate::process::ForkLocal;

type StoreMap = HashMap<String, Arc<dyn ObjectStore>>;

static STORES: ForkLocal<RwLock<StoreMap>> = ForkLocal::new();

fn stores() -> &'static RwLock<StoreMap> {
    STORES.get_or_init(Default::default)
}

/// Environment variables that configure a scheme's client, sorted, as one string.
fn env_fingerprint(scheme: Scheme) -> String {
    let prefixes: &[&str] = match scheme {
        Scheme::S3 => &["AWS_"],
        Scheme::Gcs => &["GOOGLE_", "SERVICE_ACCOUNT"],
        _ => &[],
    };
    if prefixes.is_empty() {
        return String::new();
    }
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
        .collect();
    vars.sort();
    vars.into_iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Bounded retries: a virtual source that is down should fail a read in seconds, not minutes.
fn retry() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
        ..RetryConfig::default()
    }
}

fn build(url: &SourceUrl) -> Result<Arc<dyn ObjectStore>> {
    let root = url.store_root();
    let fail = |e: object_store::Error| {
        Error::Storage(format!(
            "cannot build a client for virtual references under {root}/: {e}"
        ))
    };
    let store: Arc<dyn ObjectStore> = match url.scheme {
        Scheme::File => Arc::new(LocalFileSystem::new()),
        Scheme::S3 => Arc::new(
            AmazonS3Builder::from_env()
                .with_url(format!("s3://{}", url.authority))
                .with_retry(retry())
                .build()
                .map_err(fail)?,
        ),
        Scheme::Gcs => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(format!("gs://{}", url.authority))
                .with_retry(retry())
                .build()
                .map_err(fail)?,
        ),
        Scheme::Http | Scheme::Https => Arc::new(
            HttpBuilder::new()
                .with_url(root.clone())
                .with_client_options(ClientOptions::new().with_allow_http(url.scheme == Scheme::Http))
                .with_retry(retry())
                .build()
                .map_err(fail)?,
        ),
    };
    Ok(store)
}

/// The cached client for `url`'s bucket or host, built on first use.
pub fn store_for(url: &SourceUrl) -> Result<Arc<dyn ObjectStore>> {
    let key = format!("{}\n{}", url.store_root(), env_fingerprint(url.scheme));
    if let Some(s) = stores().read().get(&key) {
        return Ok(s.clone());
    }
    let store = build(url)?;
    let mut map = stores().write();
    Ok(map.entry(key).or_insert(store).clone())
}

/// Number of cached clients (for tests).
#[cfg(test)]
pub fn cached_clients() -> usize {
    stores().read().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_cached_per_bucket() {
        let a = SourceUrl::parse("http://127.0.0.1:1/a/x").unwrap();
        let b = SourceUrl::parse("http://127.0.0.1:1/b/y").unwrap();
        let c = SourceUrl::parse("http://127.0.0.1:2/a/x").unwrap();
        let sa = store_for(&a).unwrap();
        let sb = store_for(&b).unwrap();
        assert!(Arc::ptr_eq(&sa, &sb));
        assert!(cached_clients() >= 1);
        let sc = store_for(&c).unwrap();
        assert!(!Arc::ptr_eq(&sa, &sc));
    }
}
