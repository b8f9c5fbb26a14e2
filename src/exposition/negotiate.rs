//! Content negotiation for `GET /metrics`: which exposition format, which name escaping, and
//! whether to gzip (client_golang's promhttp and prometheus/common's expfmt, as upstream uses them).
//!
//! Upstream serves `/metrics` through client_golang's `promhttp` handler, which asks
//! prometheus/common's `expfmt` for the format and a vendored copy of gddo's `httputil` for the
//! encoding. Scrapers such as Prometheus send long, weighted `Accept` headers, so the outcome
//! depends on the exact parsing and ordering rules of those libraries (goautoneg's q-sort, which
//! only trims spaces, the escaping parameter picked up along the way), and they are reproduced
//! here.
//!
//! Upstream has OpenMetrics disabled, so its handler negotiates with `expfmt.Negotiate`:
//! [`negotiate`]. Prometheus offers OpenMetrics first, and OpenMetrics writes label values such
//! as `le="1.0"` where text writes the pushed `le="1"`, so serving it by default would change
//! the series every scraper stores. [`negotiate_including_openmetrics`]
//! (`expfmt.NegotiateIncludingOpenMetrics`) is used only with `--web.enable-openmetrics`.

use crate::names::Escaping;

/// The exposition format chosen for a scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (also the fallback when nothing else matches).
    Text,
    /// Varint-delimited `MetricFamily` protobuf messages.
    ProtoDelimited,
    /// Protobuf text format, one message per family.
    ProtoText,
    /// Protobuf compact text format, one line per family.
    ProtoCompact,
    /// OpenMetrics text, in [`Negotiated::openmetrics_version`].
    OpenMetrics,
}

/// The OpenMetrics text version a scraper asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMetricsVersion {
    /// `version=0.0.1`, also what an OpenMetrics entry without a version gets.
    V0_0_1,
    /// `version=1.0.0`.
    V1_0_0,
}

/// The outcome of negotiating one scrape's `Accept` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The format to encode in.
    pub format: Format,
    /// How names that are not legacy-valid are written.
    pub escaping: Escaping,
    /// `Some` exactly when `format` is [`Format::OpenMetrics`].
    pub openmetrics_version: Option<OpenMetricsVersion>,
}

const PROTO_MESSAGE: &str = "io.prometheus.client.MetricFamily";

/// Upstream's negotiation (`expfmt.Negotiate`), which never picks OpenMetrics: the format
/// (text 0.0.4 or protobuf) and escaping for an `Accept` header (its first value, as Go's
/// `Header.Get` sees it); no header means text with underscore escaping.
///
/// Entries are visited in goautoneg's order (q descending, wildcards after concrete types). The
/// first one that names a supported format wins. An `escaping=` parameter with a known value on
/// any entry visited up to and including the winner sets the escaping (the last one seen
/// counts), so an entry that is skipped can still choose it; unknown values are ignored.
pub fn negotiate(accept: Option<&str>) -> Negotiated {
    negotiate_among(accept, false)
}

/// [`negotiate`], with OpenMetrics among the formats (`expfmt.NegotiateIncludingOpenMetrics`):
/// what `--web.enable-openmetrics` serves.
pub fn negotiate_including_openmetrics(accept: Option<&str>) -> Negotiated {
    negotiate_among(accept, true)
}

fn negotiate_among(accept: Option<&str>, openmetrics: bool) -> Negotiated {
    let mut escaping = Escaping::default();
    for entry in parse_accept(accept.unwrap_or_default()) {
        if let Some(scheme) = entry.param("escaping").and_then(Escaping::from_param) {
            escaping = scheme;
        }
        let version = entry.param("version").unwrap_or_default();
        let chosen = |format, openmetrics_version| Negotiated {
            format,
            escaping,
            openmetrics_version,
        };
        if entry.is("application", "vnd.google.protobuf")
            && entry.param("proto") == Some(PROTO_MESSAGE)
        {
            let format = match entry.param("encoding") {
                Some("delimited") => Some(Format::ProtoDelimited),
                Some("text") => Some(Format::ProtoText),
                Some("compact-text") => Some(Format::ProtoCompact),
                _ => None,
            };
            if let Some(format) = format {
                return chosen(format, None);
            }
        }
        if entry.is("text", "plain") && (version == "0.0.4" || version.is_empty()) {
            return chosen(Format::Text, None);
        }
        if openmetrics && entry.is("application", "openmetrics-text") {
            match version {
                "1.0.0" => return chosen(Format::OpenMetrics, Some(OpenMetricsVersion::V1_0_0)),
                "0.0.1" | "" => {
                    return chosen(Format::OpenMetrics, Some(OpenMetricsVersion::V0_0_1));
                }
                _ => {}
            }
        }
    }
    Negotiated {
        format: Format::Text,
        escaping,
        openmetrics_version: None,
    }
}

