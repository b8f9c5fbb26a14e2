//! The grouping key of a metric group, and how it is read from a push URL.
//!
//! Every push, delete and stored group is addressed by its grouping labels: the `job` from
//! `/metrics/job/<job>` (or `job@base64/<b64>`) plus the `/<name>/<value>` pairs after it,
//! where a `<name>@base64` pair carries a base64url value. Clients and tests compare the
//! 400 bodies byte for byte, so [`GroupingKey::from_path`] follows upstream's
//! `handler/push.go` (`decodeBase64`, `splitLabels`) step by step: the same checks, in the
//! same order, with the same messages (upstream's handler/push.go and handler/delete.go).
//!
//! One deliberate difference: upstream stores base64-decoded values that are not UTF-8 and
//! then fails every scrape; such keys are rejected here instead
//! ([`GroupingKeyError::InvalidUtf8Value`]), after all of upstream's own checks have passed,
//! so every input upstream rejects still gets upstream's message.
//!
//! The module also owns the key's other spellings: upstream's map key (which fixes the
//! group order on the status page), a canonical text form, JSON, and a `@base64` path for
//! delete URLs.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;

use crate::go_strconv::{quote, quote_bytes};
use crate::names::{is_legacy_label_name, NameValidation};

/// Suffix of a label name in the path that marks its value as base64url.
const BASE64_SUFFIX: &str = "@base64";

/// Label names with this prefix are reserved for Prometheus' internal use.
const RESERVED_PREFIX: &str = "__";

/// Prefix of a name written in Prometheus' value-encoding escaping (`U__`).
const VALUE_ENCODING_PREFIX: &str = "U__";

/// Upstream's `model.SeparatorByte`, which joins names and values in the map key.
const SEPARATOR: u8 = 0xFF;

/// Grouping labels of one metric group, sorted by label name; always contains a non-empty `job`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupingKey {
    /// Sorted by name, names unique, `job` present and non-empty.
    labels: Vec<(String, String)>,
}

/// Why a push URL does not name a valid group.
///
/// `Display` is upstream's exact 400 body, without the trailing newline `http.Error` adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupingKeyError {
    /// The `job@base64` segment is not base64url; the error holds the bytes decoded so far,
    /// which upstream prints as the job name.
    InvalidJobBase64(Base64Error),
    /// The label part does not split into name/value pairs; holds the whole label part.
    OddComponents(String),
    /// A label name (with `@base64` removed, before unescaping) is invalid or reserved.
    ImproperLabelName(String),
    /// A `<name>@base64` value is not base64url; `name` has `@base64` removed, `value` is raw.
    InvalidLabelBase64 {
        /// The name as written, `@base64` removed, not unescaped.
        name: String,
        /// The value as it came from the path.
        value: String,
        /// Go's decoding error.
        error: Base64Error,
    },
    /// The job is empty (only reachable via `job@base64`, e.g. `job@base64/=`).
    JobRequired,
    /// Our addition: a base64-decoded value is not UTF-8, which no exposition format can carry.
    InvalidUtf8Value {
        /// The (unescaped) label name, `job` for the job.
        name: String,
        /// The decoded bytes.
        value: Vec<u8>,
    },
}

impl fmt::Display for GroupingKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupingKeyError::InvalidJobBase64(err) => write!(
                f,
                "invalid base64 encoding in job name {}: {err}",
                quote_bytes(&err.decoded_prefix)
            ),
            GroupingKeyError::OddComponents(labels) => {
                write!(
                    f,
                    "odd number of components in label string {}",
                    quote(labels)
                )
            }
            GroupingKeyError::ImproperLabelName(name) => {
                write!(f, "improper label name {}", quote(name))
            }
            GroupingKeyError::InvalidLabelBase64 { name, value, error } => write!(
                f,
                "invalid base64 encoding for label {name}={}: {error}",
                quote(value)
            ),
            GroupingKeyError::JobRequired => f.write_str("job name is required"),
            GroupingKeyError::InvalidUtf8Value { name, value } => write!(
                f,
                "label value for {} is not valid UTF-8: {}",
                quote(name),
                quote_bytes(value)
            ),
        }
    }
}

impl std::error::Error for GroupingKeyError {}

/// Go's `base64.CorruptInputError`, plus the bytes Go's `DecodeString` returns alongside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base64Error {
    /// Output of the complete quanta before the bad one (upstream shows it as the job name).
    pub decoded_prefix: Vec<u8>,
    /// Byte offset Go reports, counted in the input after trailing `=` were trimmed.
    pub offset: usize,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "illegal base64 data at input byte {}", self.offset)
    }
}

impl std::error::Error for Base64Error {}

/// Go's `base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))` (upstream's
/// `decodeBase64`), including its leniency and its error offsets.
///
/// Hand-written rather than the base64 crate because the error must carry Go's offset and
/// the partially decoded prefix, and Go skips `\r`/`\n` and ignores non-zero trailing bits.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, Base64Error> {
    let src = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(src.len() * 3 / 4);
    let mut si = 0;
    // One 4-character quantum per iteration, as Go's `decodeQuantum`.
    while si < src.len() {
        let mut sextets = [0u8; 4];
        let mut count = 0;
        while count < 4 {
            let Some(&c) = src.get(si) else {
                break;
            };
            si += 1;
            if let Some(v) = sextet(c) {
                sextets[count] = v;
                count += 1;
            } else if c != b'\n' && c != b'\r' {
                return Err(Base64Error {
                    decoded_prefix: out,
                    offset: si - 1,
                });
            }
        }
        match count {
            // Only newlines were left.
            0 => break,
            // A lone character cannot encode a byte. Go blames the input's last byte: that
            // character, or the last of any newlines after it.
            1 => {
                return Err(Base64Error {
                    decoded_prefix: out,
                    offset: si - 1,
                })
            }
            _ => {}
        }
        let v = u32::from(sextets[0]) << 18
            | u32::from(sextets[1]) << 12
            | u32::from(sextets[2]) << 6
            | u32::from(sextets[3]);
        let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        out.extend_from_slice(&bytes[..count - 1]);
    }
    Ok(out)
}

