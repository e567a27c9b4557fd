//! Where a repo lives: a local directory, an in-process memory store, or a bucket prefix
//! on object storage (`s3://`, `gs://`, `az://`).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::ObjectStore;
use parking_lot::Mutex;

use super::cloud::{CloudLocation, CloudScheme, StorageOptions};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    Local(PathBuf),
    /// `memory://<name>`: shared by every handle in this process with the same name.
    Memory(String),
    /// A prefix in a bucket; its client options travel beside it, never inside it.
    Cloud(CloudLocation),
}

type MemoryStores = Mutex<HashMap<String, Arc<dyn ObjectStore>>>;

fn memory_stores() -> &'static MemoryStores {
    static STORES: OnceLock<MemoryStores> = OnceLock::new();
    STORES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Puts `store` behind `memory://<name>` in this process: an embedding application can
/// bring its own object store, and tests can wrap one to inject faults.
pub fn register_memory_store(name: &str, store: Arc<dyn ObjectStore>) {
    memory_stores().lock().insert(name.to_string(), store);
}

/// The names one level below `memory://<parent>` that hold a store, sorted: each
/// `memory://` location is a store of its own, so "directories" are name prefixes.
pub fn memory_children(parent: &str) -> Vec<String> {
    let prefix = format!("{}/", parent.trim_end_matches('/'));
    let mut names: Vec<String> = memory_stores()
        .lock()
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

impl Location {
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(rest) = s.strip_prefix("memory://") {
            if rest.is_empty() {
                return Err(Error::InvalidInput("memory:// locations need a name".into()));
            }
            return Ok(Location::Memory(rest.trim_end_matches('/').to_string()));
        }
        if let Some((scheme, rest)) = s.split_once("://") {
            if let Some(cloud) = CloudScheme::from_scheme(scheme) {
                return Ok(Location::Cloud(CloudLocation::parse(cloud, rest, s)?));
            }
            if scheme != "file" {
                return Err(Error::InvalidInput(format!(
                    "unsupported repo location '{s}': use a local path, file://, memory://, s3://, gs:// or az://"
                )));
            }
        } else if looks_like_url(s) {
            // `s3:/bucket` or `s3:bucket` would otherwise become a local directory `s3:`.
            return Err(Error::InvalidInput(format!(
                "repo location '{s}' looks like a URL without '//': write <scheme>://..."
            )));
        }
        let path = s.strip_prefix("file://").unwrap_or(s);
        if path.is_empty() {
            return Err(Error::InvalidInput("empty repo location".into()));
        }
        let path = PathBuf::from(path);
        let abs = if path.is_absolute() {
            path
        } else {
            std::env::current_dir()
                .map_err(|e| Error::Storage(e.to_string()))?
                .join(path)
        };
        Ok(Location::Local(abs))
    }

    /// The store and the prefix in it; `options` apply to cloud locations only.
    pub(crate) fn object_store(&self, options: &StorageOptions) -> Result<(Arc<dyn ObjectStore>, String)> {
        match self {
            Location::Local(path) => {
                std::fs::create_dir_all(path)
                    .map_err(|e| Error::Storage(format!("cannot create {}: {e}", path.display())))?;
                let fs = LocalFileSystem::new_with_prefix(path)?;
                Ok((Arc::new(fs), String::new()))
            }
            Location::Memory(name) => {
                let mut stores = memory_stores().lock();
                let store = stores
                    .entry(name.clone())
                    .or_insert_with(|| Arc::new(InMemory::new()) as Arc<dyn ObjectStore>);
                Ok((store.clone(), String::new()))
            }
            Location::Cloud(c) => Ok((super::cloud::client(c, options, false)?, c.prefix.clone())),
        }
    }

    /// The location `name` levels below this one (`org/repo` below a client root).
    pub fn join(&self, name: &str) -> Location {
        let name = name.trim_matches('/');
        match self {
            Location::Local(p) => Location::Local(p.join(name)),
            Location::Memory(n) => Location::Memory(format!("{n}/{name}")),
            Location::Cloud(c) => Location::Cloud(CloudLocation {
                prefix: if c.prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{}/{name}", c.prefix)
                },
                ..c.clone()
            }),
        }
    }

    pub(crate) fn remove_root(&self) -> Result<()> {
        match self {
            Location::Local(path) => match std::fs::remove_dir_all(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::Storage(format!("cannot remove {}: {e}", path.display()))),
            },
            Location::Memory(name) => {
                memory_stores().lock().remove(name);
                Ok(())
            }
            // A bucket prefix is gone with its last object.
            Location::Cloud(_) => Ok(()),
        }
    }

    /// True when nothing but an empty directory (or nothing at all) is at this location.
    /// The temp directory does not count: a failed first write may have left it.
    pub fn is_local_dir_nonempty(&self) -> bool {
        match self {
            Location::Local(p) => std::fs::read_dir(p)
                .map(|d| d.flatten().any(|e| e.file_name() != super::temp::TEMP_DIR))
                .unwrap_or(false),
            Location::Memory(_) | Location::Cloud(_) => false,
        }
    }
}

/// `s3:/x`, `memory:x`: a known scheme followed by ':' but not by "//".
fn looks_like_url(s: &str) -> bool {
    s.split_once(':').is_some_and(|(head, _)| {
        let head = head.to_ascii_lowercase();
        CloudScheme::from_scheme(&head).is_some() || head == "file" || head == "memory"
    })
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Memory(n) => write!(f, "memory://{n}"),
            Location::Cloud(c) => write!(f, "{c}"),
        }
    }
}
