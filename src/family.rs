//! Pushed families prepared for a group: sanitised against the grouping key, sorted, rendered
//! once for exposition, and fingerprinted for the consistency check.
//!
//! Rendering at push time is what makes `/metrics` cheap: a scrape only concatenates the
//! bytes prepared here, and the protobuf exposition concatenates the encoded metrics. The
//! encoded metrics are kept snappy-compressed: they are read far less often than the text
//! (protobuf scrapes, the API, the database), and compressed they take a third of the room.

use std::hash::{DefaultHasher, Hash, Hasher};

use prost::Message;

use crate::exposition::text;
use crate::grouping_key::GroupingKey;
use crate::names::{is_legacy_label_name, is_legacy_metric_name, Escaping};
use crate::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

/// Name of the per-group success timestamp family.
pub const PUSH_TIME: &str = "push_time_seconds";
/// Name of the per-group failure timestamp family.
pub const PUSH_FAILURE_TIME: &str = "push_failure_time_seconds";
const PUSH_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway succeeded.";
const PUSH_FAILURE_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway failed.";

/// One family of one group, ready to store, serve and check.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyData {
    pub name: String,
    pub mtype: MetricType,
    pub help: Option<String>,
    /// Unix time in nanoseconds of the push that stored it.
    pub pushed_ns: i64,
    /// Encoded `repeated Metric metric = 4` entries, snappy-compressed (raw format); see
    /// [`FamilyData::metrics_pb`].
    metrics_snappy: Box<[u8]>,
    /// The family's sample lines in text format 0.0.4 with the default escaping.
    pub text: Box<[u8]>,
    /// A 128-bit fingerprint of each metric's label set, in metric order.
    pub sigs: Box<[Signature]>,
    /// All names are valid legacy names, so the prepared bytes are right for every escaping.
    pub legacy_names: bool,
    /// Some metric carries an exemplar (only OpenMetrics shows them).
    pub has_exemplars: bool,
}

impl FamilyData {
    /// Prepares a family whose metrics are already sanitised and sorted.
    pub fn new(family: &MetricFamily, pushed_ns: i64) -> FamilyData {
        let mut data = FamilyData::new_without_pb(family, pushed_ns);
        data.metrics_snappy = compress(&encode_metrics(&family.metric));
        data
    }

    fn new_without_pb(family: &MetricFamily, pushed_ns: i64) -> FamilyData {
        let name = family.name().to_string();
        let mtype = family.r#type();
        let mut text_out = Vec::with_capacity(family.metric.len() * 64);
        let mut sigs = Vec::with_capacity(family.metric.len());
        let mut legacy_names = is_legacy_metric_name(&name);
        let mut has_exemplars = false;
        for m in &family.metric {
            has_exemplars |= m.counter.as_ref().is_some_and(|c| c.exemplar.is_some())
                || m.histogram.as_ref().is_some_and(|h| {
                    !h.exemplars.is_empty() || h.bucket.iter().any(|b| b.exemplar.is_some())
                });
            text::write_metric(&mut text_out, &name, mtype, m, Escaping::Underscores);
            sigs.push(label_signature(&m.label));
            legacy_names &= m.label.iter().all(|l| is_legacy_label_name(l.name()));
        }
        FamilyData {
            name,
            mtype,
            help: family.help.clone(),
            pushed_ns,
            metrics_snappy: Box::default(),
            text: text_out.into_boxed_slice(),
            sigs: sigs.into_boxed_slice(),
            legacy_names,
            has_exemplars,
        }
    }

    /// Prepares a family read back from the database (written by [`FamilyData::to_blob`]),
    /// reusing its encoded metrics instead of encoding them again.
    pub fn from_blob(blob: &[u8], pushed_ns: i64) -> Result<FamilyData, prost::DecodeError> {
        let family = MetricFamily::decode(blob)?;
        let mut data = FamilyData::new_without_pb(&family, pushed_ns);
        let header = data.header_pb();
        data.metrics_snappy = match blob.strip_prefix(header.as_slice()) {
            Some(metrics) => compress(metrics),
            None => compress(&encode_metrics(&family.metric)),
        };
        Ok(data)
    }