/// Value of one character of the URL-safe alphabet.
fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Prometheus' `UnescapeName(name, ValueEncodingEscaping)` (common v0.69.0): `U__` names
/// spell `_` as `__` and other characters as `_<hex>_`; anything malformed leaves the whole
/// name unchanged.
fn unescape_value_encoding(name: &str) -> String {
    let Some(escaped) = name.strip_prefix(VALUE_ENCODING_PREFIX) else {
        return name.to_owned();
    };
    let bytes = escaped.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let Some(run_len) = bytes[i..].iter().position(|&b| b == b'_') else {
            out.push_str(escaped.get(i..).unwrap_or_default());
            break;
        };
        // Everything before the next `_` is copied as is (whole characters, as `_` is ASCII).
        out.push_str(escaped.get(i..i + run_len).unwrap_or_default());
        i += run_len + 1;
        match bytes.get(i) {
            None => return name.to_owned(),
            Some(b'_') => {
                out.push('_');
                i += 1;
            }
            Some(_) => {
                // At most five hex digits: upstream gives up once a sixth position is reached
                // without the closing `_`, so `_10ffff_` is malformed.
                let mut value: u32 = 0;
                let mut digits = 0;
                loop {
                    let Some(&b) = bytes.get(i) else {
                        return name.to_owned();
                    };
                    if digits >= 6 {
                        return name.to_owned();
                    }
                    if b == b'_' {
                        match char::from_u32(value) {
                            Some(c) => out.push(c),
                            None => return name.to_owned(),
                        }
                        i += 1;
                        break;
                    }
                    // Go lowers with `c | 0x20`, so bytes 0x10..=0x19 count as '0'..='9'.
                    let digit = match b | 0x20 {
                        d @ b'0'..=b'9' => d - b'0',
                        d @ b'a'..=b'f' => d - b'a' + 10,
                        _ => return name.to_owned(),
                    };
                    value = value * 16 + u32::from(digit);
                    digits += 1;
                    i += 1;
                }
            }
        }
    }
    out
}

/// Prometheus' `EscapeName(name, ValueEncodingEscaping)` for a label name that is not a
/// legacy name, so that it survives a URL path and [`unescape_value_encoding`].
pub(crate) fn escape_value_encoding(name: &str) -> String {
    let mut out = String::from(VALUE_ENCODING_PREFIX);
    for (i, c) in name.chars().enumerate() {
        match c {
            '_' => out.push_str("__"),
            'a'..='z' | 'A'..='Z' | ':' => out.push(c),
            '0'..='9' if i > 0 => out.push(c),
            _ => {
                out.push_str(&format!("_{:x}_", u32::from(c)));
            }
        }
    }
    out
}

/// Upstream's `splitLabels`: the `/<name>/<value>` pairs of the label part, later names
/// overwriting earlier ones. Values stay bytes because base64 may decode to non-UTF-8.
fn split_labels(
    labels: &str,
    names: NameValidation,
) -> Result<BTreeMap<String, Vec<u8>>, GroupingKeyError> {
    let mut result = BTreeMap::new();
    if labels.len() <= 1 {
        return Ok(result);
    }
    // The router's value starts with `/`; skip one character so odd input cannot panic.
    let mut chars = labels.chars();
    chars.next();
    let components: Vec<&str> = chars.as_str().split('/').collect();
    if !components.len().is_multiple_of(2) {
        return Err(GroupingKeyError::OddComponents(labels.to_owned()));
    }
    for pair in components.chunks_exact(2) {
        let &[name, value] = pair else { continue };
        let trimmed = name.strip_suffix(BASE64_SUFFIX);
        let plain_name = trimmed.unwrap_or(name);
        let unescaped = match names {
            NameValidation::Legacy => plain_name.to_owned(),
            NameValidation::Utf8 => unescape_value_encoding(plain_name),
        };
        // The reserved prefix is tested on the escaped name, as upstream does.
        if !names.is_valid_label_name(&unescaped) || plain_name.starts_with(RESERVED_PREFIX) {
            return Err(GroupingKeyError::ImproperLabelName(plain_name.to_owned()));
        }
        let value = if trimmed.is_some() {
            decode_base64(value).map_err(|error| GroupingKeyError::InvalidLabelBase64 {
                name: plain_name.to_owned(),
                value: value.to_owned(),
                error,
            })?
        } else {
            value.as_bytes().to_vec()
        };
        result.insert(unescaped, value);
    }
    Ok(result)
}

