//! The consistency check of a push: would the store, with this push applied, still expose
//! valid metrics? Upstream gathers its whole store for every push; here the check looks only at
//! the metric names the push touches, through the cache's by-name index, so its cost follows
//! the pushed group's size. The messages are upstream's (client_golang's gatherer), so a
//! client sees the same explanation.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::sync::Arc;

use crate::cache::Cache;
use crate::family::FamilyData;
use crate::go_strconv::{format_float, quote};
use crate::limits::{truncate, MAX_MESSAGE_BYTES};
use crate::metrics::names::own_type;
use crate::proto::{Metric, MetricFamily, MetricType};

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

/// Checks the families a push changes against every other group and the gateway's own
/// metrics: type clashes, duplicate series, and `_count`/`_sum`/`_bucket` name collisions.
///
/// `group_id` is the pushed group's row id (`None` for a group that does not exist yet) and
/// `families` its complete set of families as they would be after the push.
pub fn check_push(
    cache: &Cache,
    group_id: Option<i64>,
    key_bytes: &[u8],
    families: &BTreeMap<String, Arc<FamilyData>>,
    changed: &[&str],
) -> Problems {
    let mut errors = Problems::new();
    let others_type = |name: &str| -> Option<MetricType> {
        let entry = cache.name(name)?;
        let elsewhere = entry.groups.keys().any(|k| &k[..] != key_bytes);
        elsewhere.then_some(entry.mtype)
    };
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
        let metric = |i: usize| {
            decoded
                .get_or_init(|| family.decode())
                .metric
                .get(i)
                .cloned()
                .unwrap_or_default()
        };
        if let Some(existing) = existing.filter(|t| *t != family.mtype) {
            for i in 0..family.series() {
                errors.add(|| not_a(name, &metric(i), existing));
            }
            continue;
        }
        let entry = cache.name(name);
        let mut seen = HashSet::with_capacity(family.sigs.len());
        for (i, sig) in family.sigs.iter().enumerate() {
            let owned_elsewhere = entry
                .and_then(|e| e.series.get(sig))
                .is_some_and(|owner| Some(*owner) != group_id);
            if !seen.insert(*sig) || owned_elsewhere {
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
            MetricType::Summary => m.summary = Some(Summary::default()),
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
        });
        cache
    }

    #[test]
    fn a_type_clash_with_another_group_is_reported_per_metric() {
        let cache = cache_with("a", 1, family("m", MetricType::Gauge, &[]));
        let fams = prepared("b", family("m", MetricType::Untyped, &[]));
        let errors = check_push(&cache, None, &key("b").upstream_key(), &fams, &["m"]);
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
        assert!(check_push(&cache, Some(1), &key("a").upstream_key(), &fams, &["m"]).is_empty());
    }

    #[test]
    fn a_series_owned_by_another_group_is_a_duplicate() {
        // {job="a"} with a body instance="x" and {job="a",instance="x"} expose the same series.
        let cache = cache_with("a", 1, family("m", MetricType::Gauge, &[("instance", "x")]));
        let mut f = family("m", MetricType::Gauge, &[("instance", "x")]);
        sanitize(&mut f, &key("a"));
        let fams = BTreeMap::from([("m".to_string(), Arc::new(FamilyData::new(&f, 1)))]);
        let errors = check_push(&cache, Some(2), b"other", &fams, &["m"]);
        let errors = errors.shown();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].ends_with("was collected before with the same name and label values"));
    }

    #[test]
    fn own_metric_types_must_match() {
        let fams = prepared(
            "a",
            family("pushgateway_build_info", MetricType::Counter, &[]),
        );
        let errors = check_push(
            &Cache::new(),
            None,
            b"k",
            &fams,
            &["pushgateway_build_info"],
        );
        assert_eq!(
            errors.shown(),
            ["gathered metric family pushgateway_build_info has type COUNTER but should have GAUGE"]
        );
    }

    #[test]
    fn a_count_metric_collides_with_a_summary_of_its_stem() {
        let cache = cache_with("a", 1, family("s", MetricType::Summary, &[]));
        let fams = prepared("b", family("s_count", MetricType::Untyped, &[]));
        let errors = check_push(&cache, None, &key("b").upstream_key(), &fams, &["s_count"]);
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
        let errors = check_push(&Cache::new(), None, b"k", &fams, &["m"]);
        assert_eq!(errors.len(), 200_000 - 1);
        // Quadratic took minutes here; linear takes milliseconds even in a debug build.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