/// The `Content-Type` for a negotiated format, with `; escaping=<scheme>` appended as 1.11.3
/// does. An OpenMetrics result without a version is labelled 1.0.0, expfmt's default.
pub fn content_type(n: &Negotiated) -> String {
    let base = match n.format {
        Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        Format::ProtoDelimited => {
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        }
        Format::ProtoText => {
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=text"
        }
        Format::ProtoCompact => {
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=compact-text"
        }
        Format::OpenMetrics => match n.openmetrics_version {
            Some(OpenMetricsVersion::V0_0_1) => {
                "application/openmetrics-text; version=0.0.1; charset=utf-8"
            }
            Some(OpenMetricsVersion::V1_0_0) | None => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        },
    };
    format!("{base}; escaping={}", n.escaping.as_param())
}

/// Whether to gzip the response, given every `Accept-Encoding` header line.
///
/// Upstream offers `identity` then `gzip` and takes the first offer reaching the highest q among
/// the specs naming it or `*`, so gzip needs a strictly higher q than identity (`*` alone, or
/// `gzip, identity`, stays uncompressed). A winning q of 0 is an error upstream, which then
/// sends identity. Codings are matched case-sensitively, and a line stops being read at the
/// first thing that is not `token[;q=value]`.
pub fn accepts_gzip_in<'a>(accept_encoding_lines: impl IntoIterator<Item = &'a str>) -> bool {
    let specs = parse_accept_encoding(accept_encoding_lines);
    let mut best_offer = "identity";
    let mut best_q = -1.0;
    for offer in ["identity", "gzip"] {
        for spec in &specs {
            if spec.q > best_q && (spec.coding == "*" || spec.coding == offer) {
                best_q = spec.q;
                best_offer = offer;
            }
        }
    }
    best_q != 0.0 && best_offer == "gzip"
}

// ---------------------------------------------------------------------------------------------
// Accept (goautoneg)
// ---------------------------------------------------------------------------------------------

/// One media range of an `Accept` header.
#[derive(Debug)]
struct AcceptEntry<'a> {
    media_type: &'a str,
    sub_type: &'a str,
    q: f64,
    /// In header order; a repeated name is looked up from the end, since Go's map keeps the
    /// last one.
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> AcceptEntry<'a> {
    fn is(&self, media_type: &str, sub_type: &str) -> bool {
        self.media_type == media_type && self.sub_type == sub_type
    }

    fn param(&self, name: &str) -> Option<&'a str> {
        self.params
            .iter()
            .rev()
            .find(|(key, _)| *key == name)
            .map(|&(_, value)| value)
    }
}

/// Splits at the first `sep`; without one, all of `s` and an empty rest.
fn split_next(s: &str, sep: char) -> (&str, &str) {
    s.split_once(sep).unwrap_or((s, ""))
}

fn trim_spaces(s: &str) -> &str {
    s.trim_matches(' ')
}

