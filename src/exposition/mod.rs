//! `/metrics`: the gateway's own families merged with every pushed group's, in the format the
//! scraper asked for.
//!
//! Pushed families were rendered once when pushed ([`crate::family::FamilyData`]), so a scrape
//! in the default format only writes headers and copies bytes. Other escapings re-render the
//! few families whose names need it; OpenMetrics renders from the stored messages.

pub mod escape;
pub mod negotiate;
pub mod openmetrics;
pub mod text;

use std::sync::Arc;

use prost::Message;

use crate::cache::{Cache, NameEntry};
use crate::family::FamilyData;
use crate::metrics::names::own_help;
use crate::names::Escaping;
use crate::proto::{LabelPair, MetricFamily, MetricType};

/// The wire formats `/metrics` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Text format 0.0.4.
    Text,
    /// Length-delimited `io.prometheus.client.MetricFamily` messages.
    Protobuf,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

/// One merged family: the gateway's own metrics of that name (if any) and every group's.
struct Merged<'a> {
    name: &'a str,
    help: Option<&'a str>,
    mtype: MetricType,
    own: Option<&'a MetricFamily>,
    pushed: Vec<&'a Arc<FamilyData>>,
}

impl Merged<'_> {
    fn is_empty(&self) -> bool {
        self.own.is_none_or(|f| f.metric.is_empty()) && self.pushed.iter().all(|f| f.series() == 0)
    }
}

/// Walks own and pushed families in name order, merging same-named ones. The HELP text of a
/// name comes from the gateway's own metric if there is one, else from the first group (in
/// grouping-key order) that has one, so it does not change from scrape to scrape.
fn merged<'a>(cache: &'a Cache, own: &'a [MetricFamily]) -> Vec<Merged<'a>> {
    let mut out = Vec::new();
    let mut own_iter = own.iter().peekable();
    let mut pushed_iter = cache.names().peekable();
    loop {
        let next_own = own_iter.peek().map(|f| f.name());
        let next_pushed = pushed_iter.peek().map(|(n, _)| n.as_str());
        let name = match (next_own, next_pushed) {
            (None, None) => break,
            (Some(o), Some(p)) => o.min(p),
            (Some(o), None) => o,
            (None, Some(p)) => p,
        };
        let own_family = own_iter.next_if(|f| f.name() == name);
        let entry: Option<&NameEntry> = pushed_iter
            .next_if(|(n, _)| n.as_str() == name)
            .map(|(_, e)| e);
        let pushed: Vec<&Arc<FamilyData>> = entry
            .map(|e| e.groups.values().collect())
            .unwrap_or_default();
        let help = match own_family {
            Some(f) => own_help(f.name()).or(f.help.as_deref()),
            None => pushed
                .iter()
                .find_map(|f| f.help.as_deref().filter(|h| !h.is_empty())),
        };
        let mtype = own_family
            .map(|f| f.r#type())
            .or(entry.map(|e| e.mtype))
            .unwrap_or(MetricType::Untyped);
        out.push(Merged {
            name,
            help,
            mtype,
            own: own_family,
            pushed,
        });
    }
    out
}

/// Renders the whole exposition.
pub fn render(cache: &Cache, own: &[MetricFamily], encoding: Encoding, esc: Escaping) -> Vec<u8> {
    let mut out = Vec::with_capacity(cache.series_count() * 80 + 4096);
    for family in merged(cache, own) {
        if family.is_empty() {
            continue;
        }
        match encoding {
            Encoding::Text => write_text(&mut out, &family, esc),
            Encoding::Protobuf => write_protobuf(&mut out, &family, esc),
            Encoding::OpenMetrics => write_openmetrics(&mut out, &family, esc),
        }
    }
    if encoding == Encoding::OpenMetrics {
        out.extend_from_slice(openmetrics::EOF);
    }
    out
}

fn write_text(out: &mut Vec<u8>, family: &Merged<'_>, esc: Escaping) {
    text::write_header(out, family.name, family.help, family.mtype, esc);
    if let Some(own) = family.own {
        for m in &own.metric {
            text::write_metric(out, family.name, family.mtype, m, esc);
        }
    }
    for pushed in &family.pushed {
        if esc == Escaping::Underscores || pushed.legacy_names {
            out.extend_from_slice(&pushed.text);
        } else {
            for m in pushed.decode().metric {
                text::write_metric(out, family.name, family.mtype, &m, esc);
            }
        }
    }
}

/// OpenMetrics. Counter, gauge and unknown samples are the text format's lines with
/// integral values written as floats (`1` becomes `1.0`), so they are derived from the
/// prepared text; other families are rendered from the stored messages.
fn write_openmetrics(out: &mut Vec<u8>, family: &Merged<'_>, esc: Escaping) {
    openmetrics::write_header(out, family.name, family.help, family.mtype, esc);
    if let Some(own) = family.own {
        for m in &own.metric {
            openmetrics::write_metric(out, family.name, family.mtype, m, esc);
        }
    }
    let simple = matches!(
        family.mtype,
        MetricType::Counter | MetricType::Gauge | MetricType::Untyped
    );
    for pushed in &family.pushed {
        if simple && pushed.legacy_names && !pushed.has_exemplars {
            text_lines_as_openmetrics(out, &pushed.text);
        } else {
            for m in &pushed.decode().metric {
                openmetrics::write_metric(out, family.name, family.mtype, m, esc);
            }
        }
    }
}

/// Copies text-format sample lines (no timestamps), appending `.0` to values written
/// without a fraction or exponent, as OpenMetrics floats are.
fn text_lines_as_openmetrics(out: &mut Vec<u8>, text: &[u8]) {
    for line in text.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        out.extend_from_slice(body);
        let value = body.rsplit(|&b| b == b' ').next().unwrap_or_default();
        if !value
            .iter()
            .any(|&b| matches!(b, b'.' | b'e' | b'N' | b'I'))
        {
            out.extend_from_slice(b".0");
        }
        out.push(b'\n');
    }
}

