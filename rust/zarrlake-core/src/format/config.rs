//! The repo marker `zarrlake.json`: format version and repo-wide settings.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const MAX_INLINE_THRESHOLD: u64 = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoConfig {
    pub format_version: u16,
    /// `blake3` (default: cryptographic and several times faster than SHA-256) or `sha256`.
    pub hash_method: String,
    /// Chunks of at most this many bytes are stored inline in manifests.
    pub inline_threshold: u64,
    /// URL prefixes virtual references may be read from.
    #[serde(default)]
    pub virtual_prefixes: Vec<String>,
}

impl Default for RepoConfig {
    fn default() -> Self {
        RepoConfig {
            format_version: super::codec::FORMAT_VERSION,
            hash_method: "blake3".into(),
            inline_threshold: 512,
            virtual_prefixes: Vec::new(),
        }
    }
}

impl RepoConfig {
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.hash_method.as_str(), "sha256" | "blake3") {
            return Err(Error::InvalidInput(format!(
                "unknown hash method '{}': use 'sha256' or 'blake3'",
                self.hash_method
            )));
        }
        if self.inline_threshold > MAX_INLINE_THRESHOLD {
            return Err(Error::InvalidInput(format!(
                "inline threshold {} exceeds the maximum of {MAX_INLINE_THRESHOLD} bytes",
                self.inline_threshold
            )));
        }
        Ok(())
    }

    pub fn to_json(&self) -> Result<bytes::Bytes> {
        serde_json::to_vec_pretty(self)
            .map(Into::into)
            .map_err(|e| Error::InvalidInput(e.to_string()))
    }

    pub fn from_json(key: &str, bytes: &[u8]) -> Result<Self> {
        let cfg: RepoConfig = serde_json::from_slice(bytes).map_err(|e| Error::corrupt(key, e))?;
        if cfg.format_version > super::codec::FORMAT_VERSION {
            return Err(Error::corrupt(
                key,
                format!(
                    "repo format {} is newer than this zarrlake; upgrade",
                    cfg.format_version
                ),
            ));
        }
        cfg.validate().map_err(|e| Error::corrupt(key, e))?;
        Ok(cfg)
    }
}