/// goautoneg's `ParseAccept`: comma-separated ranges, `;`-separated `key=value` parameters,
/// only spaces trimmed, names and values compared as written. A range without a slash is
/// dropped unless it is `*`, one with a second slash is dropped, and a parameter without
/// exactly one `=` is ignored.
fn parse_accept(header: &str) -> Vec<AcceptEntry<'_>> {
    let mut entries = Vec::new();
    let mut remaining = header;
    while !remaining.is_empty() {
        let (part, rest) = split_next(remaining, ',');
        remaining = rest;
        let (range, mut params_rest) = split_next(trim_spaces(part), ';');
        let (media_type, after_slash) = split_next(range, '/');
        let media_type = trim_spaces(media_type);
        let sub_type = if after_slash.is_empty() {
            if media_type != "*" {
                continue;
            }
            "*"
        } else {
            let (sub_type, extra) = split_next(after_slash, '/');
            if !extra.is_empty() {
                continue;
            }
            trim_spaces(sub_type)
        };
        let mut entry = AcceptEntry {
            media_type,
            sub_type,
            q: 1.0,
            params: Vec::new(),
        };
        while !params_rest.is_empty() {
            let (param, rest) = split_next(params_rest, ';');
            params_rest = rest;
            let (key, value_rest) = split_next(param, '=');
            if value_rest.is_empty() {
                continue;
            }
            let (value, extra) = split_next(value_rest, '=');
            if !extra.is_empty() {
                continue;
            }
            let key = trim_spaces(key);
            if key == "q" {
                // Not trimmed: `q= 0.5` fails to parse and counts as 0, as in Go.
                entry.q = parse_go_float32(value);
            } else {
                entry.params.push((key, trim_spaces(value)));
            }
        }
        entries.push(entry);
    }
    sort_like_go(&mut entries);
    entries
}

/// Go `strconv.ParseFloat(s, 32)` with errors ignored: a syntax error is 0, overflow is ±Inf.
/// Hexadecimal floats (`0x1p-1`), which Go also accepts, count as syntax errors here.
fn parse_go_float32(s: &str) -> f64 {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    // Go accepts a sign before "inf" but not before "nan"; Rust accepts both.
    if unsigned.len() != s.len() && unsigned.eq_ignore_ascii_case("nan") {
        return 0.0;
    }
    s.parse::<f32>().map_or(0.0, f64::from)
}

