//! `/metrics`: the gateway's own families merged with every pushed group's, in the format the
//! scraper asked for.
//!
//! Pushed families were rendered once when pushed ([`crate::family::FamilyData`]). A scrape
//! takes a [`Snapshot`] of the cache (Arc clones under the read lock, nothing rendered there),
//! then lays the exposition out as [`Piece`]s: headers and the gateway's own metrics rendered
//! for this scrape, and each group's prepared bytes, shared rather than copied. Served as they
//! are, the pieces cost one copy into the socket's buffer; gzipped, they are compressed in
//! segments that are kept while their pieces stay the same ([`gzip`]). Other escapings
//! re-render the few families whose names need it; OpenMetrics derives its lines from the
//! prepared text or renders from the stored messages.

pub mod escape;
pub mod gzip;
pub mod negotiate;
pub mod openmetrics;
pub mod text;

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use prost::Message;

use crate::cache::{Cache, GroupKeyBytes};
use crate::family::FamilyData;
use crate::metrics::names::own_help;
use crate::names::Escaping;
use crate::proto::{LabelPair, MetricFamily, MetricType};

/// The wire formats `/metrics` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Text format 0.0.4.
    Text,
    /// Length-delimited `io.prometheus.client.MetricFamily` messages.
    Protobuf,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

/// One group's family of a name, as a snapshot holds it.
type GroupFamily = (GroupKeyBytes, Arc<FamilyData>);

/// Every pushed family, by name and then by group, as the cache held them at one moment.
/// Taking it clones Arcs only, so the cache's read lock is held for a walk of its name index
/// and pushes are not held up by rendering or compression.
#[derive(Debug, Default)]
pub struct Snapshot {
    names: Vec<(MetricType, Vec<GroupFamily>)>,
}

impl Snapshot {
    /// Takes the snapshot; call it with the cache's read lock held, and let go of the lock.
    pub fn take(cache: &Cache) -> Snapshot {
        Snapshot {
            names: cache
                .names()
                .map(|(_, entry)| {
                    let groups = entry
                        .groups
                        .iter()
                        .map(|(key, family)| (key.clone(), family.clone()))
                        .collect();
                    (entry.mtype, groups)
                })
                .collect(),
        }
    }
}

/// One merged family: the gateway's own metrics of that name (if any) and every group's.
struct Merged<'a> {
    name: &'a str,
    help: Option<&'a str>,
    mtype: MetricType,
    own: Option<&'a MetricFamily>,
    pushed: &'a [GroupFamily],
}

impl Merged<'_> {
    fn is_empty(&self) -> bool {
        self.own.is_none_or(|f| f.metric.is_empty())
            && self.pushed.iter().all(|(_, f)| f.series() == 0)
    }
}

