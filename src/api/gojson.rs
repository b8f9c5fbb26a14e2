//! JSON as Go's `encoding/json.Marshal` writes it, for the byte-exact `/api/v1` answers.
//!
//! Upstream marshals Go maps and structs, and clients (and upstream's own tests) see the
//! result byte for byte: map keys sorted by their bytes, struct fields in declaration order,
//! no whitespace, no trailing newline, and strings HTML-escaped (`<`, `>`, `&` as `\u003c`,
//! `\u003e`, `\u0026`, also U+2028 and U+2029). serde_json differs on the escaping, so the
//! documents are built as a small [`Json`] tree and written here.

use std::collections::BTreeMap;

/// A JSON value whose objects keep the order they were built in.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Bool(bool),
    /// An unsigned integer (Go `uint64`).
    Uint(u64),
    Str(String),
    Array(Vec<Json>),
    /// Members in output order: a Go struct's field order, or sorted keys for a Go map
    /// (see [`Json::map`]).
    Object(Vec<(String, Json)>),
}

impl Json {
    /// A Go map: keys sorted by their bytes, a repeated key keeping its last value.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Json)>) -> Json {
        let sorted: BTreeMap<String, Json> =
            entries.into_iter().map(|(k, v)| (k.into(), v)).collect();
        Json::Object(sorted.into_iter().collect())
    }

    /// A Go `map[string]string`.
    pub fn string_map<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Json {
        Json::map(entries.into_iter().map(|(k, v)| (k, Json::Str(v.into()))))
    }

    /// A JSON string.
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }
}

/// Appends `value` to `out` exactly as Go's `json.Marshal` would encode it.
pub fn write(value: &Json, out: &mut Vec<u8>) {
    match value {
        Json::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Json::Uint(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Json::Str(s) => write_string(s, out),
        Json::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Json::Object(members) => {
            out.push(b'{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write(item, out);
            }
            out.push(b'}');
        }
    }
}

/// Go's string encoding with HTML escaping (`json.Marshal`'s default).
fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&') => {
                let b = c as u32 as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: &Json) -> String {
        let mut out = Vec::new();
        write(value, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn html_characters_are_escaped_like_go() {
        assert_eq!(
            encoded(&Json::str("<b>x</b> & y")),
            r#""\u003cb\u003ex\u003c/b\u003e \u0026 y""#
        );
    }

    #[test]
    fn quotes_backslashes_and_control_characters_use_go_escapes() {
        assert_eq!(
            encoded(&Json::str(
                "inst'a\"n\\ce1\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}"
            )),
            "\"inst'a\\\"n\\\\ce1\\n\\t\\r\\b\\f\\u0001\\u001f\u{7f}\""
        );
    }

    #[test]
    fn line_and_paragraph_separators_are_escaped_and_other_unicode_is_kept() {
        assert_eq!(
            encoded(&Json::str("Björn\u{2028}\u{2029}")),
            "\"Björn\\u2028\\u2029\""
        );
    }

    #[test]
    fn maps_sort_their_keys_by_bytes_and_the_last_duplicate_wins() {
        let m = Json::map([
            ("b", Json::Uint(1)),
            ("B", Json::Bool(true)),
            ("a", Json::str("x")),
            ("b", Json::Uint(2)),
        ]);
        assert_eq!(encoded(&m), r#"{"B":true,"a":"x","b":2}"#);
    }

    #[test]
    fn objects_keep_their_build_order_and_arrays_have_no_spaces() {
        let o = Json::Object(vec![
            ("z".into(), Json::Array(vec![Json::Uint(0), Json::str("1")])),
            ("a".into(), Json::Array(vec![])),
            ("m".into(), Json::map(Vec::<(String, Json)>::new())),
        ]);
        assert_eq!(encoded(&o), r#"{"z":[0,"1"],"a":[],"m":{}}"#);
    }
}