/// goautoneg's "less": higher q first, then concrete types before `*`. It is not a strict
/// weak order (a concrete low-q entry and a wildcard high-q entry are each "less" than the
/// other), so the result depends on the algorithm. Go's `sort.Sort` runs insertion sort on up
/// to 12 elements, which is reproduced; longer headers use a stable sort on the consistent part
/// of the rule, which may order such pairs differently from Go's pdqsort.
fn sort_like_go(entries: &mut [AcceptEntry<'_>]) {
    fn less(a: &AcceptEntry<'_>, b: &AcceptEntry<'_>) -> bool {
        a.q > b.q
            || (a.media_type != "*" && b.media_type == "*")
            || (a.sub_type != "*" && b.sub_type == "*")
    }
    const GO_INSERTION_SORT_MAX: usize = 12;
    if entries.len() <= GO_INSERTION_SORT_MAX {
        for i in 1..entries.len() {
            let mut j = i;
            while j > 0 && less(&entries[j], &entries[j - 1]) {
                entries.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        entries.sort_by(|a, b| {
            b.q.total_cmp(&a.q)
                .then((a.media_type == "*").cmp(&(b.media_type == "*")))
                .then((a.sub_type == "*").cmp(&(b.sub_type == "*")))
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Accept-Encoding (gddo httputil/header)
// ---------------------------------------------------------------------------------------------

struct EncodingSpec<'a> {
    coding: &'a str,
    q: f64,
}

/// RFC 2616 token characters, plus `/`, which gddo lets into a coding name.
fn is_token_or_slash(b: u8) -> bool {
    b == b'/' || (b.is_ascii() && !b.is_ascii_control() && !b" \t\"(),:;<=>?@[]\\{}".contains(&b))
}

fn skip_space(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\r', '\n'])
}

/// gddo's `ParseAccept`: per line, `coding[;q=value]` separated by commas. Anything else (a
/// parameter other than `q`, a malformed q, a stray character) ends that line's list, keeping
/// the specs read before it.
fn parse_accept_encoding<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<EncodingSpec<'a>> {
    let mut specs = Vec::new();
    for line in lines {
        let mut s = line;
        loop {
            let end = s
                .bytes()
                .position(|b| !is_token_or_slash(b))
                .unwrap_or(s.len());
            let (coding, rest) = s.split_at(end);
            if coding.is_empty() {
                break;
            }
            s = skip_space(rest);
            let mut q = 1.0;
            if let Some(param) = s.strip_prefix(';') {
                let Some(value) = skip_space(param).strip_prefix("q=") else {
                    break;
                };
                let (parsed, rest) = parse_quality(value);
                if parsed < 0.0 {
                    break;
                }
                q = parsed;
                s = rest;
            }
            specs.push(EncodingSpec { coding, q });
            match skip_space(s).strip_prefix(',') {
                Some(rest) => s = skip_space(rest),
                None => break,
            }
        }
    }
    specs
}

/// gddo's `expectQuality`: `0` or `1`, optionally `.` and digits (any number of them, with
/// Go's wrapping integer arithmetic). Anything else is -1, which abandons the line.
fn parse_quality(s: &str) -> (f64, &str) {
    let q = match s.as_bytes().first() {
        Some(b'0') => 0.0,
        Some(b'1') => 1.0,
        _ => return (-1.0, ""),
    };
    let Some(fraction) = s[1..].strip_prefix('.') else {
        return (q, &s[1..]);
    };
    let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
    let (mut numerator, mut denominator) = (0i64, 1i64);
    for b in fraction[..digits].bytes() {
        numerator = numerator.wrapping_mul(10).wrapping_add(i64::from(b - b'0'));
        denominator = denominator.wrapping_mul(10);
    }
    (
        q + numerator as f64 / denominator as f64,
        &fraction[digits..],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`accepts_gzip_in`] for one `Accept-Encoding` line (or none).
    fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
        accepts_gzip_in(accept_encoding)
    }

    /// Prometheus 2.x's default scrape `Accept` (four scrape protocols, UTF-8 names enabled).
    const PROMETHEUS_2: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    /// Prometheus 3.x's default (`DefaultScrapeProtocols`, escaping on the 1.0.0 text formats).
    const PROMETHEUS_3: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    /// Prometheus 2.42's (Debian bookworm's) scrape `Accept` header.
    const PROMETHEUS_2_42: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// Prometheus 3.x's `DefaultProtoFirstScrapeProtocols` (native histograms enabled).
    const PROMETHEUS_3_PROTO_FIRST: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";

    fn negotiated(
        format: Format,
        escaping: Escaping,
        openmetrics_version: Option<OpenMetricsVersion>,
    ) -> Negotiated {
        Negotiated {
            format,
            escaping,
            openmetrics_version,
        }
    }

    fn text(escaping: Escaping) -> Negotiated {
        negotiated(Format::Text, escaping, None)
    }

    #[test]
    fn no_accept_header_gets_text_with_underscore_escaping() {
        let n = negotiate(None);
        assert_eq!(n, text(Escaping::Underscores));
        assert_eq!(
            content_type(&n),
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
        );
        assert_eq!(negotiate(Some("")), n);
    }

    #[test]
    fn text_plain_is_chosen_for_version_0_0_4_or_no_version() {
        assert_eq!(negotiate(Some("text/plain")), text(Escaping::Underscores));
        assert_eq!(
            negotiate(Some("text/plain;version=0.0.4")),
            text(Escaping::Underscores)
        );
    }

    #[test]
    fn anything_unmatched_falls_back_to_text() {
        for accept in [
            "*/*",
            "application/json",
            "text/plain;version=1.0.0",
            "application/openmetrics-text;version=2.0.0",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=json",
            "application/vnd.google.protobuf;encoding=delimited",
            "garbage",
        ] {
            assert_eq!(
                negotiate(Some(accept)),
                text(Escaping::Underscores),
                "{accept}"
            );
        }
    }

    #[test]
    fn the_three_protobuf_encodings_are_negotiated() {
        let proto = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily";
        for (encoding, format, content) in [
            ("delimited", Format::ProtoDelimited, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores"),
            ("text", Format::ProtoText, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=text; escaping=underscores"),
            ("compact-text", Format::ProtoCompact, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=compact-text; escaping=underscores"),
        ] {
            let n = negotiate(Some(&format!("{proto};encoding={encoding}")));
            assert_eq!(n, negotiated(format, Escaping::Underscores, None));
            assert_eq!(content_type(&n), content);
        }
    }

    #[test]
    fn with_openmetrics_it_is_negotiated_with_its_version() {
        let n =
            negotiate_including_openmetrics(Some("application/openmetrics-text; version=1.0.0"));
        assert_eq!(
            n,
            negotiated(
                Format::OpenMetrics,
                Escaping::Underscores,
                Some(OpenMetricsVersion::V1_0_0)
            )
        );
        assert_eq!(
            content_type(&n),
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
        );
        for accept in [
            "application/openmetrics-text;version=0.0.1",
            "application/openmetrics-text",
        ] {
            let n = negotiate_including_openmetrics(Some(accept));
            assert_eq!(n.openmetrics_version, Some(OpenMetricsVersion::V0_0_1));
            assert_eq!(
                content_type(&n),
                "application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=underscores"
            );
        }
    }

    #[test]
    fn with_openmetrics_prometheus_2_default_accept_gets_openmetrics_1_0_0_with_utf8_names() {
        let n = negotiate_including_openmetrics(Some(PROMETHEUS_2));
        assert_eq!(
            n,
            negotiated(
                Format::OpenMetrics,
                Escaping::AllowUtf8,
                Some(OpenMetricsVersion::V1_0_0)
            )
        );
        assert_eq!(
            content_type(&n),
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
        );
    }

    #[test]
    fn with_openmetrics_prometheus_3_default_accept_gets_openmetrics_1_0_0_with_utf8_names() {
        assert_eq!(
            negotiate_including_openmetrics(Some(PROMETHEUS_3)),
            negotiated(
                Format::OpenMetrics,
                Escaping::AllowUtf8,
                Some(OpenMetricsVersion::V1_0_0)
            )
        );
    }

    #[test]
    fn prometheus_proto_first_accept_gets_delimited_protobuf_with_underscores() {
        let n = negotiate_including_openmetrics(Some(PROMETHEUS_3_PROTO_FIRST));
        assert_eq!(
            n,
            negotiated(Format::ProtoDelimited, Escaping::Underscores, None)
        );
        assert_eq!(
            content_type(&n),
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores"
        );
    }

    #[test]
    fn prometheus_default_accept_headers_get_text_0_0_4_as_from_upstream() {
        let n = negotiate(Some(PROMETHEUS_2_42));
        assert_eq!(n, text(Escaping::Underscores));
        assert_eq!(
            content_type(&n),
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
        );
        // The escaping of the skipped OpenMetrics entry still counts, as in expfmt.Negotiate.
        assert_eq!(negotiate(Some(PROMETHEUS_2)), text(Escaping::AllowUtf8));
        assert_eq!(negotiate(Some(PROMETHEUS_3)), text(Escaping::AllowUtf8));
        assert_eq!(
            negotiate(Some(PROMETHEUS_3_PROTO_FIRST)).format,
            Format::ProtoDelimited
        );
    }

    #[test]
    fn without_the_flag_an_openmetrics_only_accept_falls_back_to_text() {
        for accept in [
            "application/openmetrics-text;version=1.0.0",
            "application/openmetrics-text;version=0.0.1",
            "application/openmetrics-text",
        ] {
            assert_eq!(
                negotiate(Some(accept)),
                text(Escaping::Underscores),
                "{accept}"
            );
        }
    }

    #[test]
    fn with_openmetrics_prometheus_2_42_gets_openmetrics_1_0_0() {
        assert_eq!(
            negotiate_including_openmetrics(Some(PROMETHEUS_2_42)),
            negotiated(
                Format::OpenMetrics,
                Escaping::Underscores,
                Some(OpenMetricsVersion::V1_0_0)
            )
        );
    }

    #[test]
    fn without_openmetrics_entries_prometheus_headers_get_text_keeping_seen_escaping() {
        // Entries visited before the match still set the escaping, as in upstream.
        assert_eq!(
            negotiate(Some(
                "application/json;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.3"
            )),
            text(Escaping::AllowUtf8)
        );
    }

    #[test]
    fn escaping_from_entries_after_the_chosen_one_is_ignored() {
        assert_eq!(
            negotiate(Some("text/plain, application/json;escaping=dots;q=0.5")),
            text(Escaping::Underscores)
        );
    }

    #[test]
    fn escaping_on_the_chosen_entry_is_used() {
        for (value, escaping) in [
            ("allow-utf-8", Escaping::AllowUtf8),
            ("underscores", Escaping::Underscores),
            ("dots", Escaping::Dots),
            ("values", Escaping::Values),
        ] {
            let n = negotiate(Some(&format!("text/plain;version=0.0.4;escaping={value}")));
            assert_eq!(n, text(escaping));
            assert_eq!(
                content_type(&n),
                format!("text/plain; version=0.0.4; charset=utf-8; escaping={value}")
            );
        }
    }

    #[test]
    fn the_last_known_escaping_seen_wins_and_unknown_values_are_ignored() {
        assert_eq!(
            negotiate(Some(
                "a/b;escaping=dots, c/d;escaping=values, text/plain;escaping=bogus"
            )),
            text(Escaping::Values)
        );
        assert_eq!(
            negotiate(Some("text/plain;escaping=Dots")),
            text(Escaping::Underscores)
        );
        // With nothing matching, every entry has been visited.
        assert_eq!(negotiate(Some("a/b;escaping=dots")), text(Escaping::Dots));
    }

    #[test]
    fn higher_q_wins_regardless_of_order() {
        assert_eq!(
            negotiate(Some(
                "text/plain;q=0.1,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.9"
            ))
            .format,
            Format::ProtoDelimited
        );
    }

    #[test]
    fn equal_q_keeps_header_order() {
        assert_eq!(
            negotiate_including_openmetrics(Some(
                "application/openmetrics-text,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            ))
            .format,
            Format::OpenMetrics
        );
    }

    #[test]
    fn an_unparsable_q_counts_as_zero() {
        assert_eq!(
            negotiate_including_openmetrics(Some(
                "application/openmetrics-text;q=high,text/plain;q=0.1"
            ))
            .format,
            Format::Text
        );
        // A space after `q=` is not trimmed before parsing.
        assert_eq!(
            negotiate_including_openmetrics(Some(
                "application/openmetrics-text;q= 0.9,text/plain;q=0.1"
            ))
            .format,
            Format::Text
        );
        assert_eq!(parse_go_float32("+nan"), 0.0);
        assert!(parse_go_float32("nan").is_nan());
        assert_eq!(parse_go_float32("-Inf"), f64::NEG_INFINITY);
        assert_eq!(parse_go_float32("1e50"), f64::INFINITY);
        assert_eq!(parse_go_float32("0.5"), 0.5);
    }

    #[test]
    fn media_types_and_parameter_names_are_case_sensitive() {
        assert_eq!(
            negotiate_including_openmetrics(Some(
                "Application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            ))
            .format,
            Format::Text
        );
        assert_eq!(
            negotiate_including_openmetrics(Some("application/openmetrics-text;Version=2.0.0"))
                .format,
            Format::OpenMetrics
        );
    }

    #[test]
    fn goautoneg_quirks_in_range_syntax_are_reproduced() {
        // Only spaces are trimmed, so a tab keeps the entry from matching.
        assert_eq!(
            negotiate_including_openmetrics(Some("\tapplication/openmetrics-text")).format,
            Format::Text
        );
        // A second slash drops the entry, unless nothing follows it.
        assert_eq!(
            negotiate_including_openmetrics(Some("application/openmetrics-text/x")).format,
            Format::Text
        );
        assert_eq!(
            negotiate_including_openmetrics(Some("application/openmetrics-text/")).format,
            Format::OpenMetrics
        );
        // A parameter with two `=` is ignored; one with a trailing `=` keeps its value.
        assert_eq!(
            negotiate_including_openmetrics(Some("application/openmetrics-text;version=1.0.0=x"))
                .openmetrics_version,
            Some(OpenMetricsVersion::V0_0_1)
        );
        assert_eq!(
            negotiate_including_openmetrics(Some("application/openmetrics-text;version=1.0.0="))
                .openmetrics_version,
            Some(OpenMetricsVersion::V1_0_0)
        );
        // Spaces around parameters and values are trimmed.
        assert_eq!(
            negotiate_including_openmetrics(Some(
                " application/openmetrics-text ; version = 1.0.0 "
            ))
            .openmetrics_version,
            Some(OpenMetricsVersion::V1_0_0)
        );
    }

    #[test]
    fn goautoneg_sort_puts_wildcards_after_concrete_types_at_equal_q() {
        let entries = parse_accept("*/*, text/*, application/json");
        let order: Vec<_> = entries
            .iter()
            .map(|e| format!("{}/{}", e.media_type, e.sub_type))
            .collect();
        assert_eq!(order, ["application/json", "text/*", "*/*"]);
        // `*` alone is `*/*`.
        assert_eq!(parse_accept("*")[0].sub_type, "*");
    }

    #[test]
    fn long_accept_headers_are_sorted_by_q_without_panicking() {
        let mut accept: Vec<String> = (0..20).map(|i| format!("x/y{i};q=0.{i}")).collect();
        accept.push("text/plain;escaping=dots;q=0.95".to_owned());
        accept.push("*/*;q=x".to_owned());
        assert_eq!(negotiate(Some(&accept.join(","))), text(Escaping::Dots));
    }

    #[test]
    fn openmetrics_without_a_version_is_labelled_1_0_0_by_content_type() {
        let n = negotiated(Format::OpenMetrics, Escaping::Dots, None);
        assert_eq!(
            content_type(&n),
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=dots"
        );
    }

    #[test]
    fn no_accept_encoding_header_means_no_gzip() {
        assert!(!accepts_gzip(None));
        assert!(!accepts_gzip(Some("")));
    }

    #[test]
    fn gzip_is_used_when_asked_for() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("gzip, deflate, br")));
        assert!(accepts_gzip(Some("deflate;q=1.0, gzip;q=0.5")));
        assert!(accepts_gzip(Some("identity;q=0.5, gzip")));
        assert!(accepts_gzip(Some("gzip;q=0.5, *;q=0.1")));
    }

    #[test]
    fn a_wildcard_alone_means_identity() {
        assert!(!accepts_gzip(Some("*")));
    }

    #[test]
    fn gzip_with_q_zero_means_identity() {
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("gzip;q=0.000")));
    }

    #[test]
    fn gzip_needs_a_strictly_higher_q_than_identity() {
        assert!(!accepts_gzip(Some("gzip, identity")));
        assert!(!accepts_gzip(Some("gzip;q=0.5, *;q=0.5")));
        assert!(accepts_gzip(Some("gzip;q=0.6, *;q=0.5")));
    }

    #[test]
    fn codings_are_case_sensitive() {
        assert!(!accepts_gzip(Some("GZIP")));
    }

    #[test]
    fn a_malformed_spec_ends_the_line_but_keeps_what_came_before() {
        assert!(!accepts_gzip(Some("gzip;level=9")));
        assert!(!accepts_gzip(Some("gzip;q=.5")));
        assert!(!accepts_gzip(Some(" gzip")));
        assert!(accepts_gzip(Some("gzip, br;level=1, identity")));
        assert!(accepts_gzip(Some("gzip;q=0.8 junk, identity")));
    }

    #[test]
    fn each_accept_encoding_line_is_read_separately() {
        assert!(accepts_gzip_in(["br;foo=1", "gzip"]));
        assert!(!accepts_gzip_in(["identity", "gzip;q=0.9"]));
        assert!(!accepts_gzip_in([]));
    }

    #[test]
    fn quality_values_follow_gddo_arithmetic() {
        assert_eq!(parse_quality("0.25,x"), (0.25, ",x"));
        assert_eq!(parse_quality("1"), (1.0, ""));
        assert_eq!(parse_quality("1.5"), (1.5, ""));
        assert_eq!(parse_quality("2"), (-1.0, ""));
        // Many digits wrap like Go's int instead of panicking.
        let many_digits = format!("0.{}", "9".repeat(100));
        let (q, rest) = parse_quality(&many_digits);
        assert_eq!(rest, "");
        assert!(!q.is_finite());
    }
}
