//! Pushes whose body is a stream of length-delimited `io.prometheus.client.MetricFamily`
//! messages (upstream's handler/push.go).
//!
//! Upstream picks this parser only when Go's `mime.ParseMediaType` accepts the Content-Type,
//! the media type is `application/vnd.google.protobuf` and the parameters say
//! `proto=io.prometheus.client.MetricFamily` and `encoding=delimited`; everything else goes
//! to the text parser. A Content-Type that would choose differently here than upstream would
//! turn a valid push into a 400 (or the reverse), so the media-type grammar is reproduced
//! exactly, RFC 2231 continuations included.
//!
//! Parsing follows `protodelim` with no size limit: varint length, message, repeat until the
//! body ends. Families are keyed by name, so a later family with the same name replaces an
//! earlier one, as in upstream's map.
//!
//! [`check_names`] then applies the name rules the text parser applies while parsing, so a
//! name the text format refuses is refused in protobuf too, with a 400 that changes nothing.
//! Upstream 1.5.1 refuses most of these only in its consistency check (which records a failed
//! push), and 1.11.3 stores invalid label names and escapes them on exposition.

use std::collections::{HashMap, HashSet};
use std::fmt;

use prost::Message;

use crate::go_strconv::quote;
use crate::names::NameValidation;
use crate::proto::{MetricFamily, MetricType};

const PROTOBUF_MEDIA_TYPE: &str = "application/vnd.google.protobuf";
const METRIC_FAMILY_PROTO: &[u8] = b"io.prometheus.client.MetricFamily";
const DELIMITED_ENCODING: &[u8] = b"delimited";

/// A body that is not a valid stream of delimited `MetricFamily` messages.
///
/// `Display` is the bare message, because upstream answers 400 with exactly that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtobufParseError {
    message: String,
}

impl ProtobufParseError {
    fn new(message: impl Into<String>) -> Self {
        ProtobufParseError {
            message: message.into(),
        }
    }

    fn unexpected_eof() -> Self {
        ProtobufParseError::new("unexpected EOF")
    }

    /// The error text, as sent to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ProtobufParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProtobufParseError {}

/// True iff `content_type` selects the delimited protobuf parser.
///
/// Go `mime.ParseMediaType` semantics: type and parameter names are case-insensitive,
/// parameters may come in any order, values may be quoted and are case-sensitive, and a header
/// that does not parse (including one with conflicting duplicate parameters) selects text.
pub fn is_delimited_protobuf(content_type: &str) -> bool {
    let Some((base, params)) = parse_media_type(content_type) else {
        return false;
    };
    eq_ignore_case(base.trim(), PROTOBUF_MEDIA_TYPE)
        && params.get("proto").map(Vec::as_slice) == Some(METRIC_FAMILY_PROTO)
        && params.get("encoding").map(Vec::as_slice) == Some(DELIMITED_ENCODING)
}

/// Parses a body of varint-length-prefixed `MetricFamily` messages until it ends.
///
/// An empty body is a valid push of no families. A later family with the name of an earlier
/// one replaces it but keeps the earlier position. Families without metrics are kept: a POST
/// uses them to remove a family. A `type` outside the known enum is dropped to unset, because
/// proto2 enums are closed and Go's decoder parks such values among the unknown fields.
pub fn parse_delimited(body: &[u8]) -> Result<Vec<MetricFamily>, ProtobufParseError> {
    parse_delimited_limited(body, None).map_err(|refusal| match refusal {
        ProtobufRefusal::Invalid(e) => e,
        // No limit was given; kept total rather than assumed away.
        ProtobufRefusal::TooManySeries(max) => {
            ProtobufParseError::new(format!("more than {max} series"))
        }
    })
}

/// Why [`parse_delimited_limited`] refused a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtobufRefusal {
    /// Not a valid stream, as [`parse_delimited`] says.
    Invalid(ProtobufParseError),
    /// The body holds more series than the limit. Each family's metrics are counted before
    /// it is decoded, so a body of millions of tiny metrics is refused without allocating
    /// them (an empty metric is 2 bytes on the wire and hundreds in memory).
    TooManySeries(usize),
}

