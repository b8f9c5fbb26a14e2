//! The original's groups as this gateway stores them, decided without touching a file: each
//! pushed family sanitised, checked and rendered as a push would be ([`FamilyData`]), the
//! group's times derived from the original's own timestamp families, and the whole set checked
//! for consistency as the gateway checks a push, group after group.
//!
//! The original keeps `push_time_seconds` and `push_failure_time_seconds` as families of each
//! group; this gateway keeps the times in the group's row (`last_push_ns`, `last_failure_ns`,
//! `created_ns`) and builds the two families from them. The original writes them in one shape
//! only: a gauge with the grouping labels, the help text, value `float64(UnixNano)/1e9` (0 for
//! never) and the family's time set when the value was set, or, for a 0, when the group got its
//! first family. So `last_*_ns` is the family's time when its value is not 0, `created_ns` the
//! time of a 0-valued one. A family of another shape (a client can push its own
//! `push_failure_time_seconds` into an existing group of the original; a file of a version
//! before 1.0 may lack it) cannot be served as the original served it: the gateway serves its
//! own, and the difference is reported.

use std::collections::BTreeMap;
use std::sync::Arc;

use prost::Message as _;

use crate::cache::{Cache, Group};
use crate::consistency::{check_family, check_push, join_errors, Problems};
use crate::family::{sanitize, timestamp_family, FamilyData, PUSH_FAILURE_TIME, PUSH_TIME};
use crate::go_strconv::{quote, quote_bytes};
use crate::grouping_key::GroupingKey;
use crate::history::samples::SampleJson;
use crate::import::{Decoded, UpstreamGroup};
use crate::names::is_legacy_label_name;
use crate::proto::{MetricFamily, MetricType};

/// One group of the original's, ready to store.
#[derive(Debug)]
pub(crate) struct ImportedGroup {
    pub(crate) key: GroupingKey,
    /// The pushed families, as a push stores them, each with the original's time; the two
    /// timestamp families are not among them (the group's times give them).
    pub(crate) families: Vec<Arc<FamilyData>>,
    pub(crate) last_push_ns: i64,
    pub(crate) last_failure_ns: i64,
    pub(crate) created_ns: i64,
    /// The values for the history record, as a push records them, and their number.
    pub(crate) samples: Option<(String, usize)>,
    /// Where this gateway serves the group's timestamp families differently from the original.
    differences: Vec<String>,
}

impl ImportedGroup {
    /// Series over the pushed families.
    pub(crate) fn series(&self) -> usize {
        self.families.iter().map(|f| f.series()).sum()
    }
}

/// Every group of a file, ready to store, sorted by grouping labels.
#[derive(Debug)]
pub(crate) struct Conversion {
    pub(crate) groups: Vec<ImportedGroup>,
    /// Where this gateway will serve a group's timestamp family differently from the original
    /// (see the module doc), one sentence each.
    pub(crate) differences: Vec<String>,
}

impl Conversion {
    /// Every group's pushed series.
    pub(crate) fn series(&self) -> usize {
        self.groups.iter().map(ImportedGroup::series).sum()
    }

    /// The series the groups will hold once stored, as `--push.max-series-total` counts them:
    /// the pushed ones and each group's two timestamp series.
    pub(crate) fn stored_series(&self) -> usize {
        self.series() + 2 * self.groups.len()
    }
}

/// A group of the original's that this gateway cannot serve, and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RefusedGroup {
    /// The grouping labels, as `{instance="a",job="b"}`.
    pub(crate) labels: String,
    /// The path below `/metrics` that deletes the group from the original, when it has one.
    pub(crate) delete_path: Option<String>,
    pub(crate) reason: String,
}

