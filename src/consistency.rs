//! The consistency check of a push: would the store, with this push applied, still expose
//! valid metrics? Upstream gathers its whole store for every push; here the check looks only at
//! the metric names the push touches, through the cache's by-name index, and for duplicate
//! series only at the groups whose grouping keys the pushed series carry, so its cost follows
//! the pushed group's size. The messages are upstream's (client_golang's gatherer), so a
//! client sees the same explanation.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;
use std::sync::Arc;

use crate::cache::Cache;
use crate::family::{FamilyData, Signature};
use crate::go_strconv::{format_float, quote};
use crate::grouping_key::upstream_key_for;
use crate::limits::{truncate, MAX_MESSAGE_BYTES};
use crate::metrics::names::own_type;
use crate::proto::{LabelPair, Metric, MetricFamily, MetricType};

/// What a check found wrong with a push: the first [`Problems::SHOWN`] messages in full, the
/// rest only counted. A hostile push can have a million problems; building every message
/// would make the answer, the history record and the log line hundreds of megabytes, so only
/// the shown ones are ever formatted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems {
    shown: Vec<String>,
    total: usize,
}

impl Problems {
    /// How many problems are named in full.
    pub const SHOWN: usize = 10;

    /// No problems.
    pub fn new() -> Problems {
        Problems::default()
    }

    /// Counts a problem; `message` is only called while fewer than [`Problems::SHOWN`] are kept.
    pub fn add(&mut self, message: impl FnOnce() -> String) {
        self.total += 1;
        if self.shown.len() < Problems::SHOWN {
            self.shown.push(truncate(message(), MAX_MESSAGE_BYTES));
        }
    }

    /// Adds every problem of `other` (its counted ones too).
    pub fn append(&mut self, other: Problems) {
        let hidden = other.total - other.shown.len();
        for message in other.shown {
            self.add(|| message);
        }
        self.total += hidden;
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many problems were found, shown or not.
    pub fn len(&self) -> usize {
        self.total
    }

    /// The messages kept, in the order found.
    pub fn shown(&self) -> &[String] {
        &self.shown
    }
}

impl<S: Into<String>> FromIterator<S> for Problems {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Problems {
        let mut problems = Problems::new();
        for message in iter {
            problems.add(|| message.into());
        }
        problems
    }
}

/// Checks one sanitised family on its own: label names, duplicate label names, reserved
/// labels of summaries and histograms, and that each metric holds a value of the family's type.
pub fn check_family(family: &MetricFamily) -> Problems {
    let mut errors = Problems::new();
    let name = family.name();
    let mtype = family.r#type();
    for metric in &family.metric {
        let mut seen = HashSet::new();
        for label in &metric.label {
            let label_name = label.name();
            if label_name.is_empty() || label_name.starts_with("__") {
                errors.add(|| {
                    format!(
                        "collected metric {} {} has a label with an invalid name: {label_name}",
                        quote(name),
                        metric_text(metric)
                    )
                });
            }
            if !seen.insert(label_name) {
                errors.add(|| {
                    format!(
                        "collected metric {} {} has two or more labels with the same name: {label_name}",
                        quote(name),
                        metric_text(metric)
                    )
                });
            }
        }
        let reserved = match mtype {
            MetricType::Summary => Some("quantile"),
            MetricType::Histogram | MetricType::GaugeHistogram => Some("le"),
            _ => None,
        };
        if let Some(reserved) = reserved {
            if metric.label.iter().any(|l| l.name() == reserved) {
                errors.add(|| {
                    format!(
                        "collected metric {} {} must not have an explicit {} label",
                        quote(name),
                        metric_text(metric),
                        quote(reserved)
                    )
                });
            }
        }
        let has_value = match mtype {
            MetricType::Counter => metric.counter.is_some(),
            MetricType::Gauge => metric.gauge.is_some(),
            MetricType::Summary => metric.summary.is_some(),
            MetricType::Untyped => metric.untyped.is_some(),
            MetricType::Histogram | MetricType::GaugeHistogram => metric.histogram.is_some(),
        };
        if !has_value {
            errors.add(|| not_a(name, metric, mtype));
        }
    }
    errors
}

/// What the check reads of the stored groups, per metric name: the cache, or the cache as the
/// changes committed ahead of this one in the same transaction leave it
/// ([`crate::gateway`]'s batch overlay).
pub trait StoreView {
    /// The type of the family `name` in the groups other than the one with `key_bytes`;
    /// `None` when no other group has a family of that name.
    fn type_elsewhere(&self, name: &str, key_bytes: &[u8]) -> Option<MetricType>;
    /// The grouping-key shapes (sorted label names) of the groups with a family `name`. A
    /// shape no group uses any more may be among them: it only costs a lookup.
    fn key_shapes(&self, name: &str) -> Vec<Box<[String]>>;
    /// The family `name` of the group with `key_bytes`, if that group has one.
    fn family(&self, name: &str, key_bytes: &[u8]) -> Option<&FamilyData>;
}

impl StoreView for Cache {
    fn type_elsewhere(&self, name: &str, key_bytes: &[u8]) -> Option<MetricType> {
        let entry = self.name(name)?;
        let elsewhere = entry.groups.keys().any(|k| &k[..] != key_bytes);
        elsewhere.then_some(entry.mtype)
    }

