//! The consistency check of a push: would the store, with this push applied, still expose
//! valid metrics? Upstream gathers its whole store for every push; here the check looks only at
//! the metric names the push touches, through the cache's by-name index, so its cost follows
//! the pushed group's size. The messages are upstream's (client_golang's gatherer), so a
//! client sees the same explanation.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::sync::Arc;

use crate::cache::Cache;
use crate::family::{FamilyData, Signature};
use crate::go_strconv::{format_float, quote};
use crate::metrics::names::own_type;
use crate::proto::{Metric, MetricFamily, MetricType};

/// Checks one sanitised family on its own: label names, duplicate label names, reserved
/// labels of summaries and histograms, and that each metric holds a value of the family's type.
pub fn check_family(family: &MetricFamily) -> Vec<String> {
    let mut errors = Vec::new();
    let name = family.name();
    let mtype = family.r#type();
    for metric in &family.metric {
        let mut seen = HashSet::new();
        for label in &metric.label {
            let label_name = label.name();
            if label_name.is_empty() || label_name.starts_with("__") {
                errors.push(format!(
                    "collected metric {} {} has a label with an invalid name: {label_name}",
                    quote(name),
                    metric_text(metric)
                ));
            }
            if !seen.insert(label_name) {
                errors.push(format!(
                    "collected metric {} {} has two or more labels with the same name: {label_name}",
                    quote(name),
                    metric_text(metric)
                ));
            }
        }
        let reserved = match mtype {
            MetricType::Summary => Some("quantile"),
            MetricType::Histogram | MetricType::GaugeHistogram => Some("le"),
            _ => None,
        };
        if let Some(reserved) = reserved {
            if metric.label.iter().any(|l| l.name() == reserved) {
                errors.push(format!(
                    "collected metric {} {} must not have an explicit {} label",
                    quote(name),
                    metric_text(metric),
                    quote(reserved)
                ));
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
            errors.push(not_a(name, metric, mtype));
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
    /// For each of `sigs`, the row id of the group whose family `name` holds that series,
    /// if any does.
    fn series_owners(&self, name: &str, sigs: &[Signature]) -> Vec<Option<i64>>;
}

impl StoreView for Cache {
    fn type_elsewhere(&self, name: &str, key_bytes: &[u8]) -> Option<MetricType> {
        let entry = self.name(name)?;
        let elsewhere = entry.groups.keys().any(|k| &k[..] != key_bytes);
        elsewhere.then_some(entry.mtype)
    }

    fn series_owners(&self, name: &str, sigs: &[Signature]) -> Vec<Option<i64>> {
        match self.name(name) {
            Some(entry) => sigs.iter().map(|s| entry.series.get(s).copied()).collect(),
            None => vec![None; sigs.len()],
        }
    }
}

/// Checks the families a push changes against every other group and the gateway's own
/// metrics: type clashes, duplicate series, and `_count`/`_sum`/`_bucket` name collisions.
///
/// `group_id` is the pushed group's row id (`None` for a group that does not exist yet) and
/// `families` its complete set of families as they would be after the push.
pub fn check_push(
    store: &impl StoreView,
    group_id: Option<i64>,
    key_bytes: &[u8],
    families: &BTreeMap<String, Arc<FamilyData>>,
    changed: &[&str],
) -> Vec<String> {
    let mut errors = Vec::new();
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
                errors.push(format!(
                    "gathered metric family {name} has type {} but should have {}",
                    family.mtype.upstream_name(),
                    own.upstream_name()
                ));
                continue;
            }
        }
        let existing = others_type(name);
        let decoded = std::cell::OnceCell::new();
        let metrics = || decoded.get_or_init(|| family.decode()).metric.clone();
        if let Some(existing) = existing.filter(|t| *t != family.mtype) {
            for metric in metrics() {
                errors.push(not_a(name, &metric, existing));
            }
            continue;
        }
        let repeated = repeated(&family.sigs);
        let owners = store.series_owners(name, &family.sigs);
        for (i, owner) in owners.into_iter().enumerate() {
            let owned_elsewhere = owner.is_some_and(|owner| Some(owner) != group_id);
            if repeated[i] || owned_elsewhere {
                let metric = metrics().into_iter().nth(i).unwrap_or_default();
                errors.push(format!(
                    "collected metric {} {} was collected before with the same name and label values",
                    quote(name),
                    metric_text(&metric)
                ));
            }
        }
        errors.extend(suffix_collisions(name, family.mtype, &type_of));
    }
    errors
}

/// For each series, whether an earlier one of the same family has the same labels. By sorting,
/// not hashing: the signatures are hashes already.
fn repeated(sigs: &[Signature]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..sigs.len()).collect();
    order.sort_unstable_by_key(|&i| (sigs[i], i));
    let mut repeated = vec![false; sigs.len()];
    for pair in order.windows(2) {
        if sigs[pair[0]] == sigs[pair[1]] {
            repeated[pair[1]] = true;
        }
    }
    repeated
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

/// Joins errors as client_golang's MultiError does (a single error stands alone).
pub fn join_errors(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => {
            let mut out = format!("{} error(s) occurred:", many.len());
            for e in many {
                out.push_str("\n* ");
                out.push_str(e);
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
        assert_eq!(errors.len(), 1);
        assert!(errors[0].ends_with("was collected before with the same name and label values"));
    }

    #[test]
    fn each_repetition_of_a_series_within_a_family_is_a_duplicate() {
        let sigs = [[1, 1], [2, 2], [1, 1], [3, 3], [1, 1], [2, 2]];
        assert_eq!(
            repeated(&sigs),
            [false, false, true, false, true, true],
            "the first of each label set stands, later ones are repeats"
        );
        assert!(repeated(&[]).is_empty());
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
            errors,
            ["gathered metric family pushgateway_build_info has type COUNTER but should have GAUGE"]
        );
    }

    #[test]
    fn a_count_metric_collides_with_a_summary_of_its_stem() {
        let cache = cache_with("a", 1, family("s", MetricType::Summary, &[]));
        let fams = prepared("b", family("s_count", MetricType::Untyped, &[]));
        let errors = check_push(&cache, None, &key("b").upstream_key(), &fams, &["s_count"]);
        assert_eq!(
            errors,
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
            errors,
            ["collected metric \"g\" { untyped:{value:1} } is not a GAUGE"]
        );
    }

    #[test]
    fn errors_join_like_client_golang() {
        assert_eq!(join_errors(&["a".into()]), "a");
        assert_eq!(
            join_errors(&["a".into(), "b".into()]),
            "2 error(s) occurred:\n* a\n* b"
        );
    }
}