impl std::fmt::Display for RefusedGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "group {}", self.labels)?;
        if let Some(path) = &self.delete_path {
            write!(f, " (deleted from the original by DELETE /metrics{path})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl RefusedGroup {
    fn new(key: &GroupingKey, reason: String) -> RefusedGroup {
        RefusedGroup {
            labels: key.canonical(),
            delete_path: Some(key.to_base64_path()),
            reason,
        }
    }
}

/// Converts groups one at a time as they are decoded ([`Converter::add`]), so that only the
/// prepared families, not every decoded one, are held; then checks them against each other
/// ([`Converter::finish`]). Linear in the number of series.
#[derive(Debug)]
pub(crate) struct Converter {
    with_samples: bool,
    groups: Vec<ImportedGroup>,
    refused: Vec<RefusedGroup>,
}

impl Converter {
    /// With `with_samples`, each group's values are written for its history record.
    pub(crate) fn new(with_samples: bool) -> Converter {
        Converter {
            with_samples,
            groups: Vec::new(),
            refused: Vec::new(),
        }
    }

    /// Converts one group on its own: its key, its families, its times.
    pub(crate) fn add(&mut self, decoded: Decoded) {
        let group = match decoded {
            Decoded::Group(group) => group,
            Decoded::NotUtf8 { labels } => {
                self.refused.push(RefusedGroup {
                    labels: describe_raw_labels(&labels),
                    delete_path: raw_delete_path(&labels),
                    reason: "a grouping label is not UTF-8, which no exposition format can \
                             carry (the original created this group from a push it refused, \
                             and has failed every scrape since)"
                        .to_string(),
                });
                return;
            }
        };
        let key = match GroupingKey::from_labels(group.labels.clone()) {
            Ok(key) => key,
            Err(e) => {
                self.refused.push(RefusedGroup {
                    labels: describe_labels(&group.labels),
                    delete_path: None,
                    reason: e.to_string(),
                });
                return;
            }
        };
        match convert_group(&key, group, self.with_samples) {
            Ok(group) => self.groups.push(group),
            Err(reason) => self.refused.push(RefusedGroup::new(&key, reason)),
        }
    }

    /// Every group, or every group that cannot be served (then nothing is to be imported).
    /// Groups are checked in the order of their labels, each against the ones before it, as
    /// a push is checked against the store, so the same file always gives the same answer.
    pub(crate) fn finish(mut self) -> Result<Conversion, Vec<RefusedGroup>> {
        self.groups.sort_by(|a, b| a.key.cmp(&b.key));
        let mut cache = Cache::new();
        let mut imported = Vec::with_capacity(self.groups.len());
        let mut differences = Vec::new();
        for (index, mut group) in self.groups.into_iter().enumerate() {
            let cached = cached_group(index as i64 + 1, &group);
            let names: Vec<&str> = cached.families.keys().map(String::as_str).collect();
            let errors = check_push(&cache, &cached.key_bytes, &cached.families, &names);
            if !errors.is_empty() {
                self.refused.push(RefusedGroup::new(
                    &group.key,
                    format!(
                        "it is inconsistent with the groups before it: {}",
                        join_errors(&errors)
                    ),
                ));
                continue;
            }
            cache.put_group(cached);
            differences.append(&mut group.differences);
            imported.push(group);
        }
        if self.refused.is_empty() {
            Ok(Conversion {
                groups: imported,
                differences,
            })
        } else {
            self.refused.sort_by(|a, b| a.labels.cmp(&b.labels));
            Err(self.refused)
        }
    }
}

/// [`Converter`] over every group at once.
#[cfg(test)]
fn convert(
    groups: Vec<UpstreamGroup>,
    with_samples: bool,
) -> Result<Conversion, Vec<RefusedGroup>> {
    let mut converter = Converter::new(with_samples);
    for group in groups {
        converter.add(Decoded::Group(group));
    }
    converter.finish()
}

/// One group: its pushed families prepared as a push prepares them, its times derived from
/// its timestamp families (with the differences, if any); an error says why it is refused.
fn convert_group(
    key: &GroupingKey,
    group: UpstreamGroup,
    with_samples: bool,
) -> Result<ImportedGroup, String> {
    let mut push = None;
    let mut failure = None;
    let mut families = Vec::with_capacity(group.families.len());
    let mut errors = Problems::new();
    let mut samples = with_samples.then(SampleJson::new);
    let mut earliest = None::<i64>;
    for (mut family, time_ns) in group.families {
        if time_ns > 0 {
            earliest = Some(earliest.map_or(time_ns, |e| e.min(time_ns)));
        }
        match family.name() {
            PUSH_TIME => push = Some((family, time_ns)),
            PUSH_FAILURE_TIME => failure = Some((family, time_ns)),
            "" => errors.add(|| "a metric family has no name".to_string()),
            _ => {
                sanitize(&mut family, key);
                errors.append(check_family(&family));
                if let Some(samples) = &mut samples {
                    samples.add_family(&family, key);
                }
                families.push(Arc::new(FamilyData::new(&family, time_ns)));
            }
        }
    }
    if !errors.is_empty() {
        return Err(join_errors(&errors));
    }
    let push_stamp = Stamp::read(push.as_ref());
    let failure_stamp = Stamp::read(failure.as_ref());
    // The time of a 0-valued timestamp family is when the group got its first family.
    let created_ns = [&failure_stamp, &push_stamp]
        .iter()
        .find_map(|s| s.zero_since)
        .or(earliest)
        .unwrap_or(0);
    let differences = [
        (PUSH_TIME, &push_stamp, &push),
        (PUSH_FAILURE_TIME, &failure_stamp, &failure),
    ]
    .into_iter()
    .filter_map(|(name, stamp, stored)| {
        difference(key, name, stamp.ns, created_ns, stored.as_ref())
    })
    .collect();
    Ok(ImportedGroup {
        key: key.clone(),
        families,
        last_push_ns: push_stamp.ns,
        last_failure_ns: failure_stamp.ns,
        created_ns,
        samples: samples
            .map(|s| (s.count(), s.finish()))
            .map(|(n, s)| (s, n)),
        differences,
    })
}

/// What one of the original's timestamp families says.
struct Stamp {
    /// The time it holds in Unix ns, 0 for never.
    ns: i64,
    /// For a value of 0: the family's own time.
    zero_since: Option<i64>,
}

impl Stamp {
    /// Reads the value of a gauge with one metric: 0 is never, anything else is "set at the
    /// family's time" (the original's value is that time in seconds). A family of another
    /// shape is read the same way from the family's time; [`difference`] reports it.
    fn read(stored: Option<&(MetricFamily, i64)>) -> Stamp {
        let Some((family, time_ns)) = stored else {
            return Stamp {
                ns: 0,
                zero_since: None,
            };
        };
        let value = match (family.r#type(), family.metric.as_slice()) {
            (MetricType::Gauge, [metric]) => metric.gauge.as_ref().and_then(|g| g.value),
            _ => None,
        };
        if value == Some(0.0) || *time_ns <= 0 {
            Stamp {
                ns: 0,
                zero_since: (*time_ns > 0).then_some(*time_ns),
            }
        } else {
            Stamp {
                ns: *time_ns,
                zero_since: None,
            }
        }
    }
}

/// How the gateway's `name` family for the group (value `value_ns`, created `created_ns`)
/// differs from the original's `stored`, if it does.
fn difference(
    key: &GroupingKey,
    name: &str,
    value_ns: i64,
    created_ns: i64,
    stored: Option<&(MetricFamily, i64)>,
) -> Option<String> {
    let recorded_ns = if value_ns > 0 { value_ns } else { created_ns };
    let ours = timestamp_family(name, value_ns, key, recorded_ns);
    let served = format!(
        "serves {} (time {})",
        String::from_utf8_lossy(&ours.text).trim_end(),
        rfc3339(recorded_ns)
    );
    let group = key.canonical();
    let Some((family, time_ns)) = stored else {
        return Some(format!(
            "group {group}: the file has no {name}; this gateway {served}"
        ));
    };
    let mut theirs = family.clone();
    sanitize(&mut theirs, key);
    // Compared as bytes: NaN is not equal to itself.
    if theirs.encode_to_vec() == ours.decode().encode_to_vec() && *time_ns == recorded_ns {
        return None;
    }
    let rendered = FamilyData::new(&theirs, *time_ns);
    Some(format!(
        "group {group}: the original served {} (type {}, time {}); this gateway sets {name} \
         itself and {served}",
        String::from_utf8_lossy(&rendered.text).trim_end(),
        theirs.r#type().upstream_name(),
        rfc3339(*time_ns)
    ))
}

fn rfc3339(ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{ns} ns"))
}

/// The group as the cache holds it (with a made-up row id), for the consistency check.
fn cached_group(id: i64, group: &ImportedGroup) -> Group {
    let mut families: BTreeMap<String, Arc<FamilyData>> = group
        .families
        .iter()
        .map(|f| (f.name.clone(), f.clone()))
        .collect();
    let recorded = |ns: i64| if ns > 0 { ns } else { group.created_ns };
    for (name, ns) in [
        (PUSH_TIME, group.last_push_ns),
        (PUSH_FAILURE_TIME, group.last_failure_ns),
    ] {
        families.insert(
            name.to_string(),
            Arc::new(timestamp_family(name, ns, &group.key, recorded(ns))),
        );
    }
    Group {
        id,
        key: group.key.clone(),
        key_bytes: group.key.upstream_key().into(),
        families,
        last_push_ns: group.last_push_ns,
        last_failure_ns: group.last_failure_ns,
        created_ns: group.created_ns,
        expires_ns: 0,
    }
}

/// Labels that form no grouping key, written as one would (`{instance="a"}`).
fn describe_labels(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={}", quote(value)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// Labels that are not all UTF-8, written as Go quotes bytes (`{job="\xff"}`).
fn describe_raw_labels(labels: &[(Vec<u8>, Vec<u8>)]) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| {
            let name = match std::str::from_utf8(name) {
                Ok(name) => name.to_string(),
                Err(_) => quote_bytes(name),
            };
            format!("{name}={}", quote_bytes(value))
        })
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// The `@base64` path below `/metrics` that names these labels in a DELETE to the original,
/// as [`GroupingKey::to_base64_path`] writes it; none without a job or with a name that is not
/// a legacy label name.
fn raw_delete_path(labels: &[(Vec<u8>, Vec<u8>)]) -> Option<String> {
    use base64::Engine as _;
    let engine = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let job = labels.iter().find(|(n, _)| n == b"job")?;
    let mut path = format!("/job@base64/{}", engine.encode(&job.1));
    for (name, value) in labels.iter().filter(|(n, _)| n != b"job") {
        let name = std::str::from_utf8(name)
            .ok()
            .filter(|n| is_legacy_label_name(n))?;
        path.push_str(&format!("/{name}@base64/{}=", engine.encode(value)));
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::read_snapshot;
    use crate::proto::{Counter, Gauge, LabelPair, Metric};

    const GROUPS: &[u8] = include_bytes!("../../tests/fixtures/upstream-1.5.1/groups.bak");

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn key(pairs: &[(&str, &str)]) -> GroupingKey {
        GroupingKey::from_labels(labels(pairs)).unwrap()
    }

    /// A family as the original stores it: sanitised for `pairs`, one metric.
    fn family(
        name: &str,
        pairs: &[(&str, &str)],
        mtype: MetricType,
        value: f64,
        help: Option<&str>,
    ) -> MetricFamily {
        let mut metric = Metric::default();
        if mtype == MetricType::Counter {
            metric.counter = Some(Box::new(Counter {
                value: Some(value),
                ..Default::default()
            }));
        } else {
            metric.gauge = Some(Gauge { value: Some(value) });
        }
        let mut family = MetricFamily {
            name: Some(name.into()),
            help: help.map(str::to_string),
            r#type: Some(mtype as i32),
            metric: vec![metric],
            unit: None,
        };
        sanitize(&mut family, &key(pairs));
        family
    }

    /// The original's timestamp family `name` for a group, value `ns` (0: never).
    fn stamp(name: &str, pairs: &[(&str, &str)], ns: i64) -> MetricFamily {
        timestamp_family(name, ns, &key(pairs), 1).decode()
    }

    /// A group as the original leaves it after a successful push at `at` (first push at
    /// `created`): `families` plus both timestamp families.
    fn pushed(
        pairs: &[(&str, &str)],
        families: Vec<MetricFamily>,
        created: i64,
        at: i64,
    ) -> UpstreamGroup {
        let mut all: Vec<(MetricFamily, i64)> = families.into_iter().map(|f| (f, at)).collect();
        all.push((stamp(PUSH_TIME, pairs, at), at));
        all.push((stamp(PUSH_FAILURE_TIME, pairs, 0), created));
        UpstreamGroup {
            labels: labels(pairs),
            families: all,
        }
    }

    #[test]
    fn the_fixtures_groups_convert_with_their_times_and_no_difference() {
        let groups = read_snapshot(GROUPS).unwrap();
        let stored: Vec<UpstreamGroup> = groups.clone();
        let conversion = convert(groups, true).unwrap();
        assert_eq!(conversion.differences, Vec::<String>::new());
        assert_eq!(conversion.groups.len(), 7);
        for (group, original) in conversion.groups.iter().zip(&stored) {
            let time = |name: &str| {
                original
                    .families
                    .iter()
                    .find(|(f, _)| f.name() == name)
                    .unwrap()
                    .1
            };
            let pushed: Vec<_> = original
                .families
                .iter()
                .filter(|(f, _)| ![PUSH_TIME, PUSH_FAILURE_TIME].contains(&f.name()))
                .collect();
            assert_eq!(group.families.len(), pushed.len(), "{}", group.key);
            for (ours, (theirs, at)) in group.families.iter().zip(pushed) {
                assert_eq!(ours.pushed_ns, *at);
                let mut theirs = theirs.clone();
                sanitize(&mut theirs, &group.key);
                assert_eq!(
                    ours.decode().encode_to_vec(),
                    theirs.encode_to_vec(),
                    "sanitising is idempotent"
                );
            }
            match group.key.job() {
                "failed_new" => {
                    // Created by a rejected push: never pushed, failed when created.
                    assert_eq!(group.last_push_ns, 0);
                    assert_eq!(group.last_failure_ns, time(PUSH_FAILURE_TIME));
                    assert_eq!(group.created_ns, time(PUSH_TIME));
                    assert!(group.samples.as_ref().is_some_and(|(_, n)| *n == 0));
                }
                "failing" => {
                    assert_eq!(group.last_push_ns, time(PUSH_TIME));
                    assert_eq!(group.last_failure_ns, time(PUSH_FAILURE_TIME));
                    assert!(group.last_failure_ns > group.last_push_ns);
                    assert!(group.created_ns <= group.last_push_ns);
                }
                _ => {
                    assert_eq!(group.last_push_ns, time(PUSH_TIME));
                    assert_eq!(group.last_failure_ns, 0);
                    assert_eq!(group.created_ns, time(PUSH_FAILURE_TIME));
                }
            }
        }
        let all_types = conversion
            .groups
            .iter()
            .find(|g| g.key.job() == "all_types")
            .unwrap();
        let (json, count) = all_types.samples.as_ref().unwrap();
        assert!(json.contains(r#""m":"h_bucket""#), "{json}");
        assert_eq!(*count, 16, "{json}");
    }

    #[test]
    fn a_merged_group_keeps_each_familys_own_time() {
        let conversion = convert(read_snapshot(GROUPS).unwrap(), false).unwrap();
        let merge = conversion
            .groups
            .iter()
            .find(|g| g.key.job() == "merge")
            .unwrap();
        let time = |name: &str| {
            merge
                .families
                .iter()
                .find(|f| f.name == name)
                .unwrap()
                .pushed_ns
        };
        assert!(
            time("a") < time("b"),
            "a was pushed by the PUT, b by the POST"
        );
        assert_eq!(time("b"), time("c"));
        assert_eq!(merge.last_push_ns, time("b"));
        assert_eq!(merge.created_ns, time("a"));
        assert!(merge.samples.is_none(), "no values asked for");
    }

    #[test]
    fn a_timestamp_family_pushed_by_a_client_is_reported_as_a_difference() {
        let pairs = [("job", "x")];
        let mut group = pushed(&pairs, vec![], 10, 2_000_000_000);
        // The original stores a pushed push_failure_time_seconds into an existing group.
        group.families[1] = (
            family(
                PUSH_FAILURE_TIME,
                &pairs,
                MetricType::Gauge,
                5.0,
                Some("mine"),
            ),
            3_000_000_000,
        );
        let conversion = convert(vec![group], false).unwrap();
        let g = &conversion.groups[0];
        assert_eq!(
            (g.last_push_ns, g.last_failure_ns),
            (2_000_000_000, 3_000_000_000)
        );
        assert_eq!(
            conversion.differences,
            ["group {job=\"x\"}: the original served \
                 push_failure_time_seconds{instance=\"\",job=\"x\"} 5 (type GAUGE, time \
                 1970-01-01T00:00:03Z); this gateway sets push_failure_time_seconds itself and \
                 serves push_failure_time_seconds{instance=\"\",job=\"x\"} 3 (time \
                 1970-01-01T00:00:03Z)"]
        );
    }

    #[test]
    fn a_missing_failure_family_is_served_as_0_and_reported() {
        let pairs = [("job", "old")];
        let mut group = pushed(
            &pairs,
            vec![family("up", &pairs, MetricType::Gauge, 1.0, None)],
            7,
            9,
        );
        group.families.pop();
        let conversion = convert(vec![group], false).unwrap();
        let g = &conversion.groups[0];
        assert_eq!((g.last_push_ns, g.last_failure_ns, g.created_ns), (9, 0, 9));
        assert_eq!(conversion.differences.len(), 1);
        assert!(
            conversion.differences[0].starts_with(
                "group {job=\"old\"}: the file has no push_failure_time_seconds; this gateway \
                 serves push_failure_time_seconds{instance=\"\",job=\"old\"} 0"
            ),
            "{:?}",
            conversion.differences
        );
    }

    #[test]
    fn groups_that_cannot_be_served_are_all_named_and_nothing_is_converted() {
        let a = [("job", "a")];
        let b = [("job", "b")];
        let c = [("job", "c")];
        let groups = vec![
            // The same name as in {job="a"}, with another type. Groups are checked in the
            // order of their labels, whatever the file's order: this one is the later.
            pushed(
                &b,
                vec![family("m", &b, MetricType::Gauge, 1.0, None)],
                1,
                2,
            ),
            pushed(
                &a,
                vec![family("m", &a, MetricType::Counter, 1.0, None)],
                1,
                2,
            ),
            UpstreamGroup {
                labels: labels(&[("instance", "i")]),
                families: vec![],
            },
            // A label name upstream's gatherer refuses.
            pushed(
                &c,
                vec![{
                    let mut f = family("n", &c, MetricType::Gauge, 1.0, None);
                    f.metric[0].label.push(LabelPair::new("__x", "1"));
                    f
                }],
                1,
                2,
            ),
        ];
        let refused = convert(groups, false).unwrap_err();
        let shown: Vec<String> = refused.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert_eq!(shown[0], "group {instance=\"i\"}: job name is required");
        assert!(
            shown[1].starts_with(
                "group {job=\"b\"} (deleted from the original by DELETE \
                 /metrics/job@base64/Yg): it is inconsistent with the groups before it: \
                 collected metric \"m\" "
            ) && shown[1].contains("is not a COUNTER"),
            "{}",
            shown[1]
        );
        assert!(
            shown[2].starts_with(
                "group {job=\"c\"} (deleted from the original by DELETE /metrics/job@base64/Yw): \
                 collected metric \"n\" "
            ) && shown[2].contains("has a label with an invalid name: __x"),
            "{}",
            shown[2]
        );
    }

    #[test]
    fn two_groups_exposing_the_same_timestamp_series_are_refused() {
        // Upstream's store-poisoning case: {job="j"} and {instance="",job="j"}.
        let groups = vec![
            pushed(&[("instance", ""), ("job", "j")], vec![], 1, 2),
            pushed(&[("job", "j")], vec![], 1, 2),
        ];
        let refused = convert(groups, false).unwrap_err();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].labels, "{job=\"j\"}");
        assert!(
            refused[0]
                .reason
                .contains("was collected before with the same name and label values"),
            "{}",
            refused[0].reason
        );
    }
}