    fn key_shapes(&self, name: &str) -> Vec<Box<[String]>> {
        self.name(name)
            .map(|entry| entry.key_shapes.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn family(&self, name: &str, key_bytes: &[u8]) -> Option<&FamilyData> {
        self.name(name)?.groups.get(key_bytes).map(|f| &**f)
    }
}

/// Checks the families a push changes against every other group and the gateway's own
/// metrics: type clashes, duplicate series, and `_count`/`_sum`/`_bucket` name collisions.
///
/// `key_bytes` is the pushed group's upstream key and `families` its complete set of
/// families as they would be after the push.
pub fn check_push(
    store: &impl StoreView,
    key_bytes: &[u8],
    families: &BTreeMap<String, Arc<FamilyData>>,
    changed: &[&str],
) -> Problems {
    let mut errors = Problems::new();
    let others_type = |name: &str| store.type_elsewhere(name, key_bytes);
    let type_of = |name: &str| -> Option<MetricType> {
        own_type(name)
            .or_else(|| families.get(name).map(|f| f.mtype))
            .or_else(|| others_type(name))
    };
    for name in changed {
        let Some(family) = families.get(*name) else {
            continue;
        };
        if let Some(own) = own_type(name) {
            if own != family.mtype {
                errors.add(|| {
                    format!(
                        "gathered metric family {name} has type {} but should have {}",
                        family.mtype.upstream_name(),
                        own.upstream_name()
                    )
                });
                continue;
            }
        }
        let existing = others_type(name);
        // Decoded once, and only to name a problem: messages quote the metric.
        let decoded = std::cell::OnceCell::new();
        let metrics = || &decoded.get_or_init(|| family.decode()).metric;
        let metric = |i: usize| metrics().get(i).cloned().unwrap_or_default();
        if let Some(existing) = existing.filter(|t| *t != family.mtype) {
            for i in 0..family.series() {
                errors.add(|| not_a(name, &metric(i), existing));
            }
            continue;
        }
        // With only the pushed group's key shape in use, every series projects onto its own
        // key: no other group can have it, and nothing needs decoding.
        let mut others = existing
            .map(|_| store.key_shapes(name))
            .filter(|shapes| {
                let own = key_names(key_bytes);
                shapes
                    .iter()
                    .any(|shape| !shape.iter().map(String::as_bytes).eq(own.iter().copied()))
            })
            .map(|shapes| OtherGroups::new(store, name, shapes, key_bytes));
        let mut seen = HashSet::with_capacity(family.sigs.len());
        for (i, sig) in family.sigs.iter().enumerate() {
            let duplicate = !seen.insert(*sig)
                || others.as_mut().is_some_and(|o| {
                    metrics()
                        .get(i)
                        .is_some_and(|m| o.have_series(&m.label, sig))
                });
            if duplicate {
                errors.add(|| {
                    format!(
                        "collected metric {} {} was collected before with the same name and label values",
                        quote(name),
                        metric_text(&metric(i))
                    )
                });
            }
        }
        for error in suffix_collisions(name, family.mtype, &type_of) {
            errors.add(|| error);
        }
    }
    errors
}

/// The label names of an upstream grouping key (`name 0xFF value 0xFF name ...`; 0xFF is never
/// part of a UTF-8 name or value).
fn key_names(key_bytes: &[u8]) -> Vec<&[u8]> {
    key_bytes.split(|&b| b == 0xFF).step_by(2).collect()
}

/// The other groups' families of one name, looked up by the grouping keys a series carries.
///
/// Every series of a group carries the group's grouping labels with their values, so a
/// series can only be another group's if it carries that group's key. For each key shape
/// (label names) in use, the series' values of those names form the one key it could come
/// from. A lookup costs the number of shapes in use for the name (usually one or two), or
/// the subsets of the series' label names when those are fewer; a group found costs a scan of
/// its fingerprints, or a set of them once it was looked up [`SCANS`] times.
struct OtherGroups<'a, S> {
    store: &'a S,
    name: &'a str,
    /// The key shapes in use for the name.
    shapes: HashSet<Box<[String]>>,
    own_key: &'a [u8],
    /// The groups found so far, by key.
    found: HashMap<Vec<u8>, Found<'a>>,
}

/// Another group's family of the name, as looked up for a check.
struct Found<'a> {
    family: Option<&'a FamilyData>,
    lookups: usize,
    /// Its series, once looked up often enough to be worth a set.
    set: Option<HashSet<Signature>>,
}

/// Lookups in one family that scan its fingerprints before they are put in a set: a push whose
/// few series fall in a large group costs a few scans, not a set of the group.
const SCANS: usize = 8;

impl<'a, S: StoreView> OtherGroups<'a, S> {
    fn new(
        store: &'a S,
        name: &'a str,
        shapes: Vec<Box<[String]>>,
        own_key: &'a [u8],
    ) -> OtherGroups<'a, S> {
        OtherGroups {
            store,
            name,
            shapes: shapes.into_iter().collect(),
            own_key,
            found: HashMap::new(),
        }
    }