/// Escapes a label value (or quoted name) as the text exposition format does.
fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Upstream's `groupingKeyFor`: names in byte order, `name 0xFF value`, pairs joined by 0xFF.
pub(crate) fn upstream_key_for<'a>(
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<u8> {
    let mut sorted: Vec<(&str, &str)> = labels.into_iter().collect();
    sorted.sort_unstable();
    let mut out = Vec::new();
    for (i, (name, value)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        out.extend_from_slice(name.as_bytes());
        out.push(SEPARATOR);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

impl GroupingKey {
    /// From the router's decoded path parameters: `job` is the `:job` segment (already
    /// percent-decoded), `job_is_base64` says whether the route was `job@base64`, `labels` is
    /// the catch-all `*labels` value (starts with `/`, or is empty when the route had no label
    /// part).
    ///
    /// Errors come in upstream's order: job base64, label part, empty job; then our UTF-8
    /// check on the final values, in name order.
    pub fn from_path(
        job: &str,
        job_is_base64: bool,
        labels: &str,
        names: NameValidation,
    ) -> Result<GroupingKey, GroupingKeyError> {
        let job = if job_is_base64 {
            decode_base64(job).map_err(GroupingKeyError::InvalidJobBase64)?
        } else {
            job.as_bytes().to_vec()
        };
        let mut map = split_labels(labels, names)?;
        if job.is_empty() {
            return Err(GroupingKeyError::JobRequired);
        }
        // The path's job wins over a `job` pair in the label part.
        map.insert("job".to_owned(), job);
        let labels = map
            .into_iter()
            .map(|(name, value)| match String::from_utf8(value) {
                Ok(value) => Ok((name, value)),
                Err(err) => Err(GroupingKeyError::InvalidUtf8Value {
                    name,
                    value: err.into_bytes(),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GroupingKey { labels })
    }

    /// Rebuilds a key read back from storage (labels in any order). Errors if `job` is
    /// missing/empty. Names are trusted (they were validated when pushed); a repeated name
    /// keeps its last value, as in [`GroupingKey::from_path`].
    pub fn from_labels(
        labels: impl IntoIterator<Item = (String, String)>,
    ) -> Result<GroupingKey, GroupingKeyError> {
        let map: BTreeMap<String, String> = labels.into_iter().collect();
        if map.get("job").is_none_or(|job| job.is_empty()) {
            return Err(GroupingKeyError::JobRequired);
        }
        Ok(GroupingKey {
            labels: map.into_iter().collect(),
        })
    }

    /// The labels, sorted by name.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// The value of label `name`, if the key has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.labels[i].1.as_str())
    }

    /// The job (never empty).
    pub fn job(&self) -> &str {
        self.get("job").unwrap_or_default()
    }

    /// Upstream's map key: names sorted, `name 0xFF value 0xFF name 0xFF value` (no trailing
    /// separator). Sorting keys by it gives upstream's group order on the status page; bytes
    /// because 0xFF is not UTF-8.
    pub fn upstream_key(&self) -> Vec<u8> {
        upstream_key_for(self.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }

    /// Human/SQL form: `{instance="a",job="b"}` in name order, values escaped as in the text
    /// format (`\\`, `\"`, `\n`). Names that are not legacy names are quoted and escaped the
    /// same way (as in the UTF-8 text format), which keeps the form unambiguous.
    pub fn canonical(&self) -> String {
        let mut out = String::from("{");
        for (i, (name, value)) in self.labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // A name starting with `__` only exists unescaped from `U______…` (UTF-8 names);
            // written as is it would read back as reserved.
            if is_legacy_label_name(name) && !name.starts_with("__") {
                out.push_str(name);
            } else {
                out.push('"');
                escape_text(&mut out, name);
                out.push('"');
            }
            out.push_str("=\"");
            escape_text(&mut out, value);
            out.push('"');
        }
        out.push('}');
        out
    }

    /// JSON object of the labels, keys sorted: `{"instance":"a","job":"b"}`.
    pub fn to_json(&self) -> String {
        // Inserted in sorted order, so the output is sorted even with `preserve_order`.
        let map: serde_json::Map<String, serde_json::Value> = self
            .labels
            .iter()
            .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// The key as a path below `/metrics`, every value base64url without padding:
    /// `/job@base64/<b64>/instance@base64/<b64>=`.
    ///
    /// As upstream's `functions.js` does for its delete URL, `=` is appended to every value
    /// but the job's, so an empty value still forms a path segment. Names that are not legacy
    /// names are written `U__`-escaped (they only exist with `--push.enable-utf8-names`,
    /// which unescapes them), so a name containing `/` cannot break the path. Two kinds of
    /// name still cannot be addressed this way, as upstream: a legacy name starting with `U__`
    /// while the flag is on, and a name with a character above U+FFFFF (six hex digits).
    pub fn to_base64_path(&self) -> String {
        let engine = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut out = format!("/job@base64/{}", engine.encode(self.job()));
        for (name, value) in self.labels.iter().filter(|(n, _)| n != "job") {
            out.push('/');
            // A name starting with `__` only exists unescaped from `U______…` (UTF-8 names);
            // written as is it would read back as reserved.
            if is_legacy_label_name(name) && !name.starts_with("__") {
                out.push_str(name);
            } else {
                out.push_str(&escape_value_encoding(name));
            }
            out.push_str(BASE64_SUFFIX);
            out.push('/');
            out.push_str(&engine.encode(value));
            out.push('=');
        }
        out
    }
}

impl fmt::Display for GroupingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: NameValidation = NameValidation::Legacy;
    const UTF8: NameValidation = NameValidation::Utf8;

    fn key(job: &str, labels: &str) -> GroupingKey {
        parse(job, labels).unwrap()
    }

    fn parse(job: &str, labels: &str) -> Result<GroupingKey, GroupingKeyError> {
        GroupingKey::from_path(job, false, labels, LEGACY)
    }

    fn parse_b64(job: &str, labels: &str) -> Result<GroupingKey, GroupingKeyError> {
        GroupingKey::from_path(job, true, labels, LEGACY)
    }

    fn message(result: Result<GroupingKey, GroupingKeyError>) -> String {
        result.unwrap_err().to_string()
    }

    fn pairs(labels: &[(&str, &str)]) -> Vec<(String, String)> {
        labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn b64_err(input: &str) -> (Vec<u8>, usize) {
        let err = decode_base64(input).unwrap_err();
        (err.decoded_prefix, err.offset)
    }

    // --- decode_base64 (Go's RawURLEncoding after trimming `=`) ---

    #[test]
    fn base64_uses_the_url_safe_alphabet() {
        assert_eq!(decode_base64("dGVzdC9qb2I").unwrap(), b"test/job");
        assert_eq!(decode_base64("-_-_").unwrap(), [0xfb, 0xff, 0xbf]);
        assert_eq!(b64_err("a+b"), (vec![], 1));
        assert_eq!(b64_err("a/b"), (vec![], 1));
    }

    #[test]
    fn base64_trailing_equals_signs_are_trimmed_in_any_number() {
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YQ=").unwrap(), b"a");
        assert_eq!(decode_base64("YQ=====").unwrap(), b"a");
        assert_eq!(decode_base64("=").unwrap(), b"");
        assert_eq!(decode_base64("====").unwrap(), b"");
        assert_eq!(decode_base64("").unwrap(), b"");
    }

    #[test]
    fn base64_equals_sign_inside_the_input_is_an_error_at_its_offset() {
        assert_eq!(b64_err("YQ=x"), (vec![], 2));
        assert_eq!(b64_err("YWJj=YQ"), (b"abc".to_vec(), 4));
    }

    #[test]
    fn base64_non_zero_padding_bits_are_accepted() {
        assert_eq!(decode_base64("YR").unwrap(), b"a");
        assert_eq!(decode_base64("YWK").unwrap(), b"ab");
    }

    #[test]
    fn base64_newlines_and_carriage_returns_are_skipped() {
        assert_eq!(decode_base64("YW\nJj").unwrap(), b"abc");
        assert_eq!(decode_base64("\r\nYWJj\n").unwrap(), b"abc");
        assert_eq!(decode_base64("YWJj\nYQ").unwrap(), b"abca");
    }

    #[test]
    fn base64_dangling_character_is_blamed_on_its_own_offset() {
        assert_eq!(b64_err("Y"), (vec![], 0));
        assert_eq!(b64_err("YWJjZ"), (b"abc".to_vec(), 4));
        assert_eq!(b64_err("YWJjZ=="), (b"abc".to_vec(), 4));
        assert_eq!(b64_err("YWJjZ\n"), (b"abc".to_vec(), 5));
        assert_eq!(b64_err("Y\r\n"), (vec![], 2));
    }

    #[test]
    fn base64_illegal_character_returns_the_complete_quanta_before_it() {
        let err = decode_base64("YWJj!!!").unwrap_err();
        assert_eq!(err.decoded_prefix, b"abc");
        assert_eq!(err.offset, 4);
        assert_eq!(err.to_string(), "illegal base64 data at input byte 4");
        assert_eq!(b64_err("YWJjYW!j"), (b"abc".to_vec(), 6));
        assert_eq!(b64_err("foo.bar"), (vec![], 3));
    }

    #[test]
    fn base64_non_ascii_input_is_blamed_on_its_first_byte() {
        assert_eq!(b64_err("YQé"), (vec![], 2));
    }

    #[test]
    fn base64_decoder_agrees_with_the_crate_engine_from_crates_md_on_newline_free_input() {
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        let engine = GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            GeneralPurposeConfig::new()
                .with_encode_padding(false)
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(DecodePaddingMode::RequireNone),
        );
        let alphabet = [b'A', b'Q', b'z', b'9', b'-', b'_', b'=', b'+', b'.'];
        let mut input = Vec::new();
        for len in 0..=6u32 {
            for n in 0..alphabet.len().pow(len) {
                input.clear();
                let mut n = n;
                for _ in 0..len {
                    input.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                let s = std::str::from_utf8(&input).unwrap();
                let ours = decode_base64(s);
                let theirs = engine.decode(s.trim_end_matches('='));
                assert_eq!(ours.clone().ok(), theirs.ok(), "input {s:?}: {ours:?}");
            }
        }
    }

    // --- job ---

    #[test]
    fn a_plain_job_is_taken_verbatim() {
        let k = key("testjob", "");
        assert_eq!(k.labels(), pairs(&[("job", "testjob")]));
        assert_eq!(k.job(), "testjob");
        assert_eq!(k.get("instance"), None);
    }

    #[test]
    fn a_base64_job_may_contain_a_slash() {
        let k = parse_b64("dGVzdC9qb2I=", "").unwrap();
        assert_eq!(k.job(), "test/job");
    }

    #[test]
    fn a_bad_base64_job_reports_the_partially_decoded_job() {
        assert_eq!(
            message(parse_b64("YWJj!!!", "")),
            "invalid base64 encoding in job name \"abc\": illegal base64 data at input byte 4"
        );
        assert_eq!(
            message(parse_b64("Y", "")),
            "invalid base64 encoding in job name \"\": illegal base64 data at input byte 0"
        );
        assert_eq!(
            message(parse_b64("YWJjZ", "")),
            "invalid base64 encoding in job name \"abc\": illegal base64 data at input byte 4"
        );
    }

    #[test]
    fn a_partially_decoded_job_that_is_not_utf8_is_quoted_like_go() {
        // "_wA_" decodes to 0xff 0x00 '?'.
        assert_eq!(
            message(parse_b64("_wA_!", "")),
            "invalid base64 encoding in job name \"\\xff\\x00?\": illegal base64 data at input byte 4"
        );
    }

    #[test]
    fn a_bad_base64_job_is_reported_before_label_errors() {
        assert!(matches!(
            parse_b64("a", "/a"),
            Err(GroupingKeyError::InvalidJobBase64(_))
        ));
    }

    #[test]
    fn an_empty_job_is_required() {
        assert_eq!(message(parse_b64("=", "")), "job name is required");
        assert_eq!(message(parse_b64("", "")), "job name is required");
        // TestPush / TestDelete "no job".
        assert_eq!(parse("", ""), Err(GroupingKeyError::JobRequired));
    }

    #[test]
    fn label_errors_are_reported_before_an_empty_job() {
        assert_eq!(
            message(parse_b64("=", "/a")),
            "odd number of components in label string \"/a\""
        );
    }

    #[test]
    fn the_path_job_wins_over_a_job_label() {
        assert_eq!(key("foo", "/job/bar").labels(), pairs(&[("job", "foo")]));
        assert_eq!(
            key("foo", "/job@base64/YmFy").labels(),
            pairs(&[("job", "foo")])
        );
    }

    // --- label part ---

    #[test]
    fn a_label_part_of_at_most_one_byte_means_no_labels() {
        assert_eq!(key("foo", "").labels(), pairs(&[("job", "foo")]));
        assert_eq!(key("foo", "/").labels(), pairs(&[("job", "foo")]));
    }

    #[test]
    fn regular_labels_are_split_into_pairs() {
        // TestSplitLabels "regular labels".
        let k = key("j", "/label_name1/label_value1/label_name2/label_value2");
        assert_eq!(
            k.labels(),
            pairs(&[
                ("job", "j"),
                ("label_name1", "label_value1"),
                ("label_name2", "label_value2"),
            ])
        );
    }

    #[test]
    fn an_odd_number_of_components_quotes_the_whole_label_part() {
        for labels in ["/a", "/a/b/", "/e@base64/a+b/"] {
            assert_eq!(
                message(parse("j", labels)),
                format!("odd number of components in label string {}", quote(labels))
            );
        }
        // %2F decoded by Go before routing: job "a", labels "/b".
        assert_eq!(
            message(parse("a", "/b")),
            "odd number of components in label string \"/b\""
        );
    }

    #[test]
    fn an_unencoded_slash_in_a_label_value_makes_the_count_odd() {
        // TestSplitLabels "unencoded slash in label value".
        assert_eq!(
            message(parse(
                "j",
                "/label_name1/label_value1/label_name2/label/value2"
            )),
            "odd number of components in label string \"/label_name1/label_value1/label_name2/label/value2\""
        );
    }

    #[test]
    fn a_trailing_slash_gives_an_empty_value() {
        assert_eq!(
            key("dot", "/l/").labels(),
            pairs(&[("job", "dot"), ("l", "")])
        );
    }

    #[test]
    fn invalid_label_names_are_improper() {
        // TestSplitLabels "invalid label name".
        assert_eq!(
            message(parse("j", "/label_name1/label_value1/a=b/label_value2")),
            "improper label name \"a=b\""
        );
        assert_eq!(message(parse("j", "/a-b/x")), "improper label name \"a-b\"");
        assert_eq!(message(parse("j", "/1a/x")), "improper label name \"1a\"");
        assert_eq!(message(parse("j", "//x")), "improper label name \"\"");
    }

    #[test]
    fn reserved_label_names_are_improper() {
        // TestSplitLabels "reserved label name".
        assert_eq!(
            message(parse(
                "j",
                "/label_name1/label_value1/__label_name2/label_value2"
            )),
            "improper label name \"__label_name2\""
        );
        assert_eq!(message(parse("j", "/__a/x")), "improper label name \"__a\"");
        assert_eq!(
            message(parse("j", "/__a@base64/YQ")),
            "improper label name \"__a\""
        );
    }

    #[test]
    fn an_empty_base64_name_is_improper() {
        assert_eq!(
            message(parse("j", "/@base64/YQ")),
            "improper label name \"\""
        );
    }

    #[test]
    fn only_one_base64_suffix_is_removed() {
        assert_eq!(
            message(parse("j", "/h@base64@base64/YQ")),
            "improper label name \"h@base64\""
        );
    }

    #[test]
    fn a_label_name_error_comes_before_a_base64_error_of_its_own_value() {
        assert_eq!(
            message(parse("j", "/a-b@base64/!!")),
            "improper label name \"a-b\""
        );
    }

    #[test]
    fn pairs_are_checked_in_path_order() {
        assert_eq!(
            message(parse("j", "/d@base64/YQ=x/a-b/v")),
            "invalid base64 encoding for label d=\"YQ=x\": illegal base64 data at input byte 2"
        );
        assert_eq!(
            message(parse("j", "/a-b/v/d@base64/YQ=x")),
            "improper label name \"a-b\""
        );
    }

    #[test]
    fn a_base64_label_value_may_contain_a_slash() {
        // TestSplitLabels "encoded slash in first label value".
        let k = key(
            "j",
            "/label_name1@base64/bGFiZWwvdmFsdWUx/label_name2/label_value2",
        );
        assert_eq!(k.get("label_name1"), Some("label/value1"));
        assert_eq!(k.get("label_name2"), Some("label_value2"));
        // TestSplitLabels "encoded slash in last label value".
        let k = key(
            "j",
            "/label_name1/label_value1/label_name2@base64/bGFiZWwvdmFsdWUy",
        );
        assert_eq!(k.get("label_name1"), Some("label_value1"));
        assert_eq!(k.get("label_name2"), Some("label/value2"));
    }

    #[test]
    fn a_base64_label_value_may_carry_padding() {
        // TestSplitLabels "encoded slash in last label value with padding".
        let k = key(
            "j",
            "/label_name1/label_value1/label_name2@base64/bGFiZWwvdmFsdWUy==",
        );
        assert_eq!(k.get("label_name2"), Some("label/value2"));
    }

    #[test]
    fn an_empty_base64_label_value_is_written_as_an_equals_sign() {
        assert_eq!(key("j", "/l@base64/=").get("l"), Some(""));
    }

    #[test]
    fn a_bad_base64_label_value_names_the_label_and_quotes_the_raw_value() {
        // TestSplitLabels "invalid base64 encoding".
        assert_eq!(
            message(parse("j", "/label_name1@base64/foo.bar/label_name2/label_value2")),
            "invalid base64 encoding for label label_name1=\"foo.bar\": illegal base64 data at input byte 3"
        );
        assert_eq!(
            message(parse("j", "/d@base64/YQ=x")),
            "invalid base64 encoding for label d=\"YQ=x\": illegal base64 data at input byte 2"
        );
        assert_eq!(
            message(parse("j", "/e@base64/a+b")),
            "invalid base64 encoding for label e=\"a+b\": illegal base64 data at input byte 1"
        );
    }

    #[test]
    fn a_later_duplicate_name_overwrites_an_earlier_one() {
        assert_eq!(key("j", "/a/1/a/2").get("a"), Some("2"));
        assert_eq!(key("j", "/a/1/a@base64/Mg").get("a"), Some("2"));
    }

    #[test]
    fn plus_and_non_ascii_values_are_taken_verbatim() {
        let k = key("titan", "/l/a+b/name/Προμηθεύς");
        assert_eq!(k.get("l"), Some("a+b"));
        assert_eq!(k.get("name"), Some("Προμηθεύς"));
    }

    #[test]
    fn a_label_part_without_a_leading_slash_does_not_panic() {
        // Outside the router's contract; the first character is skipped as upstream does.
        assert_eq!(key("j", "Πa/b").get("a"), Some("b"));
        assert_eq!(
            message(parse("j", "Π")),
            "odd number of components in label string \"Π\""
        );
    }

    // --- our UTF-8 rule ---

    #[test]
    fn a_base64_job_that_is_not_utf8_is_rejected() {
        let err = parse_b64("_w", "").unwrap_err();
        assert_eq!(
            err,
            GroupingKeyError::InvalidUtf8Value {
                name: "job".into(),
                value: vec![0xff],
            }
        );
        assert_eq!(
            err.to_string(),
            "label value for \"job\" is not valid UTF-8: \"\\xff\""
        );
    }

    #[test]
    fn a_base64_label_value_that_is_not_utf8_is_rejected() {
        assert_eq!(
            message(parse("j", "/a@base64/Yf8")),
            "label value for \"a\" is not valid UTF-8: \"a\\xff\""
        );
    }

    #[test]
    fn upstream_errors_take_precedence_over_the_utf8_rule() {
        assert_eq!(
            message(parse_b64("_w", "/a")),
            "odd number of components in label string \"/a\""
        );
        assert_eq!(
            message(parse("j", "/a@base64/_w/b-c/x")),
            "improper label name \"b-c\""
        );
    }

    #[test]
    fn a_non_utf8_value_that_is_overwritten_is_not_an_error() {
        assert_eq!(key("j", "/a@base64/_w/a/x").get("a"), Some("x"));
        assert_eq!(key("j", "/job@base64/_w").job(), "j");
    }

    // --- UTF-8 names (--push.enable-utf8-names) ---

    #[test]
    fn escaped_names_are_literal_without_the_utf8_flag() {
        // TestSplitLabels "UTF-8 escaped name with legacy validation".
        let k = key(
            "j",
            "/label_name1/label_value1/U__label_2e_name2/label_value2",
        );
        assert_eq!(k.get("label_name1"), Some("label_value1"));
        assert_eq!(k.get("U__label_2e_name2"), Some("label_value2"));
    }

    #[test]
    fn escaped_names_are_unescaped_with_the_utf8_flag() {
        // TestSplitLabelsUTF8 "regular label and UTF-8 escaped label name".
        let k = GroupingKey::from_path(
            "j",
            false,
            "/label_name1/label_value1/U__label_2e_name2/label_value2",
            UTF8,
        )
        .unwrap();
        assert_eq!(
            k.labels(),
            pairs(&[
                ("job", "j"),
                ("label.name2", "label_value2"),
                ("label_name1", "label_value1"),
            ])
        );
    }

    #[test]
    fn escaped_base64_names_decode_both_name_and_value_with_the_utf8_flag() {
        // TestSplitLabelsUTF8 "encoded slash in both values and escaped name".
        let k = GroupingKey::from_path(
            "j",
            false,
            "/label_name1@base64/bGFiZWwvdmFsdWUx/U__label_2e_name2@base64/bGFiZWwvdmFsdWUy",
            UTF8,
        )
        .unwrap();
        assert_eq!(k.get("label_name1"), Some("label/value1"));
        assert_eq!(k.get("label.name2"), Some("label/value2"));
        let k = GroupingKey::from_path("x", false, "/U__foo_2e_bar@base64/YmF6", UTF8).unwrap();
        assert_eq!(k.get("foo.bar"), Some("baz"));
    }

    #[test]
    fn plain_non_legacy_names_are_accepted_with_the_utf8_flag() {
        let k = GroupingKey::from_path("x", false, "/a-b/v", UTF8).unwrap();
        assert_eq!(k.get("a-b"), Some("v"));
        assert_eq!(
            message(GroupingKey::from_path("x", false, "/__a/v", UTF8)),
            "improper label name \"__a\""
        );
    }

    #[test]
    fn u_prefix_alone_unescapes_to_an_empty_improper_name() {
        assert_eq!(
            message(GroupingKey::from_path("x", false, "/U__/v", UTF8)),
            "improper label name \"U__\""
        );
    }

    #[test]
    fn the_reserved_prefix_is_tested_on_the_escaped_name() {
        let k = GroupingKey::from_path("x", false, "/U______foo/v", UTF8).unwrap();
        assert_eq!(k.get("__foo"), Some("v"));
        // Five underscores leave `_foo` as a malformed escape: the name stays literal.
        let k = GroupingKey::from_path("x", false, "/U_____foo/v", UTF8).unwrap();
        assert_eq!(k.get("U_____foo"), Some("v"));
    }

    #[test]
    fn unescaping_follows_upstream_examples() {
        assert_eq!(
            unescape_value_encoding("U__dotted_2e_label_2e_name"),
            "dotted.label.name"
        );
        assert_eq!(unescape_value_encoding("U___55_____"), "U__");
        assert_eq!(unescape_value_encoding("U__a__b"), "a_b");
        assert_eq!(unescape_value_encoding("U__Pr_3bf_"), "Prο");
        assert_eq!(unescape_value_encoding("U__x_2E_"), "x.");
        assert_eq!(unescape_value_encoding("U__Π_2e_"), "Π.");
        assert_eq!(unescape_value_encoding("plain"), "plain");
        assert_eq!(unescape_value_encoding(""), "");
    }

    #[test]
    fn malformed_escapes_leave_the_whole_name_unchanged() {
        for name in [
            "U__a_",        // lone trailing underscore
            "U__a_2g_",     // non-hex digit
            "U__a_2e",      // missing closing underscore
            "U__a_d800_",   // surrogate
            "U__a_110000_", // beyond the last code point
            "U__a_10ffff_", // six digits: upstream stops at five
            "U__a_Π_",      // non-ASCII in a hex run
        ] {
            assert_eq!(unescape_value_encoding(name), name);
        }
        assert_eq!(unescape_value_encoding("U__a_0010f_"), "a\u{10f}");
        assert_eq!(unescape_value_encoding("U__a_fffff_"), "a\u{fffff}");
    }

    #[test]
    fn unescaping_lowers_bytes_like_go_so_some_control_bytes_count_as_digits() {
        // Go's `c | 0x20` maps 0x11 to '1'.
        assert_eq!(unescape_value_encoding("U__a_\u{11}_"), "a\u{1}");
    }

    // --- TestPush / TestDelete grouping labels ---

    #[test]
    fn push_and_delete_paths_from_the_upstream_tests_give_their_grouping_labels() {
        assert_eq!(key("testjob", "").labels(), pairs(&[("job", "testjob")]));
        assert_eq!(
            key("testjob", "/instance/testinstance").labels(),
            pairs(&[("instance", "testinstance"), ("job", "testjob")])
        );
        assert_eq!(
            parse_b64("dGVzdC9qb2I=", "/instance@base64/dGVzdGluc3RhbmNl")
                .unwrap()
                .labels(),
            pairs(&[("instance", "testinstance"), ("job", "test/job")])
        );
    }

    #[test]
    fn utf8_push_and_delete_paths_from_the_upstream_tests_give_their_grouping_labels() {
        let want = pairs(&[
            ("dotted.label.name", "mylabelvalue"),
            ("instance", "testinstance"),
            ("job", "testjob"),
        ]);
        let k = GroupingKey::from_path(
            "testjob",
            false,
            "/instance/testinstance/U__dotted_2e_label_2e_name/mylabelvalue",
            UTF8,
        )
        .unwrap();
        assert_eq!(k.labels(), want);
        let k = GroupingKey::from_path(
            "dGVzdC9qb2I=",
            true,
            "/instance@base64/dGVzdGluc3RhbmNl/U__dotted_2e_label_2e_name@base64/bXlsYWJlbHZhbHVl",
            UTF8,
        )
        .unwrap();
        assert_eq!(k.get("job"), Some("test/job"));
        assert_eq!(k.get("instance"), Some("testinstance"));
        assert_eq!(k.get("dotted.label.name"), Some("mylabelvalue"));
    }

    // --- from_labels ---

    #[test]
    fn from_labels_sorts_and_round_trips() {
        let k = key("b", "/zeta/1/instance/a");
        assert_eq!(GroupingKey::from_labels(k.labels().to_vec()), Ok(k.clone()));
        let shuffled = pairs(&[("zeta", "1"), ("job", "b"), ("instance", "a")]);
        assert_eq!(GroupingKey::from_labels(shuffled), Ok(k));
    }

    #[test]
    fn from_labels_requires_a_non_empty_job() {
        assert_eq!(
            GroupingKey::from_labels(pairs(&[("instance", "a")])),
            Err(GroupingKeyError::JobRequired)
        );
        assert_eq!(
            GroupingKey::from_labels(pairs(&[("job", "")])),
            Err(GroupingKeyError::JobRequired)
        );
        assert_eq!(
            GroupingKey::from_labels(Vec::new()),
            Err(GroupingKeyError::JobRequired)
        );
    }

    #[test]
    fn from_labels_keeps_the_last_of_repeated_names() {
        let k = GroupingKey::from_labels(pairs(&[("job", "a"), ("job", "b")])).unwrap();
        assert_eq!(k.labels(), pairs(&[("job", "b")]));
    }

    // --- upstream_key ---

    #[test]
    fn upstream_key_matches_test_grouping_key_for_labels() {
        assert_eq!(upstream_key_for([]), b"");
        assert_eq!(upstream_key_for([("foo", "bar")]), b"foo\xffbar");
        assert_eq!(
            upstream_key_for([("foo", "bar"), ("dings", "bums")]),
            b"dings\xffbums\xfffoo\xffbar"
        );
    }

    #[test]
    fn upstream_key_of_a_grouping_key_joins_its_sorted_labels() {
        assert_eq!(key("j", "").upstream_key(), b"job\xffj");
        assert_eq!(
            key("j", "/instance/i").upstream_key(),
            b"instance\xffi\xffjob\xffj"
        );
        assert_eq!(
            key("j", "/instance/").upstream_key(),
            b"instance\xff\xffjob\xffj"
        );
    }

    #[test]
    fn sorting_by_upstream_key_gives_upstream_group_order() {
        // The separator 0xFF sorts after every UTF-8 byte, so `{job="ab"}` comes before
        // `{job="a",x="1"}`, unlike the order of (name, value) tuples.
        let mut keys = [
            key("b", ""),
            key("a", "/x/1"),
            key("a", ""),
            key("a", "/instance/z"),
            key("ab", ""),
        ];
        keys.sort_by_key(GroupingKey::upstream_key);
        let order: Vec<String> = keys.iter().map(GroupingKey::canonical).collect();
        assert_eq!(
            order,
            [
                r#"{instance="z",job="a"}"#,
                r#"{job="a"}"#,
                r#"{job="ab"}"#,
                r#"{job="a",x="1"}"#,
                r#"{job="b"}"#,
            ]
        );
    }

    // --- other forms ---

    #[test]
    fn canonical_form_lists_labels_in_name_order_with_text_format_escaping() {
        let k =
            GroupingKey::from_labels(pairs(&[("job", "b"), ("instance", "a\\b\"c\nd")])).unwrap();
        assert_eq!(k.canonical(), r#"{instance="a\\b\"c\nd",job="b"}"#);
        assert_eq!(k.to_string(), k.canonical());
    }

    #[test]
    fn canonical_form_quotes_names_that_are_not_legacy_names() {
        let k =
            GroupingKey::from_labels(pairs(&[("job", "j"), ("dotted.name", "v"), ("a\"b", "")]))
                .unwrap();
        assert_eq!(k.canonical(), r#"{"a\"b"="","dotted.name"="v",job="j"}"#);
    }

    #[test]
    fn json_form_is_an_object_with_sorted_keys() {
        let k = key("b", "/instance/a/z/\"q\"");
        assert_eq!(k.to_json(), r#"{"instance":"a","job":"b","z":"\"q\""}"#);
    }

    #[test]
    fn base64_path_form_encodes_every_value_and_pads_label_values() {
        let k = key("test/job", "/instance/testinstance/empty/");
        assert_eq!(
            k.to_base64_path(),
            "/job@base64/dGVzdC9qb2I/empty@base64/=/instance@base64/dGVzdGluc3RhbmNl="
        );
    }

    #[test]
    fn base64_path_form_parses_back_to_the_same_key() {
        let keys = [
            key("test/job", "/instance/testinstance/empty/"),
            key("ü", "/a/ä+ö%"),
            GroupingKey::from_path(
                "j",
                false,
                "/U__a_2f_b/v/U__dotted_2e_name/w/U___31_x/1/U__a_2d__2d_b/z",
                UTF8,
            )
            .unwrap(),
            // `U______` unescapes to `__`, which must be written escaped again.
            GroupingKey::from_path("j", false, "/U______/v", UTF8).unwrap(),
        ];
        for k in keys {
            let path = k.to_base64_path();
            let rest = path.strip_prefix("/job@base64/").unwrap();
            let (job, labels) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let names = if k
                .labels()
                .iter()
                .all(|(n, _)| is_legacy_label_name(n) && !n.starts_with("__"))
            {
                LEGACY
            } else {
                UTF8
            };
            assert_eq!(
                GroupingKey::from_path(job, true, labels, names),
                Ok(k.clone()),
                "{path}"
            );
        }
    }

    #[test]
    fn escaping_a_name_writes_upstream_value_encoding() {
        assert_eq!(
            escape_value_encoding("dotted.label.name"),
            "U__dotted_2e_label_2e_name"
        );
        assert_eq!(escape_value_encoding("1a_b"), "U___31_a__b");
        assert_eq!(escape_value_encoding("Π"), "U___3a0_");
    }
}
