//! Checks that a metadata document (`zarr.json`, `.zarray`, `.zgroup`, `.zattrs`,
//! `.zmetadata`) is a JSON object before it is accepted, so garbage is refused when it
//! is written rather than found by a reader later.
//!
//! A hand-written checker, not a JSON library: zarr-python writes `NaN`, `Infinity` and
//! `-Infinity` bare in attributes (Python's `json` does), which strict parsers refuse,
//! and checking needs no allocation.

use crate::error::{Error, Result};

/// Deeper nesting than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 512;

/// Fails with `InvalidInput` naming `key` unless `doc` is one JSON object.
pub fn check(key: &str, doc: &[u8]) -> Result<()> {
    let fail = |pos: usize, what: &str| {
        Error::InvalidInput(format!(
            "invalid metadata document '{key}': {what} at byte {pos}; Zarr metadata must be a JSON object"
        ))
    };
    let text = std::str::from_utf8(doc).map_err(|e| fail(e.valid_up_to(), "not UTF-8"))?;
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(fail(p.i, "expected a JSON object"));
    }
    p.value(0).map_err(|(pos, what)| fail(pos, what))?;
    p.ws();
    if p.i != p.s.len() {
        return Err(fail(p.i, "unexpected data after the object"));
    }
    Ok(())
}

type Failure = (usize, &'static str);

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8, what: &'static str) -> std::result::Result<(), Failure> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, what: &'static str) -> Failure {
        if self.i >= self.s.len() {
            (self.i, "unexpected end of document")
        } else {
            (self.i, what)
        }
    }

    fn literal(&mut self, word: &[u8]) -> std::result::Result<(), Failure> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.unexpected("not a JSON value"))
        }
    }

    fn value(&mut self, depth: usize) -> std::result::Result<(), Failure> {
        if depth > MAX_DEPTH {
            return Err((self.i, "nested too deeply"));
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'N') => self.literal(b"NaN"),
            Some(b'I') => self.literal(b"Infinity"),
            Some(b'-') if self.s[self.i..].starts_with(b"-Infinity") => self.literal(b"-Infinity"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("not a JSON value")),
        }
    }

    fn object(&mut self, depth: usize) -> std::result::Result<(), Failure> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("expected a string key"));
            }
            self.string()?;
            self.ws();
            self.expect(b':', "expected ':'")?;
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> std::result::Result<(), Failure> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected("expected ',' or ']'")),
            }
        }
    }

    fn string(&mut self) -> std::result::Result<(), Failure> {
        self.i += 1;
        loop {
            match self.peek() {
                None => return Err(self.unexpected("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let hex = self.s.get(self.i + 1..self.i + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.unexpected("bad \\u escape"));
                            }
                            self.i += 5;
                        }
                        _ => return Err(self.unexpected("bad escape")),
                    }
                }
                Some(c) if c < 0x20 => return Err((self.i, "control character in string")),
                Some(_) => self.i += 1,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> std::result::Result<(), Failure> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected("bad number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.unexpected("bad number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("bad number"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_zarr_writes() {
        for doc in [
            &br#"{}"#[..],
            br#" { "zarr_format": 3, "node_type": "group", "attributes": {"a": [1, -2.5e-3, true, null]} } "#,
            br#"{"fill_value": NaN, "x": [Infinity, -Infinity], "s": "\u00e9\n\"q\""}"#,
            b"{\"u\": \"caf\xc3\xa9\"}",
            br#"{"zarr_format":2,"shape":[10],"chunks":[5],"dtype":"<f8","fill_value":0.0,"order":"C"}"#,
        ] {
            check("a/zarr.json", doc).unwrap();
        }
    }

    #[test]
    fn refuses_everything_else_naming_the_key() {
        for doc in [
            &b""[..],
            b"bar",
            b"not json",
            b"[1, 2]",
            b"\"a string\"",
            b"3",
            b"{",
            b"{\"a\": }",
            b"{\"a\": 1,}",
            b"{\"a\" 1}",
            b"{a: 1}",
            b"{\"a\": 01}",
            b"{\"a\": 1.}",
            b"{\"a\": nan}",
            b"{\"a\": \"\x01\"}",
            b"{\"a\": \"\\x\"}",
            b"{\"a\": \"\\u12\"}",
            b"{} {}",
            b"{\"a\": \xff}",
        ] {
            let err = check("g/.zattrs", doc).unwrap_err();
            assert_eq!(err.kind(), "invalid_input", "{doc:?}");
            assert!(err.to_string().contains("'g/.zattrs'"), "{err}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let mut doc = b"{\"a\": ".to_vec();
        doc.extend(std::iter::repeat_n(b'[', 100_000));
        let err = check("zarr.json", &doc).unwrap_err();
        assert!(err.to_string().contains("nested too deeply"), "{err}");
    }
}
