//! Go's URL path rules that both ServeMux and httprouter apply: percent-decoding (a
//! malformed escape rejects the request), escaping a decoded path back for a `Location`, and
//! the `path.Clean` core both routers share.

use std::error::Error;
use std::fmt;

/// A `%` not followed by two hex digits. Go's server rejects the whole
/// request with `400 Bad Request` before any handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MalformedEscape {
    /// The offending escape as Go reports it: the `%` and at most two more bytes.
    pub(crate) escape: String,
}

impl fmt::Display for MalformedEscape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid URL escape {:?}", self.escape)
    }
}

impl Error for MalformedEscape {}

/// Go's URL path unescaping (net/url `unescape` in path mode): `%XX` decoded,
/// `+` kept literally. Returns bytes because `%FF` is accepted by Go; the
/// caller decides what to do with invalid UTF-8.
pub(crate) fn percent_decode(raw: &str) -> Result<Vec<u8>, MalformedEscape> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match (
            bytes.get(i + 1).copied().and_then(hex_value),
            bytes.get(i + 2).copied().and_then(hex_value),
        ) {
            (Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            _ => {
                let end = (i + 3).min(bytes.len());
                return Err(MalformedEscape {
                    escape: String::from_utf8_lossy(&bytes[i..end]).into_owned(),
                });
            }
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Go's path escaping for a URL built from a decoded path (`url.URL.String`
/// in path mode). httprouter's redirects rebuild `Location` this way, so a
/// space comes back as `%20` and `@` stays as it is.
pub(crate) fn escape_path(decoded: &str) -> String {
    percent_escape(decoded, |b| {
        matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'~'
                | b'$'
                | b'&'
                | b'+'
                | b','
                | b'/'
                | b':'
                | b';'
                | b'='
                | b'@'
        )
    })
}

/// `s` with every byte that is neither ASCII alphanumeric nor kept by `keep` written as `%XX`.
pub(crate) fn percent_escape(s: &str, keep: impl Fn(u8) -> bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The elements of a rooted path after dropping empty and `.` elements and
/// resolving `..` (never above the root): the core shared by Go's
/// `path.Clean`, ServeMux's `cleanPath` and httprouter's `CleanPath`.
pub(super) fn clean_elements(p: &str) -> Vec<&str> {
    let mut elements: Vec<&str> = Vec::new();
    for element in p.split('/') {
        match element {
            "" | "." => {}
            ".." => {
                elements.pop();
            }
            other => elements.push(other),
        }
    }
    elements
}

pub(super) fn join_rooted(elements: &[&str], trailing_slash: bool) -> String {
    let mut out = String::from("/");
    out.push_str(&elements.join("/"));
    if trailing_slash && !elements.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(raw: &str) -> String {
        String::from_utf8(percent_decode(raw).unwrap()).unwrap()
    }

    #[test]
    fn percent_escapes_are_decoded_and_plus_is_literal() {
        assert_eq!(decoded("/l/a+b"), "/l/a+b");
        assert_eq!(decoded("/l/a%20b"), "/l/a b");
        assert_eq!(
            decoded("/metrics/job%40base64/ZG90MQ"),
            "/metrics/job@base64/ZG90MQ"
        );
    }

    #[test]
    fn utf8_can_be_percent_encoded() {
        assert_eq!(
            decoded("/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82"),
            "/name/Προμηθεύς"
        );
    }

    #[test]
    fn non_utf8_bytes_are_returned_for_the_caller_to_judge() {
        assert_eq!(percent_decode("/a%FF").unwrap(), b"/a\xff");
    }

    #[test]
    fn a_malformed_escape_is_an_error_naming_the_escape() {
        let err = percent_decode("/l/%").unwrap_err();
        assert_eq!(err.escape, "%");
        assert_eq!(percent_decode("/l/%zzz").unwrap_err().escape, "%zz");
        assert_eq!(percent_decode("/l/%4").unwrap_err().escape, "%4");
        assert_eq!(err.to_string(), "invalid URL escape \"%\"");
        assert!(percent_decode("/a%é").is_err());
    }

    #[test]
    fn lowercase_hex_digits_are_accepted() {
        assert_eq!(decoded("/a%2fb%2Fc"), "/a/b/c");
    }
}
