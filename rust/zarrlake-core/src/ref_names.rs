//! Branch and tag names: what is allowed, and how a name maps to its storage cell.
//!
//! A name is 1-200 characters of '/'-separated segments with the traversal rules of keys
//! (no leading or trailing '/', no empty, '.' or '..' segments). Each segment is letters,
//! digits, '.', '_' and '-', not starting with '.' or '-' and without "..". Names of
//! 8-24 hex characters are refused: they would be ambiguous with commit ids and their
//! prefixes.
//!
//! In storage a '/' is written as `%2F` so a name stays one directory (`refs/branches/
//! feature%2Fx/<seq>`); '%' is not allowed in names, so decoding is unambiguous, and a
//! name without '/' maps to itself.

use crate::error::{Error, Result};

pub const MAX_REF_NAME_LEN: usize = 200;
/// Commit-id prefixes (and so names refused as ambiguous) are this long at least.
pub const MIN_COMMIT_PREFIX_LEN: usize = 8;
/// A full commit id: 24 hex characters.
pub const COMMIT_ID_LEN: usize = 24;

const SLASH_IN_CELL: &str = "%2F";

/// Why `name` breaks the character, segment or length rule, if it does.
fn syntax_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > MAX_REF_NAME_LEN {
        return Some("use 1-200 characters");
    }
    if name.starts_with('/') || name.ends_with('/') {
        return Some("names must not start or end with '/'");
    }
    for seg in name.split('/') {
        if seg.is_empty() {
            return Some("names must not contain empty segments ('//')");
        }
        if seg == "." || seg == ".." {
            return Some("path traversal ('.' or '..' segments) is not allowed");
        }
        let chars_ok = seg
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if !chars_ok || seg.starts_with('.') || seg.starts_with('-') || seg.contains("..") {
            return Some(
                "each '/'-separated segment is letters, digits, '.', '_' or '-', \
                 not starting with '.' or '-' and without '..'",
            );
        }
    }
    None
}

/// True for 8-24 hex characters: a commit id or a prefix of one.
pub fn looks_like_commit_id(s: &str) -> bool {
    (MIN_COMMIT_PREFIX_LEN..=COMMIT_ID_LEN).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Branch and tag names (`kind` is "branch", "tag" or "ref", used in the message).
pub fn validate_ref_name(kind: &str, name: &str) -> Result<()> {
    if let Some(why) = syntax_problem(name) {
        return Err(Error::InvalidName(format!(
            "invalid {kind} name '{name}': {why}. A {kind} name is 1-200 characters in \
             '/'-separated segments of letters, digits, '.', '_' or '-', each not starting \
             with '.' or '-' and without '..'; no leading, trailing or repeated '/'"
        )));
    }
    if looks_like_commit_id(name) {
        return Err(Error::InvalidName(format!(
            "invalid {kind} name '{name}': names of 8-24 hex characters would be ambiguous \
             with commit ids"
        )));
    }
    Ok(())
}

/// True if `name` can be stored as a ref, including names that look like commit ids,
/// which older versions allowed (they stay readable and deletable).
pub(crate) fn is_storable(name: &str) -> bool {
    syntax_problem(name).is_none()
}

/// The single path segment a ref name is stored under.
pub(crate) fn cell_name(name: &str) -> String {
    name.replace('/', SLASH_IN_CELL)
}

/// The ref name stored under the path segment `cell`.
pub(crate) fn name_from_cell(cell: &str) -> String {
    cell.replace(SLASH_IN_CELL, "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_keep_todays_rules() {
        for ok in [
            "main",
            "feature-1.2_x",
            "_x",
            "v1.0",
            "A",
            "abcdefg",
            "deadbeefx",
            "a.b",
        ] {
            validate_ref_name("branch", ok).unwrap();
        }
        for bad in ["", ".x", "-x", "a b", "a..b", "é", "a%2Fb", "a\\b", "a:b"] {
            assert_eq!(
                validate_ref_name("branch", bad).unwrap_err().kind(),
                "invalid_name",
                "{bad:?}"
            );
        }
        validate_ref_name("tag", &"a".repeat(200)).unwrap();
        assert!(validate_ref_name("tag", &"a".repeat(201)).is_err());
    }

    #[test]
    fn slashes_follow_key_traversal_rules() {
        for ok in ["feature/x", "a/b/c", "team.a/fix-1/_wip", "x/deadbeef"] {
            validate_ref_name("branch", ok).unwrap();
        }
        for bad in [
            "/a", "a/", "a//b", "a/../b", "./a", "a/.", "a/./b", "../a", "a/.b", "a/-b", "/",
        ] {
            let e = validate_ref_name("branch", bad).unwrap_err();
            assert_eq!(e.kind(), "invalid_name", "{bad:?}");
            assert!(e.to_string().contains("'/'-separated segments"), "{e}");
        }
        let long = format!("{}/{}", "a".repeat(100), "b".repeat(100));
        assert!(validate_ref_name("branch", &long).is_err());
    }

    #[test]
    fn commit_id_like_names_are_refused() {
        for bad in ["deadbeef", "DEADBEEF", "0123456789", "20240101", &"a".repeat(24)] {
            let e = validate_ref_name("tag", bad).unwrap_err();
            assert_eq!(e.kind(), "invalid_name");
            assert!(e.to_string().contains("ambiguous with commit ids"), "{e}");
            assert!(is_storable(bad), "older repos may hold {bad:?}");
        }
        for ok in ["main", "dead", "beef123", &"a".repeat(25), "cafe-babe"] {
            validate_ref_name("tag", ok).unwrap();
        }
    }

    #[test]
    fn cells_encode_slashes_and_leave_plain_names_alone() {
        assert_eq!(cell_name("main"), "main");
        assert_eq!(cell_name("v1.0-rc_2"), "v1.0-rc_2");
        assert_eq!(cell_name("feature/x/y"), "feature%2Fx%2Fy");
        for n in ["main", "feature/x/y", "a.b/c"] {
            assert_eq!(name_from_cell(&cell_name(n)), n);
        }
    }
}