    /// Whether another group has the series with these labels (sorted by name) and
    /// fingerprint.
    fn have_series(&mut self, labels: &[LabelPair], sig: &Signature) -> bool {
        let shapes = self.shapes.len();
        if labels.len() < usize::BITS as usize && (1usize << labels.len()) < shapes {
            // Fewer subsets of the series' label names than shapes in use.
            (1usize..1 << labels.len()).any(|bits| {
                let subset: Vec<String> = labels
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bits & (1 << i) != 0)
                    .map(|(_, l)| l.name().to_string())
                    .collect();
                self.shapes.contains(subset.as_slice()) && self.in_group(labels, &subset, sig)
            })
        } else {
            // Taken out while `in_group` borrows the rest mutably; put back below.
            let shapes = std::mem::take(&mut self.shapes);
            let hit = shapes.iter().any(|shape| self.in_group(labels, shape, sig));
            self.shapes = shapes;
            hit
        }
    }

    /// Whether the group keyed by the series' values of `shape` (if it has them all, and the
    /// group is another one) has the series.
    fn in_group(&mut self, labels: &[LabelPair], shape: &[String], sig: &Signature) -> bool {
        let mut pairs = Vec::with_capacity(shape.len());
        for name in shape {
            match labels.iter().find(|l| l.name() == name) {
                Some(l) => pairs.push((name.as_str(), l.value())),
                None => return false,
            }
        }
        let key = upstream_key_for(pairs);
        if key == self.own_key {
            return false;
        }
        let (store, name) = (self.store, self.name);
        let found = self.found.entry(key).or_insert_with_key(|key| Found {
            family: store.family(name, key),
            lookups: 0,
            set: None,
        });
        let Some(family) = found.family else {
            return false;
        };
        found.lookups += 1;
        if found.set.is_none() && found.lookups > SCANS {
            found.set = Some(family.sigs.iter().copied().collect());
        }
        match &found.set {
            Some(set) => set.contains(sig),
            None => family.sigs.contains(sig),
        }
    }
}

