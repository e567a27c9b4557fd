//! Zarr keys: validation and classification.

use crate::error::{Error, Result};

/// Ref names live in `ref_names`; re-exported here where they used to be.
pub use crate::ref_names::validate_ref_name;

/// File names of Zarr metadata documents (formats 3 and 2).
pub const METADATA_NAMES: [&str; 5] = ["zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"];
/// Documents whose deletion deletes a node.
pub const NODE_NAMES: [&str; 3] = ["zarr.json", ".zarray", ".zgroup"];

/// Rejects keys that could escape the repo or are not well-formed store keys.
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidName(format!("invalid key '{key}': {why}")));
    if key.is_empty() {
        return bad("keys must not be empty");
    }
    if key.starts_with('/') {
        return bad("keys must not start with '/'");
    }
    if key.contains('\0') || key.contains('\\') {
        return bad("keys must not contain NUL or backslash");
    }
    for seg in key.split('/') {
        match seg {
            "" => return bad("keys must not contain empty segments ('//' or a trailing '/')"),
            "." | ".." => return bad("path traversal ('.' or '..' segments) is not allowed"),
            _ => {}
        }
    }
    Ok(())
}

/// Validates a listing prefix: like a key, but empty and a trailing '/' are fine.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(());
    }
    validate_key(trimmed)
}

/// The last segment of a key.
pub fn basename(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(_, b)| b)
}

/// The node path a key belongs to by position (its directory), "" for the root.
pub fn dirname(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(d, _)| d)
}

pub fn is_metadata_key(key: &str) -> bool {
    METADATA_NAMES.contains(&basename(key))
}

pub fn is_node_key(key: &str) -> bool {
    NODE_NAMES.contains(&basename(key))
}

/// The node (group or array path) a key belongs to: a metadata key's directory; for a
/// chunk key, found from its shape (Zarr 3 puts chunks under `<node>/c/`, Zarr 2 right
/// under the node as digits joined by `.` or `/`). `None` for a key shaped like neither.
/// Only an array named `c` is ambiguous: `is_node` (does a node exist at this path?)
/// settles it.
pub fn node_of(key: &str, is_node: impl Fn(&str) -> bool) -> Option<&str> {
    if is_metadata_key(key) {
        return Some(dirname(key));
    }
    let chunk_part = |p: &str| {
        !p.is_empty()
            && p.split('.')
                .all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    let v3_chunks = |p: &str| {
        p.strip_prefix('c')
            .is_some_and(|rest| rest.is_empty() || (rest.starts_with('.') && chunk_part(&rest[1..])))
    };
    let parts: Vec<&str> = key.split('/').collect();
    let mut n = parts.len();
    while n > 0 && chunk_part(parts[n - 1]) {
        n -= 1;
    }
    // The key's first `n` parts, as a slice of it.
    let head = |n: usize| -> &str {
        let len: usize = parts[..n].iter().map(|p| p.len() + 1).sum::<usize>();
        &key[..len.saturating_sub(1)]
    };
    if n > 0 && v3_chunks(parts[n - 1]) {
        let plain = head(n);
        return Some(if is_node(plain) { plain } else { head(n - 1) });
    }
    (n < parts.len()).then(|| head(n))
}

/// True if `key` lies inside the node at `node` (the root "" contains everything).
pub fn is_under(key: &str, node: &str) -> bool {
    node.is_empty() || key == node || (key.starts_with(node) && key.as_bytes().get(node.len()) == Some(&b'/'))
}

/// The smallest string greater than every string that starts with `prefix`.
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        // The next scalar value; U+D7FF is followed by U+E000 (surrogates are not chars).
        let next = if c == '\u{D7FF}' {
            Some('\u{E000}')
        } else {
            char::from_u32(c as u32 + 1)
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated() {
        for ok in ["zarr.json", "a/b/c/0/1", "foo/.zarray", "x/c/0"] {
            validate_key(ok).unwrap();
        }
        for bad in ["", "/a", "a//b", "a/", "../x", "a/../b", "a/./b", "a\\b", "a\0"] {
            assert_eq!(validate_key(bad).unwrap_err().kind(), "invalid_name", "{bad:?}");
        }
        validate_prefix("").unwrap();
        validate_prefix("a/").unwrap();
        assert!(validate_prefix("../").is_err());
    }

    #[test]
    fn classification() {
        assert!(is_metadata_key("zarr.json"));
        assert!(is_metadata_key("a/b/.zattrs"));
        assert!(!is_metadata_key("a/zarr.json/0"));
        assert!(is_node_key("a/.zgroup") && !is_node_key("a/.zattrs"));
        assert_eq!(dirname("a/b/zarr.json"), "a/b");
        assert_eq!(dirname("zarr.json"), "");
        assert!(is_under("a/b/c", "a/b") && !is_under("a/bc", "a/b") && is_under("x", ""));
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
    }

    #[test]
    fn nodes_of_keys() {
        let none = |_: &str| false;
        let cases = [
            ("a/zarr.json", Some("a")),
            ("zarr.json", Some("")),
            ("a/b/.zattrs", Some("a/b")),
            ("a/c/0/1", Some("a")),
            ("a/c.0.1", Some("a")),
            ("a/c", Some("a")),
            ("c/0", Some("")),
            ("a/0.1", Some("a")),
            ("a/0/1", Some("a")),
            ("0.0", Some("")),
            ("a/b", None),
            ("a/c/x", None),
            ("a/1.", None),
        ];
        for (key, want) in cases {
            assert_eq!(node_of(key, none), want, "{key}");
        }
        // A Zarr 2 array named "c": its node document settles it.
        assert_eq!(node_of("g/c/0.0", |p| p == "g/c"), Some("g/c"));
        assert_eq!(node_of("g/c/0.0", none), Some("g"));
    }
}
