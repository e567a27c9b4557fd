//! Parsing the URL of a virtual reference into a backend, a bucket (or host) and a key.
//!
//! URLs are taken literally, as kerchunk writes them: `s3://bucket/a b.nc` names the key
//! `a b.nc`, with no percent-decoding. Keys with empty, `.` or `..` segments are refused
//! so that a reference can never climb out of the prefix it was allowed under.

use crate::error::{Error, Result};

/// The backends virtual references may point into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// A local file, `file:///abs/path`.
    File,
    /// Amazon S3 or an S3-compatible server, `s3://bucket/key`.
    S3,
    /// Google Cloud Storage, `gs://bucket/key`.
    Gcs,
    /// A plain HTTP server, `http://host/path`.
    Http,
    /// A plain HTTPS server, `https://host/path`.
    Https,
}

impl Scheme {
    /// The scheme as written in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::File => "file",
            Scheme::S3 => "s3",
            Scheme::Gcs => "gs",
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A parsed virtual reference URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceUrl {
    /// The backend.
    pub scheme: Scheme,
    /// The bucket for object stores, `host[:port]` for HTTP, empty for local files.
    pub authority: String,
    /// The key inside the bucket (no leading `/`); for local files the absolute path.
    pub path: String,
}

fn invalid(url: &str, why: &str) -> Error {
    Error::InvalidInput(format!("invalid virtual reference URL '{url}': {why}"))
}

impl SourceUrl {
    /// Parses `url`; only `file`, `s3`, `gs`, `http` and `https` URLs are accepted.
    pub fn parse(url: &str) -> Result<Self> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid(url, "expected scheme://..., e.g. s3://bucket/key or file:///path"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "file" => Scheme::File,
            "s3" | "s3a" => Scheme::S3,
            "gs" | "gcs" => Scheme::Gcs,
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => {
                return Err(invalid(
                    url,
                    &format!("unsupported scheme '{other}'; use file, s3, gs, http or https"),
                ))
            }
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if rest.contains(['?', '#']) && matches!(scheme, Scheme::Http | Scheme::Https) {
            return Err(invalid(url, "query strings and fragments are not supported"));
        }
        if path.is_empty() {
            return Err(invalid(url, "the URL names no object"));
        }
        for seg in path.split('/') {
            match seg {
                "" => return Err(invalid(url, "empty path segments ('//') are not allowed")),
                "." | ".." => return Err(invalid(url, "'.' and '..' path segments are not allowed")),
                _ => {}
            }
        }
        if path.contains('\0') {
            return Err(invalid(url, "NUL bytes are not allowed"));
        }
        let authority = match scheme {
            Scheme::File => {
                if !(authority.is_empty() || authority.eq_ignore_ascii_case("localhost")) {
                    return Err(invalid(url, "file URLs must name a local path: file:///abs/path"));
                }
                String::new()
            }
            _ => {
                if authority.is_empty() {
                    return Err(invalid(url, "the URL names no bucket or host"));
                }
                authority.to_string()
            }
        };
        let path = match scheme {
            Scheme::File => format!("/{path}"),
            _ => path.to_string(),
        };
        Ok(SourceUrl {
            scheme,
            authority,
            path,
        })
    }

    /// `scheme://authority`, the unit store clients are cached by.
    pub fn store_root(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority)
    }

    /// The canonical spelling of this URL.
    pub fn canonical(&self) -> String {
        match self.scheme {
            Scheme::File => format!("file://{}", self.path),
            _ => format!("{}/{}", self.store_root(), self.path),
        }
    }

    /// The prefix to suggest allowing: the bucket or host, or a local file's directory.
    pub fn suggested_prefix(&self) -> String {
        match self.scheme {
            Scheme::File => {
                let dir = self.path.rsplit_once('/').map_or("", |(d, _)| d);
                format!("file://{dir}/")
            }
            _ => format!("{}/", self.store_root()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_schemes() {
        let u = SourceUrl::parse("s3://bucket/dir/a b.nc").unwrap();
        assert_eq!(
            (u.scheme, u.authority.as_str(), u.path.as_str()),
            (Scheme::S3, "bucket", "dir/a b.nc")
        );
        assert_eq!(u.suggested_prefix(), "s3://bucket/");
        let f = SourceUrl::parse("file:///tmp/x/a.nc").unwrap();
        assert_eq!((f.scheme, f.path.as_str()), (Scheme::File, "/tmp/x/a.nc"));
        assert_eq!(f.suggested_prefix(), "file:///tmp/x/");
        assert_eq!(f.canonical(), "file:///tmp/x/a.nc");
        let h = SourceUrl::parse("http://127.0.0.1:9000/d/f.tif").unwrap();
        assert_eq!(h.store_root(), "http://127.0.0.1:9000");
        assert_eq!(SourceUrl::parse("gs://b/k").unwrap().scheme, Scheme::Gcs);
        assert_eq!(SourceUrl::parse("file://localhost/a").unwrap().path, "/a");
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "a.nc",
            "/tmp/a.nc",
            "ftp://host/a",
            "s3://bucket",
            "s3://bucket/",
            "s3:///key",
            "s3://b/a/../../etc",
            "file:///tmp/./a",
            "file:///tmp//a",
            "file://otherhost/a",
            "https://h/a?x=1",
        ] {
            let e = SourceUrl::parse(bad).unwrap_err();
            assert_eq!(e.kind(), "invalid_input", "{bad}");
        }
    }
}