/// Upstream's rule that a summary or histogram `x` and a metric named `x_count`, `x_sum`
/// (or `x_bucket` for histograms) cannot be exposed together.
fn suffix_collisions(
    name: &str,
    mtype: MetricType,
    type_of: &dyn Fn(&str) -> Option<MetricType>,
) -> Vec<String> {
    let mut errors = Vec::new();
    let is_histogram = |t| matches!(t, MetricType::Histogram | MetricType::GaugeHistogram);
    if mtype == MetricType::Summary || is_histogram(mtype) {
        let suffixes: &[&str] = if is_histogram(mtype) {
            &["_count", "_sum", "_bucket"]
        } else {
            &["_count", "_sum"]
        };
        for suffix in suffixes {
            let other = format!("{name}{suffix}");
            if type_of(&other).is_some() {
                errors.push(format!(
                    "collected histogram or summary named {} collides with previously collected metric named {}",
                    quote(name),
                    quote(&other)
                ));
            }
        }
    }
    for suffix in ["_count", "_sum", "_bucket"] {
        let Some(stem) = name.strip_suffix(suffix) else {
            continue;
        };
        match type_of(stem) {
            Some(MetricType::Summary) if suffix != "_bucket" => errors.push(format!(
                "collected metric named {} collides with previously collected summary named {}",
                quote(name),
                quote(stem)
            )),
            Some(t) if is_histogram(t) => errors.push(format!(
                "collected metric named {} collides with previously collected histogram named {}",
                quote(name),
                quote(stem)
            )),
            _ => {}
        }
    }
    errors
}

/// Joins errors as client_golang's MultiError does (a single error stands alone), then says
/// how many more were found than shown.
pub fn join_errors(errors: &Problems) -> String {
    match errors.shown() {
        [one] if errors.len() == 1 => one.clone(),
        shown => {
            let mut out = format!("{} error(s) occurred:", errors.len());
            for e in shown {
                out.push_str("\n* ");
                out.push_str(e);
            }
            let hidden = errors.len() - shown.len();
            if hidden > 0 {
                let _ = write!(out, "\n* ... and {hidden} more not shown");
            }
            out
        }
    }
}

fn not_a(name: &str, metric: &Metric, mtype: MetricType) -> String {
    format!(
        "collected metric {} {} is not a {}",
        quote(name),
        metric_text(metric),
        mtype.upstream_name()
    )
}