/// [`parse_delimited`], refusing a body with more than `max_series` series (metrics, after
/// later families replaced earlier ones of the same name) when a limit is given.
pub fn parse_delimited_limited(
    body: &[u8],
    max_series: Option<usize>,
) -> Result<Vec<MetricFamily>, ProtobufRefusal> {
    let invalid = ProtobufRefusal::Invalid;
    let mut families: Vec<MetricFamily> = Vec::new();
    let mut position_by_name: HashMap<String, usize> = HashMap::new();
    // Metrics per family (by position) and in all, for the limit.
    let mut counts: Vec<usize> = Vec::new();
    let mut total = 0usize;
    let mut rest = body;
    while !rest.is_empty() {
        let (declared_len, prefix_len) = read_length_prefix(rest).map_err(invalid)?;
        rest = &rest[prefix_len..];
        // Compare before converting or slicing, so a huge prefix costs nothing.
        let len = usize::try_from(declared_len)
            .ok()
            .filter(|&len| len <= rest.len())
            .ok_or_else(|| invalid(ProtobufParseError::unexpected_eof()))?;
        let (message, tail) = rest.split_at(len);
        rest = tail;

        // A malformed message is left to the decoder, which says why.
        let scanned = scan_family(message);
        if let (Some(max), Some((name, metrics))) = (max_series, scanned) {
            let replaced = position_by_name.get(name).map_or(0, |&i| counts[i]);
            if total - replaced + metrics > max {
                return Err(ProtobufRefusal::TooManySeries(max));
            }
        }
        // Metrics are large in memory (hundreds of bytes, for 2 on the wire): room for
        // exactly as many as the message holds, rather than a vector doubling its way there.
        let mut family = MetricFamily::default();
        if let Some((_, metrics)) = scanned {
            family.metric.reserve_exact(metrics);
        }
        family
            .merge(message)
            .map_err(|e| invalid(ProtobufParseError::new(e.to_string())))?;
        if family
            .r#type
            .is_some_and(|t| MetricType::try_from(t).is_err())
        {
            family.r#type = None;
        }
        let name = family.name.clone().unwrap_or_default();
        let metrics = family.metric.len();
        match position_by_name.get(&name) {
            Some(&i) => {
                total = total - counts[i] + metrics;
                counts[i] = metrics;
                families[i] = family;
            }
            None => {
                position_by_name.insert(name, families.len());
                total += metrics;
                counts.push(metrics);
                families.push(family);
            }
        }
    }
    Ok(families)
}