/// Walks own and pushed families in name order, merging same-named ones. The HELP text of a
/// name comes from the gateway's own metric if there is one, else from the first group (in
/// grouping-key order) that has one, so it does not change from scrape to scrape.
fn merged<'a>(snapshot: &'a Snapshot, own: &'a [MetricFamily]) -> Vec<Merged<'a>> {
    let mut out = Vec::new();
    let mut own_iter = own.iter().peekable();
    let mut pushed_iter = snapshot
        .names
        .iter()
        .filter(|(_, groups)| !groups.is_empty())
        .peekable();
    let pushed_name = |(_, groups): &&'a (MetricType, Vec<GroupFamily>)| groups[0].1.name.as_str();
    loop {
        let next_own = own_iter.peek().map(|f| f.name());
        let next_pushed = pushed_iter.peek().map(pushed_name);
        let name = match (next_own, next_pushed) {
            (None, None) => break,
            (Some(o), Some(p)) => o.min(p),
            (Some(o), None) => o,
            (None, Some(p)) => p,
        };
        let own_family = own_iter.next_if(|f| f.name() == name);
        let entry = pushed_iter.next_if(|e| pushed_name(e) == name);
        let pushed: &[GroupFamily] = entry.map_or(&[], |(_, groups)| groups.as_slice());
        let help = match own_family {
            Some(f) => own_help(f.name()).or(f.help.as_deref()),
            None => pushed
                .iter()
                .find_map(|(_, f)| f.help.as_deref().filter(|h| !h.is_empty())),
        };
        let mtype = own_family
            .map(|f| f.r#type())
            .or(entry.map(|(t, _)| *t))
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

/// One stretch of the exposition's bytes.
#[derive(Debug)]
pub struct Piece {
    content: Content,
    /// A fingerprint of where the piece stands (its name, and its group for a family),
    /// the same from scrape to scrape; [`gzip`] cuts its segments by it.
    place: u64,
}

#[derive(Debug)]
enum Content {
    /// Bytes of this scrape only: the gateway's own metrics and the header of their name.
    Fresh(Vec<u8>),
    /// The header of a name only groups have; the same as long as its families are.
    Header(Vec<u8>),
    /// A family's prepared text lines.
    Text(Arc<FamilyData>),
    /// A family rendered for this format; the same bytes for as long as it is cached.
    Rendered(Arc<FamilyData>, Vec<u8>),
}

impl Piece {
    /// The piece's bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.content {
            Content::Fresh(b) | Content::Header(b) | Content::Rendered(_, b) => b,
            Content::Text(f) => &f.text,
        }
    }

    /// Whether the piece changes with every scrape (never worth keeping compressed).
    fn is_fresh(&self) -> bool {
        matches!(self.content, Content::Fresh(_))
    }
}

impl AsRef<[u8]> for Piece {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

/// A fingerprint of a piece's place; equal places give equal fingerprints in every process,
/// as gzip segments are only kept in memory.
fn place(name: &str, group: Option<&[u8]>) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    name.hash(&mut h);
    group.hash(&mut h);
    h.finish()
}

/// Builds the pieces: fresh bytes are gathered until a shared piece comes.
struct Layout {
    pieces: Vec<Piece>,
    fresh: Vec<u8>,
}

impl Layout {
    fn fresh(&mut self) -> &mut Vec<u8> {
        &mut self.fresh
    }

    fn push(&mut self, content: Content, place: u64) {
        self.flush();
        self.pieces.push(Piece { content, place });
    }

    fn flush(&mut self) {
        if !self.fresh.is_empty() {
            let bytes = std::mem::take(&mut self.fresh);
            self.pieces.push(Piece {
                content: Content::Fresh(bytes),
                place: 0,
            });
        }
    }
}

/// Lays out the whole exposition as pieces, in order.
pub fn pieces(
    snapshot: &Snapshot,
    own: &[MetricFamily],
    encoding: Encoding,
    esc: Escaping,
) -> Vec<Piece> {
    let mut layout = Layout {
        pieces: Vec::new(),
        fresh: Vec::new(),
    };
    for family in merged(snapshot, own) {
        if family.is_empty() {
            continue;
        }
        match encoding {
            Encoding::Text => lay_text(&mut layout, &family, esc),
            Encoding::Protobuf => lay_protobuf(&mut layout, &family, esc),
            Encoding::OpenMetrics => lay_openmetrics(&mut layout, &family, esc),
        }
    }
    if encoding == Encoding::OpenMetrics {
        layout.fresh().extend_from_slice(openmetrics::EOF);
    }
    layout.flush();
    layout.pieces
}

/// Renders the whole exposition into one buffer (what a scrape's pieces add up to).
#[cfg(test)]
pub(crate) fn render(
    cache: &Cache,
    own: &[MetricFamily],
    encoding: Encoding,
    esc: Escaping,
) -> Vec<u8> {
    let snapshot = Snapshot::take(cache);
    let pieces = pieces(&snapshot, own, encoding, esc);
    let mut out = Vec::with_capacity(pieces.iter().map(|p| p.bytes().len()).sum());
    for piece in &pieces {
        out.extend_from_slice(piece.bytes());
    }
    out
}

/// Writes a name's header: as a cached piece when only groups have the name, else with the
/// own metrics that follow it, fresh.
fn lay_header(layout: &mut Layout, family: &Merged<'_>, write: impl FnOnce(&mut Vec<u8>)) {
    if family.own.is_some() {
        write(layout.fresh());
    } else {
        let mut header = Vec::new();
        write(&mut header);
        layout.push(Content::Header(header), place(family.name, None));
    }
}

fn lay_text(layout: &mut Layout, family: &Merged<'_>, esc: Escaping) {
    lay_header(layout, family, |out| {
        text::write_header(out, family.name, family.help, family.mtype, esc)
    });
    if let Some(own) = family.own {
        for m in &own.metric {
            text::write_metric(layout.fresh(), family.name, family.mtype, m, esc);
        }
    }
    for (group, pushed) in family.pushed {
        let place = place(family.name, Some(group));
        if esc == Escaping::Underscores || pushed.legacy_names {
            layout.push(Content::Text(pushed.clone()), place);
        } else {
            let mut out = Vec::new();
            for m in pushed.decode().metric {
                text::write_metric(&mut out, family.name, family.mtype, &m, esc);
            }
            layout.push(Content::Rendered(pushed.clone(), out), place);
        }
    }
}

/// OpenMetrics. Counter, gauge and unknown samples are the text format's lines with
/// integral values written as floats (`1` becomes `1.0`), so they are derived from the
/// prepared text; other families are rendered from the stored messages.
fn lay_openmetrics(layout: &mut Layout, family: &Merged<'_>, esc: Escaping) {
    lay_header(layout, family, |out| {
        openmetrics::write_header(out, family.name, family.help, family.mtype, esc)
    });
    if let Some(own) = family.own {
        for m in &own.metric {
            openmetrics::write_metric(layout.fresh(), family.name, family.mtype, m, esc);
        }
    }
    let simple = matches!(
        family.mtype,
        MetricType::Counter | MetricType::Gauge | MetricType::Untyped
    );
    for (group, pushed) in family.pushed {
        let mut out = Vec::new();
        if simple && pushed.legacy_names && !pushed.has_exemplars {
            text_lines_as_openmetrics(&mut out, &pushed.text);
        } else {
            for m in &pushed.decode().metric {
                openmetrics::write_metric(&mut out, family.name, family.mtype, m, esc);
            }
        }
        let place = place(family.name, Some(group));
        layout.push(Content::Rendered(pushed.clone(), out), place);
    }
}

/// Copies text-format sample lines (no timestamps), appending `.0` to values written
/// without a fraction or exponent, as OpenMetrics floats are.
fn text_lines_as_openmetrics(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len() + text.len() / 16);
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

/// One length-delimited `MetricFamily` per name: the prefix and the family's own fields,
/// then the metric entries of the own family and of every group, which are the groups'
/// prepared bytes when no label needs escaping.
fn lay_protobuf(layout: &mut Layout, family: &Merged<'_>, esc: Escaping) {
    let escaped = escape::exposed_name(family.name, esc);
    let header = MetricFamily {
        name: Some(escaped.into_owned()),
        help: family.help.map(str::to_string),
        r#type: Some(family.mtype as i32),
        metric: Vec::new(),
        unit: None,
    }
    .encode_to_vec();
    let mut own_metrics = Vec::new();
    if let Some(own) = family.own {
        for m in &own.metric {
            prost::encoding::message::encode(4, m, &mut own_metrics);
        }
    }
    let pushed: Vec<(u64, Vec<u8>)> = family
        .pushed
        .iter()
        .map(|(group, pushed)| {
            let out = if pushed.legacy_names {
                pushed.metrics_pb()
            } else {
                let mut out = Vec::new();
                for mut m in pushed.decode().metric {
                    escape_labels(&mut m.label, esc);
                    prost::encoding::message::encode(4, &m, &mut out);
                }
                out
            };
            (place(family.name, Some(group)), out)
        })
        .collect();
    let length =
        header.len() + own_metrics.len() + pushed.iter().map(|(_, b)| b.len()).sum::<usize>();
    lay_header(layout, family, |out| {
        prost::encoding::encode_varint(length as u64, out);
        out.extend_from_slice(&header);
        out.extend_from_slice(&own_metrics);
    });
    for ((place, bytes), (_, pushed)) in pushed.into_iter().zip(family.pushed) {
        layout.push(Content::Rendered(pushed.clone(), bytes), place);
    }
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
                    counter: (mtype == MetricType::Counter).then(|| {
                        Box::new(Counter {
                            value: Some(*v),
                            ..Default::default()
                        })
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
