//! Repos as a whole, found by location: existence, listing the repos under a root,
//! checking a location before use, and deleting a repo with everything in it.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::RepoConfig;
use crate::repo::{OpenOptions, Repository, CONFIG_KEY};
use crate::storage::{Location, Storage, StorageOptions};

const CHUNKS_DIR: &str = "chunks";

impl Repository {
    pub async fn exists(location: &str) -> Result<bool> {
        Self::exists_with(location, &StorageOptions::new()).await
    }

    pub async fn exists_with(location: &str, options: &StorageOptions) -> Result<bool> {
        let loc = Location::parse(location)?;
        if let Location::Local(p) = &loc {
            return Ok(p.join(CONFIG_KEY).exists());
        }
        Storage::open_with(&loc, options, Arc::default())?
            .exists(CONFIG_KEY)
            .await
    }

    /// Checks a location and its options without a request: the scheme, the options'
    /// names and values, and that options are given only where they mean something.
    pub fn check_location(location: &str, options: &StorageOptions) -> Result<()> {
        let loc = Location::parse(location)?;
        if let Location::Cloud(_) = loc {
            return Storage::open_with(&loc, options, Arc::default()).map(|_| ());
        }
        if let Some(k) = options
            .keys()
            .find(|k| k.as_str() != crate::storage::MAX_CONCURRENCY_OPTION)
        {
            return Err(Error::InvalidInput(format!(
                "storage option '{k}' applies to object storage (s3://, gs://, az://), not to {loc}"
            )));
        }
        crate::storage::max_concurrency(options).map(|_| ())
    }

    /// The names of the repos directly below `root`, sorted: each directory that holds
    /// a settings file.
    pub async fn list(root: &str, options: &StorageOptions) -> Result<Vec<String>> {
        let loc = Location::parse(root)?;
        let (dirs, found) = match &loc {
            Location::Local(p) if !p.is_dir() => return Ok(Vec::new()),
            Location::Memory(name) => {
                let dirs = crate::storage::memory_children(name);
                let parent = &loc;
                let found = futures::future::try_join_all(
                    dirs.iter()
                        .map(|d| async move { Storage::open(&parent.join(d))?.exists(CONFIG_KEY).await }),
                )
                .await?;
                (dirs, found)
            }
            _ => {
                let storage = Storage::open_with(&loc, options, Arc::default())?;
                let dirs = storage.list_dirs("").await?;
                let found = futures::future::try_join_all(dirs.iter().map(|d| {
                    let storage = storage.clone();
                    async move { storage.exists(&format!("{d}/{CONFIG_KEY}")).await }
                }))
                .await?;
                (dirs, found)
            }
        };
        Ok(dirs
            .into_iter()
            .zip(found)
            .filter(|(_, f)| *f)
            .map(|(d, _)| d)
            .collect())
    }

    /// Deletes the repo and everything in it, its separate chunk location included;
    /// `progress(done, total)` follows the objects deleted.
    pub async fn delete(location: &str) -> Result<()> {
        Self::delete_with(location, &OpenOptions::default(), &|_, _| {}).await
    }

    pub async fn delete_with(
        location: &str,
        opts: &OpenOptions,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<()> {
        if let Location::Local(p) = Location::parse(location)? {
            if !p.join(CONFIG_KEY).is_file() {
                return Err(Error::RepoNotFound(format!("no zarrlake repo at {}", p.display())));
            }
        }
        let (loc, storage) = Self::storage_at(location, opts)?;
        let Some(bytes) = storage.get(CONFIG_KEY).await? else {
            return Err(Error::RepoNotFound(format!("no zarrlake repo at {loc}")));
        };
        // Chunks first: the settings that name their location go last.
        if let Ok(config) = RepoConfig::from_json(CONFIG_KEY, &bytes) {
            if let Some(url) = &config.chunk_location {
                let chunks = Storage::open_with(&Location::parse(url)?, opts.chunk_options(), Arc::default())?;
                let keys = chunks.list(CHUNKS_DIR).await?;
                chunks.delete_many(&keys, &|_| {}).await?;
            }
        }
        storage.delete_all(CONFIG_KEY, progress).await
    }
}