/// The name rules the text parser enforces, applied to parsed protobuf families: a valid
/// metric name and valid label names under `names` (legacy or UTF-8), no `__name__` label,
/// no label name twice on one metric. Labels starting with `__` are left to the consistency
/// check, as for text.
pub fn check_names(
    families: &[MetricFamily],
    names: NameValidation,
) -> Result<(), ProtobufParseError> {
    let mut seen: HashSet<&str> = HashSet::new();
    for family in families {
        let metric_name = family.name();
        if !names.is_valid_metric_name(metric_name) {
            return Err(ProtobufParseError::new(format!(
                "invalid metric name {} in protobuf body",
                quote(metric_name)
            )));
        }
        for metric in &family.metric {
            seen.clear();
            for label in &metric.label {
                let label_name = label.name();
                if label_name == RESERVED_NAME_LABEL {
                    return Err(ProtobufParseError::new(format!(
                        "reserved label name {} for metric {} in protobuf body",
                        quote(label_name),
                        quote(metric_name)
                    )));
                }
                if !names.is_valid_label_name(label_name) {
                    return Err(ProtobufParseError::new(format!(
                        "invalid label name {} for metric {} in protobuf body",
                        quote(label_name),
                        quote(metric_name)
                    )));
                }
                if !seen.insert(label_name) {
                    return Err(ProtobufParseError::new(format!(
                        "duplicate label names for metric {} in protobuf body",
                        quote(metric_name)
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The label that carries the metric name inside Prometheus; a pushed label may not use it.
const RESERVED_NAME_LABEL: &str = "__name__";

/// The name (the last `name` field, as decoding keeps it; `""` when absent or not UTF-8) and
/// the number of metrics of one encoded `MetricFamily`, read without decoding it. `None` when
/// the message is malformed.
fn scan_family(mut message: &[u8]) -> Option<(&str, usize)> {
    use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
    const NAME: u32 = 1;
    const METRIC: u32 = 4;
    let mut name: &[u8] = b"";
    let mut metrics = 0;
    while !message.is_empty() {
        let (tag, wire_type) = decode_key(&mut message).ok()?;
        match (tag, wire_type) {
            (NAME | METRIC, WireType::LengthDelimited) => {
                let len = usize::try_from(decode_varint(&mut message).ok()?).ok()?;
                if len > message.len() {
                    return None;
                }
                let (field, after) = message.split_at(len);
                if tag == NAME {
                    name = field;
                } else {
                    metrics += 1;
                }
                message = after;
            }
            _ => skip_field(wire_type, tag, &mut message, DecodeContext::default()).ok()?,
        }
    }
    Some((std::str::from_utf8(name).unwrap_or_default(), metrics))
}

/// Reads an unsigned varint like Go's `binary.ReadUvarint`; returns the value and its length.
fn read_length_prefix(buf: &[u8]) -> Result<(u64, usize), ProtobufParseError> {
    const MAX_VARINT_LEN: usize = 10;
    let overflow = || ProtobufParseError::new("binary: varint overflows a 64-bit integer");
    let mut value: u64 = 0;
    for i in 0..MAX_VARINT_LEN {
        let Some(&byte) = buf.get(i) else {
            return Err(ProtobufParseError::unexpected_eof());
        };
        if byte < 0x80 {
            if i == MAX_VARINT_LEN - 1 && byte > 1 {
                return Err(overflow());
            }
            return Ok((value | (u64::from(byte) << (7 * i)), i + 1));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
    }
    Err(overflow())
}

// ---------------------------------------------------------------------------------------------
// Go `mime.ParseMediaType`
// ---------------------------------------------------------------------------------------------

/// Parameter values are bytes: percent-decoding (RFC 2231) can produce any byte.
type Params = HashMap<String, Vec<u8>>;

/// Splits a Content-Type into its (untrimmed, not lower-cased) media type and its parameters
/// with lower-case names; `None` wherever Go returns an error. The media type's own syntax is
/// left to the caller, which compares it with one known value.
/// Case-insensitive comparison as Go's `strings.ToLower` + `==` for the ASCII names used here.
fn eq_ignore_case(value: &str, target: &str) -> bool {
    value.eq_ignore_ascii_case(target)
}

fn parse_media_type(value: &str) -> Option<(&str, Params)> {
    let (base, mut rest) = match value.find(';') {
        Some(i) => value.split_at(i),
        None => (value, ""),
    };
    let mut params = Params::new();
    let mut continuations: HashMap<String, Params> = HashMap::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let Some((name, param_value, after)) = consume_media_param(rest) else {
            // A lone trailing semicolon is tolerated; anything else is an error.
            if rest.trim() == ";" {
                break;
            }
            return None;
        };
        let target = match name.find('*') {
            Some(star) => continuations.entry(name[..star].to_owned()).or_default(),
            None => &mut params,
        };
        if target
            .get(&name)
            .is_some_and(|existing| *existing != param_value)
        {
            return None;
        }
        target.insert(name, param_value);
        rest = after;
    }
    for (name, pieces) in continuations {
        if let Some(value) = join_continuation(&name, &pieces) {
            params.insert(name, value);
        }
    }
    Some((base, params))
}

/// RFC 2231: `name*` is one encoded value, `name*0`, `name*1*`, ... are pieces (encoded when
/// starred). The result replaces a plain `name` parameter, as in Go.
fn join_continuation(name: &str, pieces: &Params) -> Option<Vec<u8>> {
    if let Some(encoded) = pieces.get(&format!("{name}*")) {
        return decode_rfc2231(encoded);
    }
    let mut joined = Vec::new();
    let mut found = false;
    for n in 0usize.. {
        let simple = format!("{name}*{n}");
        if let Some(piece) = pieces.get(&simple) {
            found = true;
            joined.extend_from_slice(piece);
            continue;
        }
        let Some(piece) = pieces.get(&format!("{simple}*")) else {
            break;
        };
        found = true;
        let decoded = if n == 0 {
            decode_rfc2231(piece)
        } else {
            percent_unescape(piece)
        };
        joined.extend(decoded.unwrap_or_default());
    }
    found.then_some(joined)
}

/// `charset'language'percent-encoded`, where only US-ASCII and UTF-8 are understood.
fn decode_rfc2231(value: &[u8]) -> Option<Vec<u8>> {
    let mut parts = value.splitn(3, |&b| b == b'\'');
    let charset = std::str::from_utf8(parts.next()?).ok()?;
    let _language = parts.next()?;
    let encoded = parts.next()?;
    if !eq_ignore_case(charset, "us-ascii") && !eq_ignore_case(charset, "utf-8") {
        return None;
    }
    percent_unescape(encoded)
}

fn percent_unescape(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hi = hex_value(*s.get(i + 1)?)?;
            let lo = hex_value(*s.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// One `; name=value` step; `None` where Go's `consumeMediaParam` fails.
fn consume_media_param(v: &str) -> Option<(String, Vec<u8>, &str)> {
    let rest = v.trim_start().strip_prefix(';')?.trim_start();
    let (name, rest) = consume_token(rest);
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let (value, after) = consume_value(rest);
    if value.is_empty() && after.len() == rest.len() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value, after))
}

/// RFC 2045 tspecials.
fn is_tspecial(b: u8) -> bool {
    br#"()<>@,;:\"/[]?="#.contains(&b)
}

fn is_token_byte(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !is_tspecial(b)
}

/// The longest token prefix. The split is on a char boundary: everything before it is ASCII.
fn consume_token(v: &str) -> (&str, &str) {
    let end = v.bytes().position(|b| !is_token_byte(b)).unwrap_or(v.len());
    v.split_at(end)
}

/// A token or a quoted string. Inside quotes a backslash escapes only a tspecial (otherwise it
/// is kept, for MSIE's unescaped paths) and CR or LF is an error. On failure the value is
/// empty and nothing is consumed.
fn consume_value(v: &str) -> (Vec<u8>, &str) {
    let bytes = v.as_bytes();
    if bytes.first() != Some(&b'"') {
        let (token, rest) = consume_token(v);
        return (token.as_bytes().to_vec(), rest);
    }
    let mut value = Vec::new();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return (value, &v[i + 1..]),
            b'\\' if bytes.get(i + 1).is_some_and(|&next| is_tspecial(next)) => {
                value.push(bytes[i + 1]);
                i += 2;
                continue;
            }
            b'\r' | b'\n' => return (Vec::new(), v),
            b => value.push(b),
        }
        i += 1;
    }
    (Vec::new(), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Gauge, LabelPair, Metric};

    const CANONICAL: &str =
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

    fn family(name: &str, help: &str, values: &[f64]) -> MetricFamily {
        MetricFamily {
            name: Some(name.to_owned()),
            help: Some(help.to_owned()),
            r#type: Some(MetricType::Gauge as i32),
            metric: values
                .iter()
                .map(|&v| Metric {
                    label: vec![LabelPair::new("instance", "a")],
                    gauge: Some(Gauge { value: Some(v) }),
                    ..Default::default()
                })
                .collect(),
            unit: None,
        }
    }

    fn delimited(families: &[MetricFamily]) -> Vec<u8> {
        families
            .iter()
            .flat_map(|f| f.encode_length_delimited_to_vec())
            .collect()
    }

    #[test]
    fn the_canonical_content_type_selects_protobuf() {
        assert!(is_delimited_protobuf(CANONICAL));
        assert!(is_delimited_protobuf(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
        ));
    }

    #[test]
    fn media_type_and_parameter_names_are_case_insensitive() {
        assert!(is_delimited_protobuf(
            "Application/VND.Google.Protobuf; PROTO=io.prometheus.client.MetricFamily; Encoding=delimited"
        ));
    }

    #[test]
    fn parameter_order_does_not_matter() {
        assert!(is_delimited_protobuf(
            "application/vnd.google.protobuf; encoding=delimited; proto=io.prometheus.client.MetricFamily"
        ));
    }

    #[test]
    fn quoted_values_and_extra_parameters_are_allowed() {
        assert!(is_delimited_protobuf(
            "application/vnd.google.protobuf; proto=\"io.prometheus.client.MetricFamily\"; encoding=\"delimited\"; charset=utf-8"
        ));
        assert!(is_delimited_protobuf(
            "  application/vnd.google.protobuf ;proto = io.prometheus.client.MetricFamily ; encoding= delimited "
        ));
    }

    #[test]
    fn parameter_values_are_case_sensitive() {
        assert!(!is_delimited_protobuf(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=Delimited"
        ));
        assert!(!is_delimited_protobuf(
            "application/vnd.google.protobuf; proto=io.prometheus.client.metricfamily; encoding=delimited"
        ));
    }

    #[test]
    fn a_missing_or_different_parameter_selects_text() {
        assert!(!is_delimited_protobuf(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"
        ));
        assert!(!is_delimited_protobuf(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=text"
        ));
        assert!(!is_delimited_protobuf(
            "application/x-protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        ));
        assert!(!is_delimited_protobuf("text/plain; version=0.0.4"));
        assert!(!is_delimited_protobuf(""));
    }

    #[test]
    fn an_unparsable_content_type_selects_text() {
        for header in [
            "application/vnd.google.protobuf; proto; encoding=delimited; proto=io.prometheus.client.MetricFamily",
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited;;",
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=\"delimited",
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; encoding=text",
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited junk",
            "application/vnd.google.protobuf/x; proto=io.prometheus.client.MetricFamily; encoding=delimited",
        ] {
            assert!(!is_delimited_protobuf(header), "{header}");
        }
    }

    #[test]
    fn a_trailing_semicolon_and_equal_duplicates_are_tolerated() {
        assert!(is_delimited_protobuf(&format!("{CANONICAL};")));
        assert!(is_delimited_protobuf(&format!(
            "{CANONICAL}; encoding=delimited"
        )));
    }

    #[test]
    fn rfc2231_continuations_build_the_parameter_value() {
        assert!(is_delimited_protobuf(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding*0=deli; encoding*1=mited"
        ));
        assert!(is_delimited_protobuf(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=text; encoding*=utf-8''%64elimited"
        ));
        // An undecodable `name*` (unknown charset) leaves the plain value in place.
        assert!(is_delimited_protobuf(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; encoding*=latin1''text"
        ));
    }

    #[test]
    fn quoted_backslashes_escape_only_tspecials() {
        assert_eq!(
            consume_value(r#""a\"b" rest"#),
            (br#"a"b"#.to_vec(), " rest")
        );
        assert_eq!(consume_value(r#""a\b""#), (br"a\b".to_vec(), ""));
        assert_eq!(consume_value("\"a\nb\""), (Vec::new(), "\"a\nb\""));
    }

    #[test]
    fn an_empty_body_is_an_empty_push() {
        assert_eq!(parse_delimited(b""), Ok(Vec::new()));
    }

    #[test]
    fn families_are_returned_in_body_order() {
        let families = vec![
            family("b", "second", &[1.0]),
            family("a", "first", &[2.0, 3.0]),
        ];
        assert_eq!(parse_delimited(&delimited(&families)), Ok(families));
    }

    #[test]
    fn a_later_family_with_the_same_name_replaces_the_earlier_in_its_place() {
        let body = delimited(&[
            family("x", "old", &[1.0]),
            family("y", "", &[2.0]),
            family("x", "new", &[3.0]),
        ]);
        let parsed = parse_delimited(&body).unwrap();
        assert_eq!(
            parsed,
            vec![family("x", "new", &[3.0]), family("y", "", &[2.0])]
        );
    }

    #[test]
    fn families_without_metrics_are_kept() {
        let body = delimited(&[family("empty", "", &[])]);
        assert_eq!(parse_delimited(&body), Ok(vec![family("empty", "", &[])]));
    }

    #[test]
    fn a_zero_length_message_is_a_family_without_a_name() {
        let parsed = parse_delimited(&[0]).unwrap();
        assert_eq!(parsed, vec![MetricFamily::default()]);
    }

    #[test]
    fn a_family_type_outside_the_enum_becomes_unset() {
        let mut f = family("x", "", &[1.0]);
        f.r#type = Some(42);
        let parsed = parse_delimited(&delimited(&[f])).unwrap();
        assert_eq!(parsed[0].r#type, None);
    }

    #[test]
    fn a_truncated_message_is_unexpected_eof() {
        let body = delimited(&[family("x", "help", &[1.0])]);
        for cut in 1..body.len() {
            assert_eq!(
                parse_delimited(&body[..cut]).unwrap_err().to_string(),
                "unexpected EOF",
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_truncated_length_prefix_is_unexpected_eof() {
        assert_eq!(
            parse_delimited(&[0x80]).unwrap_err().message(),
            "unexpected EOF"
        );
        let mut body = delimited(&[family("x", "", &[1.0])]);
        body.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(
            parse_delimited(&body).unwrap_err().message(),
            "unexpected EOF"
        );
    }

    #[test]
    fn a_length_prefix_beyond_the_body_is_unexpected_eof_without_allocating() {
        // 2^63: would abort the process if anything tried to allocate it.
        let body = [
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x0a,
        ];
        assert_eq!(
            parse_delimited(&body).unwrap_err().message(),
            "unexpected EOF"
        );
    }

    #[test]
    fn an_over_long_length_prefix_is_reported_like_go() {
        let body = [0xff; 11];
        assert_eq!(
            parse_delimited(&body).unwrap_err().message(),
            "binary: varint overflows a 64-bit integer"
        );
        let body = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02];
        assert_eq!(
            parse_delimited(&body).unwrap_err().message(),
            "binary: varint overflows a 64-bit integer"
        );
    }

    #[test]
    fn malformed_message_bytes_give_the_decoder_error_text() {
        // Field 4 (metric), length-delimited, claiming 5 bytes inside a 2-byte message.
        let body = [0x02, 0x22, 0x05];
        let message = parse_delimited(&body).unwrap_err().to_string();
        let expected = MetricFamily::decode(&body[1..]).unwrap_err().to_string();
        assert_eq!(message, expected);
        assert_ne!(message, "unexpected EOF");
    }

    #[test]
    fn the_error_display_is_the_bare_message() {
        let err = parse_delimited(&[0x80]).unwrap_err();
        assert_eq!(format!("{err}"), err.message());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let valid = delimited(&[family("x", "h", &[1.0, 2.0]), family("y", "", &[])]);
        let mut seed: u32 = 0x9e37_79b9;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..5000 {
            let mut body = valid.clone();
            for _ in 0..next() % 4 + 1 {
                let i = next() as usize % body.len();
                body[i] = next() as u8;
            }
            let _ = parse_delimited(&body);
            const ALPHABET: &[u8] = b" ;=\"\\*'%aZ/\r\n\t0";
            let mut header = CANONICAL[..next() as usize % CANONICAL.len()].to_owned();
            header.extend(
                (0..next() % 40).map(|_| char::from(ALPHABET[next() as usize % ALPHABET.len()])),
            );
            let _ = is_delimited_protobuf(&header);
        }
    }

    fn labelled(name: &str, labels: &[&[(&str, &str)]]) -> MetricFamily {
        MetricFamily {
            name: Some(name.to_owned()),
            r#type: Some(MetricType::Gauge as i32),
            metric: labels
                .iter()
                .map(|pairs| Metric {
                    label: pairs.iter().map(|(n, v)| LabelPair::new(*n, *v)).collect(),
                    gauge: Some(Gauge { value: Some(1.0) }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn names_error(family: MetricFamily, names: NameValidation) -> Option<String> {
        check_names(&[family], names).err().map(|e| e.to_string())
    }

    #[test]
    fn invalid_label_names_are_refused_as_in_text() {
        for name in ["bad-label", "1abc", "a.b", "a:b", "", "Προμηθεύς", "a b"] {
            assert_eq!(
                names_error(
                    labelled("m", &[&[("ok", "1"), (name, "v")]]),
                    NameValidation::Legacy
                ),
                Some(format!(
                    "invalid label name {} for metric \"m\" in protobuf body",
                    quote(name)
                )),
                "{name:?}"
            );
        }
    }

    #[test]
    fn every_metric_of_every_family_is_checked() {
        let good = labelled("a", &[&[("x", "1")]]);
        let bad = labelled("b", &[&[("x", "1")], &[("x", "2"), ("bad-label", "3")]]);
        let err = check_names(&[good, bad], NameValidation::Legacy).unwrap_err();
        assert_eq!(
            err.message(),
            "invalid label name \"bad-label\" for metric \"b\" in protobuf body"
        );
    }

    #[test]
    fn utf8_names_accept_any_non_empty_label_name() {
        let utf8 = NameValidation::Utf8;
        for name in ["bad-label", "a.b", "Προμηθεύς", "1abc"] {
            assert_eq!(
                names_error(labelled("m", &[&[(name, "v")]]), utf8),
                None,
                "{name}"
            );
        }
        assert_eq!(
            names_error(labelled("m", &[&[("", "v")]]), utf8),
            Some("invalid label name \"\" for metric \"m\" in protobuf body".to_owned())
        );
        assert_eq!(names_error(labelled("m.x", &[&[("a", "v")]]), utf8), None);
    }

    #[test]
    fn the_name_label_is_reserved_in_both_schemes() {
        for names in [NameValidation::Legacy, NameValidation::Utf8] {
            assert_eq!(
                names_error(labelled("m", &[&[("__name__", "v")]]), names),
                Some(
                    "reserved label name \"__name__\" for metric \"m\" in protobuf body".to_owned()
                )
            );
        }
    }

    #[test]
    fn a_label_name_twice_on_one_metric_is_refused() {
        assert_eq!(
            names_error(
                labelled("m", &[&[("a", "1"), ("b", "2"), ("a", "3")]]),
                NameValidation::Legacy
            ),
            Some("duplicate label names for metric \"m\" in protobuf body".to_owned())
        );
        // The same name on different metrics is fine.
        assert_eq!(
            names_error(
                labelled("m", &[&[("a", "1")], &[("a", "2")]]),
                NameValidation::Legacy
            ),
            None
        );
    }

    #[test]
    fn double_underscore_labels_are_left_to_the_consistency_check() {
        assert_eq!(
            names_error(labelled("m", &[&[("__x", "v")]]), NameValidation::Legacy),
            None
        );
    }

    #[test]
    fn invalid_metric_names_are_refused() {
        assert_eq!(
            names_error(labelled("a.b", &[]), NameValidation::Legacy),
            Some("invalid metric name \"a.b\" in protobuf body".to_owned())
        );
        assert_eq!(
            names_error(labelled("", &[]), NameValidation::Utf8),
            Some("invalid metric name \"\" in protobuf body".to_owned())
        );
    }
}