fn write_protobuf(out: &mut Vec<u8>, family: &Merged<'_>, esc: Escaping) {
    let escaped = escape::exposed_name(family.name, esc);
    let mut message = MetricFamily {
        name: Some(escaped.into_owned()),
        help: family.help.map(str::to_string),
        r#type: Some(family.mtype as i32),
        metric: Vec::new(),
        unit: None,
    }
    .encode_to_vec();
    if let Some(own) = family.own {
        for m in &own.metric {
            prost::encoding::message::encode(4, m, &mut message);
        }
    }
    for pushed in &family.pushed {
        if pushed.legacy_names {
            message.extend_from_slice(&pushed.metrics_pb);
        } else {
            for mut m in pushed.decode().metric {
                escape_labels(&mut m.label, esc);
                prost::encoding::message::encode(4, &m, &mut message);
            }
        }
    }
    prost::encoding::encode_varint(message.len() as u64, out);
    out.extend_from_slice(&message);
}

fn escape_labels(labels: &mut [LabelPair], esc: Escaping) {
    for l in labels {
        let escaped = escape::exposed_name(l.name(), esc).into_owned();
        l.name = Some(escaped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{sanitize, FamilyData};
    use crate::grouping_key::GroupingKey;
    use crate::proto::{Counter, Gauge, Metric};

    /// The shortcut from text lines must give exactly what the OpenMetrics writer gives.
    #[test]
    fn openmetrics_from_text_lines_matches_the_writer() {
        let key = GroupingKey::from_labels([("job".to_string(), "j".to_string())]).unwrap();
        for (mtype, values) in [
            (
                MetricType::Gauge,
                vec![
                    1.0,
                    -0.0,
                    2.5,
                    1e21,
                    1234567.0,
                    f64::NAN,
                    f64::INFINITY,
                    -3.0,
                ],
            ),
            (MetricType::Counter, vec![0.0, 17.0, 0.25]),
        ] {
            let metrics = values
                .iter()
                .enumerate()
                .map(|(i, v)| Metric {
                    label: vec![
                        LabelPair::new("i", i.to_string()),
                        LabelPair::new("s", "a b\\\"c"),
                    ],
                    gauge: (mtype == MetricType::Gauge).then_some(Gauge { value: Some(*v) }),
                    counter: (mtype == MetricType::Counter).then(|| Counter {
                        value: Some(*v),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect();
            let mut family = MetricFamily {
                name: Some("x_total".into()),
                r#type: Some(mtype as i32),
                metric: metrics,
                ..Default::default()
            };
            sanitize(&mut family, &key);
            let data = FamilyData::new(&family, 1);
            let mut fast = Vec::new();
            text_lines_as_openmetrics(&mut fast, &data.text);
            let mut slow = Vec::new();
            for m in &family.metric {
                openmetrics::write_metric(&mut slow, "x_total", mtype, m, Escaping::AllowUtf8);
            }
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow).unwrap()
            );
        }
    }
}