    /// Number of metrics (series) in the family.
    pub fn series(&self) -> usize {
        self.sigs.len()
    }

    /// The bytes this family keeps prepared (its text and its compressed metrics): what it
    /// weighs in a write batch.
    pub fn prepared_bytes(&self) -> usize {
        self.text.len() + self.metrics_snappy.len()
    }

    /// The encoded `MetricFamily` fields other than the metrics.
    pub fn header_pb(&self) -> Vec<u8> {
        MetricFamily {
            name: Some(self.name.clone()),
            help: self.help.clone(),
            r#type: Some(self.mtype as i32),
            metric: Vec::new(),
            unit: None,
        }
        .encode_to_vec()
    }

    /// The encoded `repeated Metric metric = 4` entries; appended to
    /// [`FamilyData::header_pb`] they form the whole `MetricFamily` message.
    pub fn metrics_pb(&self) -> Vec<u8> {
        // The bytes were compressed here, so decompressing cannot fail; should it ever, the
        // family shows without metrics rather than failing.
        snap::raw::Decoder::new()
            .decompress_vec(&self.metrics_snappy)
            .unwrap_or_default()
    }

    /// The whole family as one encoded `MetricFamily` (what the database stores).
    pub fn to_blob(&self) -> Vec<u8> {
        let mut blob = self.header_pb();
        blob.extend_from_slice(&self.metrics_pb());
        blob
    }

    /// The family as a message again (for the JSON API and the status page).
    pub fn decode(&self) -> MetricFamily {
        // The metric entries alone form a valid message; decoding them without copying the
        // header next to them first. The bytes were produced by prost, so decoding cannot
        // fail; should it ever, the family is shown without metrics rather than failing.
        let mut family = MetricFamily::decode(&self.metrics_pb()[..]).unwrap_or_default();
        family.name = Some(self.name.clone());
        family.help = self.help.clone();
        family.r#type = Some(self.mtype as i32);
        family
    }
}

/// Snappy's raw format of `bytes`.
fn compress(bytes: &[u8]) -> Box<[u8]> {
    // Compressing into a buffer of `max_compress_len` cannot fail.
    snap::raw::Encoder::new()
        .compress_vec(bytes)
        .unwrap_or_default()
        .into_boxed_slice()
}

/// The `repeated Metric metric = 4` field entries for these metrics.
fn encode_metrics(metrics: &[Metric]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in metrics {
        prost::encoding::message::encode(4, m, &mut out);
    }
    out
}

/// Applies the grouping key to every metric as upstream does: grouping labels override body
/// labels (the first body label of that name), `instance=""` is added when absent, label
/// pairs are sorted by name; then sorts the metrics in exposition order.
///
/// The key's labels are sorted by name, so each metric's labels are sorted (stably: equal
/// names keep their order) and merged with them in one pass. A key of thousands of labels
/// pushed with thousands of metrics costs their product once, not times the labels again.
pub fn sanitize(family: &mut MetricFamily, key: &GroupingKey) {
    let grouping = key.labels();
    for metric in &mut family.metric {
        metric.label.sort_by(|a, b| a.name().cmp(b.name()));
        let mut missing = Vec::new();
        let mut body = 0;
        for (name, value) in grouping {
            while body < metric.label.len() && metric.label[body].name() < name.as_str() {
                body += 1;
            }
            match metric.label.get_mut(body) {
                Some(pair) if pair.name() == name => pair.value = Some(value.clone()),
                _ => missing.push(LabelPair::new(name.clone(), value.clone())),
            }
        }
        let has_instance = metric
            .label
            .binary_search_by(|l| l.name().cmp("instance"))
            .is_ok()
            || missing.iter().any(|l| l.name() == "instance");
        if !has_instance {
            missing.push(LabelPair::new("instance", ""));
        }
        if !missing.is_empty() {
            // Two sorted runs: the stable sort merges them in linear time.
            missing.sort_by(|a, b| a.name().cmp(b.name()));
            metric.label.append(&mut missing);
            metric.label.sort_by(|a, b| a.name().cmp(b.name()));
        }
    }
    family.metric.sort_by(text::compare_metrics);
}

