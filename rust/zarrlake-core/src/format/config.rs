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
    /// Where chunk objects live when not in the repo itself (another bucket or prefix),
    /// as a location URL. Never credentials: those come from each opener's options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_location: Option<String>,
    /// Written with the file and checked when it is read, so a damaged setting (a flipped
    /// digit in `inline_threshold`, say) is an error rather than a different setting.
    /// Always `None` in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl Default for RepoConfig {
    fn default() -> Self {
        RepoConfig {
            format_version: super::codec::FORMAT_VERSION,
            hash_method: "blake3".into(),
            inline_threshold: 512,
            virtual_prefixes: Vec::new(),
            chunk_location: None,
            checksum: None,
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
        if let Some(url) = &self.chunk_location {
            crate::storage::Location::parse(url)?;
        }
        if self.inline_threshold > MAX_INLINE_THRESHOLD {
            return Err(Error::InvalidInput(format!(
                "inline threshold {} exceeds the maximum of {MAX_INLINE_THRESHOLD} bytes",
                self.inline_threshold
            )));
        }
        Ok(())
    }

    /// The checksum of the settings: of their compact JSON, without a checksum.
    fn checksum_of(&self) -> Result<String> {
        let bare = RepoConfig {
            checksum: None,
            ..self.clone()
        };
        let canonical = serde_json::to_vec(&bare).map_err(|e| Error::InvalidInput(e.to_string()))?;
        Ok(hex::encode(&blake3::hash(&canonical).as_bytes()[..8]))
    }

    pub fn to_json(&self) -> Result<bytes::Bytes> {
        let sealed = RepoConfig {
            checksum: Some(self.checksum_of()?),
            ..self.clone()
        };
        serde_json::to_vec_pretty(&sealed)
            .map(Into::into)
            .map_err(|e| Error::InvalidInput(e.to_string()))
    }

    pub fn from_json(key: &str, bytes: &[u8]) -> Result<Self> {
        let mut cfg: RepoConfig = serde_json::from_slice(bytes).map_err(|e| Error::corrupt(key, e))?;
        // Files from before checksums have none; the settings are then taken as they are.
        if let Some(stored) = cfg.checksum.take() {
            if stored != cfg.checksum_of()? {
                return Err(Error::corrupt(key, "checksum mismatch: the repo settings are damaged"));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_damage_is_caught() {
        let cfg = RepoConfig {
            virtual_prefixes: vec!["s3://bucket/".into()],
            ..RepoConfig::default()
        };
        let json = cfg.to_json().unwrap();
        assert_eq!(RepoConfig::from_json("zarrlake.json", &json).unwrap(), cfg);
        let text = String::from_utf8(json.to_vec()).unwrap();
        for (from, to) in [("512", "513"), ("blake3", "sha256"), ("s3://bucket/", "s3://bucket2/")] {
            let damaged = text.replace(from, to);
            let err = RepoConfig::from_json("zarrlake.json", damaged.as_bytes()).unwrap_err();
            assert!(err.to_string().contains("checksum mismatch"), "{from}: {err}");
        }
        let unsummed = br#"{"format_version": 1, "hash_method": "sha256", "inline_threshold": 0}"#;
        assert_eq!(
            RepoConfig::from_json("zarrlake.json", unsummed).unwrap().hash_method,
            "sha256"
        );
    }
}