/// A metric in protobuf text form, as upstream's messages show it.
pub fn metric_text(m: &Metric) -> String {
    let mut out = String::from("{");
    for l in &m.label {
        let _ = write!(
            out,
            " label:{{name:{} value:{}}}",
            quote(l.name()),
            quote(l.value())
        );
    }
    let value = |v: Option<f64>| v.map(format_float).unwrap_or_else(|| "0".into());
    if let Some(g) = &m.gauge {
        let _ = write!(out, " gauge:{{value:{}}}", value(g.value));
    }
    if let Some(c) = &m.counter {
        let _ = write!(out, " counter:{{value:{}}}", value(c.value));
    }
    if let Some(u) = &m.untyped {
        let _ = write!(out, " untyped:{{value:{}}}", value(u.value));
    }
    if let Some(s) = &m.summary {
        let _ = write!(
            out,
            " summary:{{sample_count:{} sample_sum:{}}}",
            s.sample_count.unwrap_or(0),
            value(s.sample_sum)
        );
    }
    if let Some(h) = &m.histogram {
        let _ = write!(
            out,
            " histogram:{{sample_count:{} sample_sum:{}}}",
            h.sample_count.unwrap_or(0),
            value(h.sample_sum)
        );
    }
    if let Some(ts) = m.timestamp_ms {
        let _ = write!(out, " timestamp_ms:{ts}");
    }
    out.push_str(" }");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Group;
    use crate::family::{sanitize, FamilyData};
    use crate::grouping_key::GroupingKey;
    use crate::proto::{Gauge, LabelPair, Summary, Untyped};

    fn key(job: &str) -> GroupingKey {
        GroupingKey::from_labels([("job".to_string(), job.to_string())]).unwrap()
    }

    fn family(name: &str, mtype: MetricType, labels: &[(&str, &str)]) -> MetricFamily {
        let mut m = Metric {
            label: labels.iter().map(|(a, b)| LabelPair::new(*a, *b)).collect(),
            ..Default::default()
        };
        match mtype {
            MetricType::Gauge => m.gauge = Some(Gauge { value: Some(1.0) }),
            MetricType::Summary => m.summary = Some(Box::new(Summary::default())),
            _ => m.untyped = Some(Untyped { value: Some(1.0) }),
        }
        MetricFamily {
            name: Some(name.into()),
            r#type: Some(mtype as i32),
            metric: vec![m],
            ..Default::default()
        }
    }

    fn prepared(job: &str, f: MetricFamily) -> BTreeMap<String, Arc<FamilyData>> {
        let mut f = f;
        sanitize(&mut f, &key(job));
        BTreeMap::from([(f.name().to_string(), Arc::new(FamilyData::new(&f, 1)))])
    }

    fn cache_with(job: &str, id: i64, f: MetricFamily) -> Cache {
        let k = key(job);
        let mut cache = Cache::new();
        cache.put_group(Group {
            id,
            key_bytes: k.upstream_key().into(),
            key: k,
            families: prepared(job, f),
            last_push_ns: 1,
            last_failure_ns: 0,
            created_ns: 1,
            expires_ns: 0,
        });
        cache
    }

    #[test]
    fn a_type_clash_with_another_group_is_reported_per_metric() {
        let cache = cache_with("a", 1, family("m", MetricType::Gauge, &[]));
        let fams = prepared("b", family("m", MetricType::Untyped, &[]));
        let errors = check_push(&cache, &key("b").upstream_key(), &fams, &["m"]);
        let errors = errors.shown();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("collected metric \"m\" {"),
            "{}",
            errors[0]
        );
        assert!(errors[0].ends_with("} is not a GAUGE"), "{}", errors[0]);
    }

    #[test]
    fn the_same_group_may_change_a_family_type() {
        let cache = cache_with("a", 1, family("m", MetricType::Gauge, &[]));
        let fams = prepared("a", family("m", MetricType::Untyped, &[]));
        assert!(check_push(&cache, &key("a").upstream_key(), &fams, &["m"]).is_empty());
    }

    #[test]
    fn a_series_owned_by_another_group_is_a_duplicate() {
        // {job="a"} with a body instance="x" and {job="a",instance="x"} expose the same series.
        let cache = cache_with("a", 1, family("m", MetricType::Gauge, &[("instance", "x")]));
        let mut f = family("m", MetricType::Gauge, &[("instance", "x")]);
        sanitize(&mut f, &key("a"));
        let fams = BTreeMap::from([("m".to_string(), Arc::new(FamilyData::new(&f, 1)))]);
        let errors = check_push(&cache, b"other", &fams, &["m"]);
        let errors = errors.shown();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].ends_with("was collected before with the same name and label values"));
    }

    /// A group keyed by `labels` with one gauge `m` of one metric labelled `body`.
    fn keyed_group(id: i64, labels: &[(&str, &str)], body: &[(&str, &str)]) -> Group {
        let k =
            GroupingKey::from_labels(labels.iter().map(|(n, v)| (n.to_string(), v.to_string())))
                .unwrap();
        let mut f = family("m", MetricType::Gauge, body);
        sanitize(&mut f, &k);
        Group {
            id,
            key_bytes: k.upstream_key().into(),
            families: BTreeMap::from([("m".to_string(), Arc::new(FamilyData::new(&f, 1)))]),
            key: k,
            last_push_ns: 1,
            last_failure_ns: 0,
            created_ns: 1,
            expires_ns: 0,
        }
    }

    /// Checks pushing `group` (as it would be after the push) against `cache`.
    fn check_group(cache: &Cache, group: &Group) -> Vec<String> {
        check_push(cache, &group.key_bytes, &group.families, &["m"])
            .shown()
            .to_vec()
    }

    #[test]
    fn a_group_whose_key_the_series_carries_owns_it() {
        let mut cache = Cache::new();
        cache.put_group(keyed_group(1, &[("job", "a"), ("instance", "x")], &[]));
        // {job="a"} pushing instance="x" in the body, and the other way round.
        let pushed = keyed_group(2, &[("job", "a")], &[("instance", "x")]);
        assert_eq!(check_group(&cache, &pushed).len(), 1);
        let mut cache = Cache::new();
        cache.put_group(keyed_group(2, &[("job", "a")], &[("instance", "x")]));
        let pushed = keyed_group(1, &[("job", "a"), ("instance", "x")], &[]);
        assert_eq!(check_group(&cache, &pushed).len(), 1);
        // Another instance is another series.
        let pushed = keyed_group(3, &[("job", "a"), ("instance", "y")], &[]);
        assert!(check_group(&cache, &pushed).is_empty());
    }

    #[test]
    fn an_empty_key_label_and_an_absent_one_expose_the_same_series() {
        let mut cache = Cache::new();
        cache.put_group(keyed_group(1, &[("job", "a"), ("instance", "")], &[]));
        let pushed = keyed_group(2, &[("job", "a")], &[]);
        assert_eq!(check_group(&cache, &pushed).len(), 1);
    }

    #[test]
    fn a_group_may_push_its_own_series_again() {
        let mut cache = Cache::new();
        let group = keyed_group(1, &[("job", "a")], &[("zone", "z")]);
        cache.put_group(group.clone());
        cache.put_group(keyed_group(2, &[("job", "b")], &[("zone", "z")]));
        assert!(check_group(&cache, &group).is_empty());
    }

    #[test]
    fn clashes_are_found_when_many_key_shapes_are_in_use() {
        let mut cache = Cache::new();
        // More key shapes than subsets of the pushed series' label names.
        for i in 0..20 {
            let name = format!("l{i}");
            cache.put_group(keyed_group(
                10 + i,
                &[("job", "a"), (name.as_str(), "v")],
                &[],
            ));
        }
        cache.put_group(keyed_group(1, &[("job", "a"), ("instance", "x")], &[]));
        assert_eq!(cache.name("m").unwrap().key_shapes.len(), 21);
        let pushed = keyed_group(2, &[("job", "a")], &[("instance", "x")]);
        assert_eq!(check_group(&cache, &pushed).len(), 1);
        let pushed = keyed_group(3, &[("job", "a")], &[("instance", "y")]);
        assert!(check_group(&cache, &pushed).is_empty());
        // And a series carrying one of the other shapes' keys.
        let pushed = keyed_group(4, &[("job", "a")], &[("l7", "v")]);
        assert_eq!(check_group(&cache, &pushed).len(), 1);
    }

    #[test]
    fn every_clashing_series_of_a_large_push_is_reported() {
        // More clashes with one group than it is scanned for before its series go in a set.
        let series = |key: &GroupingKey, body: &[(&str, &str)]| {
            let mut f = family("m", MetricType::Gauge, body);
            f.metric = (0..3 * SCANS)
                .map(|i| {
                    let mut m = f.metric[0].clone();
                    m.label.push(LabelPair::new("s", i.to_string()));
                    m
                })
                .collect();
            sanitize(&mut f, key);
            BTreeMap::from([("m".to_string(), Arc::new(FamilyData::new(&f, 1)))])
        };
        let stored = GroupingKey::from_labels([
            ("job".to_string(), "a".to_string()),
            ("instance".to_string(), "x".to_string()),
        ])
        .unwrap();
        let mut cache = Cache::new();
        cache.put_group(Group {
            id: 1,
            key_bytes: stored.upstream_key().into(),
            families: series(&stored, &[]),
            key: stored,
            last_push_ns: 1,
            last_failure_ns: 0,
            created_ns: 1,
            expires_ns: 0,
        });
        let pushed = series(&key("a"), &[("instance", "x")]);
        let errors = check_push(&cache, &key("a").upstream_key(), &pushed, &["m"]);
        assert_eq!(errors.len(), 3 * SCANS, "{errors:?}");
    }

    #[test]
    fn own_metric_types_must_match() {
        let fams = prepared(
            "a",
            family("pushgateway_build_info", MetricType::Counter, &[]),
        );
        let errors = check_push(&Cache::new(), b"k", &fams, &["pushgateway_build_info"]);
        assert_eq!(
            errors.shown(),
            ["gathered metric family pushgateway_build_info has type COUNTER but should have GAUGE"]
        );
    }

    #[test]
    fn a_count_metric_collides_with_a_summary_of_its_stem() {
        let cache = cache_with("a", 1, family("s", MetricType::Summary, &[]));
        let fams = prepared("b", family("s_count", MetricType::Untyped, &[]));
        let errors = check_push(&cache, &key("b").upstream_key(), &fams, &["s_count"]);
        assert_eq!(
            errors.shown(),
            ["collected metric named \"s_count\" collides with previously collected summary named \"s\""]
        );
    }

    #[test]
    fn reserved_and_duplicate_labels_are_rejected() {
        let mut f = family(
            "s",
            MetricType::Summary,
            &[("quantile", "0.5"), ("__x", "1")],
        );
        f.metric[0].label.push(LabelPair::new("a", "1"));
        f.metric[0].label.push(LabelPair::new("a", "2"));
        let errors = check_family(&f);
        assert_eq!(errors.len(), 3, "{errors:?}");
        let errors = errors.shown();
        assert!(errors
            .iter()
            .any(|e| e.ends_with("has a label with an invalid name: __x")));
        assert!(errors
            .iter()
            .any(|e| e.ends_with("must not have an explicit \"quantile\" label")));
        assert!(errors
            .iter()
            .any(|e| e.ends_with("has two or more labels with the same name: a")));
    }

    #[test]
    fn a_metric_without_a_value_of_its_type_is_rejected() {
        let mut f = family("g", MetricType::Gauge, &[]);
        f.metric[0].gauge = None;
        f.metric[0].untyped = Some(Untyped { value: Some(1.0) });
        let errors = check_family(&f);
        assert_eq!(
            errors.shown(),
            ["collected metric \"g\" { untyped:{value:1} } is not a GAUGE"]
        );
    }

    #[test]
    fn errors_join_like_client_golang() {
        assert_eq!(join_errors(&Problems::from_iter(["a"])), "a");
        assert_eq!(
            join_errors(&Problems::from_iter(["a", "b"])),
            "2 error(s) occurred:\n* a\n* b"
        );
    }

    #[test]
    fn only_the_first_problems_are_named_and_the_rest_counted() {
        let problems = Problems::from_iter((0..1_000).map(|i| format!("p{i}")));
        assert_eq!(problems.len(), 1_000);
        assert_eq!(problems.shown().len(), Problems::SHOWN);
        let joined = join_errors(&problems);
        assert!(
            joined.starts_with("1000 error(s) occurred:\n* p0\n* p1\n"),
            "{joined}"
        );
        assert!(
            joined.ends_with("\n* p9\n* ... and 990 more not shown"),
            "{joined}"
        );
    }

    #[test]
    fn problems_past_the_shown_ones_are_never_formatted() {
        let mut problems = Problems::new();
        for i in 0..100 {
            problems.add(|| {
                assert!(i < Problems::SHOWN, "message {i} was built");
                format!("p{i}")
            });
        }
        assert_eq!(problems.len(), 100);
    }

    #[test]
    fn appended_problems_keep_their_count() {
        let mut a = Problems::from_iter(["a"]);
        a.append(Problems::from_iter((0..20).map(|i| i.to_string())));
        assert_eq!(a.len(), 21);
        assert_eq!(a.shown().len(), Problems::SHOWN);
        assert_eq!(a.shown()[1], "0");
    }

    #[test]
    fn a_message_quoting_a_huge_metric_is_cut() {
        let labels: Vec<(String, String)> = (0..5_000)
            .map(|i| (format!("l{i}"), "v".to_string()))
            .collect();
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let mut f = family("g", MetricType::Gauge, &labels);
        f.metric[0].gauge = None;
        let errors = check_family(&f);
        assert_eq!(errors.len(), 1);
        assert!(errors.shown()[0].len() <= MAX_MESSAGE_BYTES);
        assert!(errors.shown()[0].ends_with('…'));
    }

    #[test]
    fn a_million_duplicate_series_are_checked_in_linear_time() {
        // Every metric of the family is the same series: the check used to decode the family
        // once per duplicate.
        let mut f = MetricFamily {
            name: Some("m".into()),
            r#type: Some(MetricType::Gauge as i32),
            metric: vec![
                Metric {
                    gauge: Some(Gauge { value: Some(1.0) }),
                    ..Default::default()
                };
                200_000
            ],
            ..Default::default()
        };
        sanitize(&mut f, &key("a"));
        let fams = BTreeMap::from([("m".to_string(), Arc::new(FamilyData::new(&f, 1)))]);
        let started = std::time::Instant::now();
        let errors = check_push(&Cache::new(), b"k", &fams, &["m"]);
        assert_eq!(errors.len(), 200_000 - 1);
        // Quadratic took minutes here; linear takes milliseconds even in a debug build.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