/// A 128-bit fingerprint of a label set. Two 64-bit halves rather than a `u128`, whose
/// 16-byte alignment would pad the sets the consistency check builds of them.
pub type Signature = [u64; 2];

/// The fingerprint of a sorted label set; equal label sets give equal fingerprints.
pub fn label_signature(labels: &[LabelPair]) -> Signature {
    let mut hi = DefaultHasher::new();
    let mut lo = DefaultHasher::new();
    0xA5u8.hash(&mut lo);
    for l in labels {
        for h in [&mut hi, &mut lo] {
            l.name().hash(h);
            l.value().hash(h);
        }
    }
    [hi.finish(), lo.finish()]
}

/// The gateway's `push_time_seconds` or `push_failure_time_seconds` family for a group.
pub fn timestamp_family(
    name: &str,
    value_ns: i64,
    key: &GroupingKey,
    recorded_ns: i64,
) -> FamilyData {
    let help = if name == PUSH_TIME {
        PUSH_TIME_HELP
    } else {
        PUSH_FAILURE_TIME_HELP
    };
    let mut family = MetricFamily {
        name: Some(name.to_string()),
        help: Some(help.to_string()),
        r#type: Some(MetricType::Gauge as i32),
        metric: vec![Metric {
            gauge: Some(Gauge {
                value: Some(value_ns as f64 / 1e9),
            }),
            ..Default::default()
        }],
        unit: None,
    };
    sanitize(&mut family, key);
    FamilyData::new(&family, recorded_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(labels: &[(&str, &str)]) -> GroupingKey {
        GroupingKey::from_labels(labels.iter().map(|(a, b)| (a.to_string(), b.to_string())))
            .unwrap()
    }

    fn untyped(name: &str, labels: &[(&str, &str)], v: f64) -> MetricFamily {
        MetricFamily {
            name: Some(name.into()),
            r#type: Some(MetricType::Untyped as i32),
            metric: vec![Metric {
                label: labels.iter().map(|(a, b)| LabelPair::new(*a, *b)).collect(),
                untyped: Some(crate::proto::Untyped { value: Some(v) }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn grouping_labels_override_body_labels_and_instance_is_added() {
        let mut f = untyped("m", &[("job", "body"), ("zone", "a")], 1.0);
        sanitize(&mut f, &key(&[("job", "path")]));
        let labels: Vec<_> = f.metric[0]
            .label
            .iter()
            .map(|l| (l.name(), l.value()))
            .collect();
        assert_eq!(
            labels,
            vec![("instance", ""), ("job", "path"), ("zone", "a")]
        );
    }

    #[test]
    fn a_body_instance_is_kept_when_the_key_has_none() {
        let mut f = untyped("m", &[("instance", "i5")], 1.0);
        sanitize(&mut f, &key(&[("job", "j")]));
        assert_eq!(f.metric[0].label[0].value(), "i5");
    }

    #[test]
    fn prepared_family_round_trips_through_its_blob() {
        let mut f = untyped("m", &[("a", "x")], 2.5);
        sanitize(&mut f, &key(&[("job", "j")]));
        let data = FamilyData::new(&f, 7);
        assert_eq!(data.decode(), f);
        assert_eq!(MetricFamily::decode(data.to_blob().as_slice()).unwrap(), f);
        assert_eq!(FamilyData::from_blob(&data.to_blob(), 7).unwrap(), data);
        assert_eq!(
            std::str::from_utf8(&data.text).unwrap(),
            "m{a=\"x\",instance=\"\",job=\"j\"} 2.5\n"
        );
        assert!(data.legacy_names);
    }

    #[test]
    fn equal_label_sets_have_equal_signatures() {
        let a = [LabelPair::new("a", "1"), LabelPair::new("b", "2")];
        let b = [LabelPair::new("a", "1"), LabelPair::new("b", "2")];
        let c = [LabelPair::new("a", "12"), LabelPair::new("b", "")];
        assert_eq!(label_signature(&a), label_signature(&b));
        assert_ne!(label_signature(&a), label_signature(&c));
    }

    #[test]
    fn timestamp_families_carry_upstream_help_and_seconds() {
        let f = timestamp_family(
            PUSH_TIME,
            1_500_000_000_000_000_000,
            &key(&[("job", "j")]),
            1,
        );
        assert_eq!(
            std::str::from_utf8(&f.text).unwrap(),
            "push_time_seconds{instance=\"\",job=\"j\"} 1.5e+09\n"
        );
        assert_eq!(f.help.as_deref(), Some(PUSH_TIME_HELP));
    }

    /// The rule as upstream writes it: for each grouping label, the first body label of that
    /// name takes its value, or it is appended; `instance=""` when absent; sorted by name.
    fn sanitize_by_search(labels: &mut Vec<LabelPair>, key: &GroupingKey) {
        for (name, value) in key.labels() {
            match labels.iter_mut().find(|l| l.name() == name) {
                Some(pair) => pair.value = Some(value.clone()),
                None => labels.push(LabelPair::new(name.clone(), value.clone())),
            }
        }
        if !labels.iter().any(|l| l.name() == "instance") {
            labels.push(LabelPair::new("instance", ""));
        }
        labels.sort_by(|a, b| a.name().cmp(b.name()));
    }

    #[test]
    fn the_merge_gives_what_upstreams_search_gives() {
        let keys = [
            key(&[("job", "j")]),
            key(&[("job", "j"), ("instance", "i"), ("zone", "z")]),
            key(&[("a", "1"), ("job", "j"), ("m", "2")]),
        ];
        let bodies: [&[(&str, &str)]; 6] = [
            &[],
            &[("job", "x"), ("job", "y")],
            &[("zone", "b"), ("a", "0"), ("instance", "")],
            &[("m", "1"), ("m", "2"), ("b", "3"), ("a", "4")],
            &[("instance", "i1"), ("instance", "i2"), ("zzz", "9")],
            &[("job", "j2"), ("a", ""), ("z", "1"), ("a", "x")],
        ];
        for key in &keys {
            for body in bodies {
                let mut f = untyped("m", body, 1.0);
                let mut expected = f.metric[0].label.clone();
                sanitize_by_search(&mut expected, key);
                sanitize(&mut f, key);
                assert_eq!(f.metric[0].label, expected, "key {key} body {body:?}");
            }
        }
    }

    #[test]
    fn thousands_of_grouping_labels_are_merged_not_searched() {
        let labels: Vec<(String, String)> = std::iter::once(("job".to_string(), "j".to_string()))
            .chain((0..3_000).map(|i| (format!("l{i}"), "v".to_string())))
            .collect();
        let key = GroupingKey::from_labels(labels).unwrap();
        let mut f = MetricFamily {
            name: Some("m".into()),
            r#type: Some(MetricType::Untyped as i32),
            metric: (0..800)
                .map(|i| Metric {
                    label: vec![LabelPair::new("s", i.to_string())],
                    untyped: Some(crate::proto::Untyped { value: Some(1.0) }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        sanitize(&mut f, &key);
        assert_eq!(f.metric[0].label.len(), 3_003);
        // The search took seconds in a release build (3,000 × 3,000 × 800 comparisons).
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
