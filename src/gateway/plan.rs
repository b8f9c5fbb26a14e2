//! What a change does to one group, decided without the database: given the group as stored
//! (from the cache), the method and the prepared families, the plan says which row to write,
//! which family rows to replace, and what the group looks like afterwards. The gateway checks
//! the plan against the cache and applies it in one transaction ([`super::Gateway`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cache::Group;
use crate::consistency::Problems;
use crate::family::{timestamp_family, FamilyData, PUSH_FAILURE_TIME, PUSH_TIME};
use crate::grouping_key::GroupingKey;
use crate::limits::check_series_total;

/// PUT replaces the whole group; POST replaces only the families it pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushMethod {
    Replace,
    Merge,
}

/// The group's row in `metric_groups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Row {
    /// The group is not stored yet: insert its row.
    New,
    /// The group's row, to update.
    Existing(i64),
}

/// A group as it is after a change: its families (the two timestamp families included) and
/// its times. With its row id it becomes the cache's [`Group`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupState {
    pub(crate) families: BTreeMap<String, Arc<FamilyData>>,
    /// Unix ns of the last successful change, 0 for never.
    pub(crate) last_push_ns: i64,
    /// Unix ns of the last failed change, 0 for never.
    pub(crate) last_failure_ns: i64,
    pub(crate) created_ns: i64,
    /// Unix ns when the group expires, 0 for never.
    pub(crate) expires_ns: i64,
}

impl GroupState {
    /// The cached group this state is, once its row has the id `id`.
    pub(crate) fn into_group(self, id: i64, key: &GroupingKey) -> Group {
        Group {
            id,
            key: key.clone(),
            key_bytes: key.upstream_key().into(),
            families: self.families,
            last_push_ns: self.last_push_ns,
            last_failure_ns: self.last_failure_ns,
            created_ns: self.created_ns,
            expires_ns: self.expires_ns,
        }
    }
}

/// What a successful push changes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PushPlan {
    pub(crate) row: Row,
    /// The family rows to delete: a PUT of a stored group deletes those it does not push
    /// again.
    pub(crate) removed: Vec<String>,
    /// The pushed families, each written as its row, and whether that row exists already
    /// (to be replaced) or not (to be inserted).
    pub(crate) written: Vec<(Arc<FamilyData>, bool)>,
    /// The names whose exposition the push changes, for the consistency check: the pushed
    /// families and the group's two timestamp families.
    pub(crate) changed: Vec<String>,
    pub(crate) after: GroupState,
}

/// Plans a push of `prepared` (sanitised families) to the group `key`, stored as `stored`;
/// `push_time` is the group's `push_time_seconds` family at `now_ns`. A successful push sets
/// the group's deadline to `expires_ns` (0: never), whatever it was.
pub(crate) fn plan_push(
    key: &GroupingKey,
    stored: Option<&Group>,
    method: PushMethod,
    prepared: Vec<Arc<FamilyData>>,
    push_time: Arc<FamilyData>,
    now_ns: i64,
    expires_ns: i64,
) -> PushPlan {
    let stored_row = |name: &str| {
        !matches!(name, PUSH_TIME | PUSH_FAILURE_TIME)
            && stored.is_some_and(|g| g.families.contains_key(name))
    };
    let mut families = match (stored, method) {
        (Some(g), PushMethod::Merge) => g.families.clone(),
        _ => BTreeMap::new(),
    };
    for family in &prepared {
        families.insert(family.name.clone(), family.clone());
    }
    let removed = match (stored, method) {
        (Some(g), PushMethod::Replace) => g
            .families
            .keys()
            .filter(|name| stored_row(name) && !families.contains_key(*name))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    let last_failure_ns = stored.map_or(0, |g| g.last_failure_ns);
    let created_ns = stored.map_or(now_ns, |g| g.created_ns);
    families.insert(PUSH_TIME.to_string(), push_time);
    // The failure time and the creation time stay, and so does the family showing them.
    let failure_time = stored
        .and_then(|g| g.families.get(PUSH_FAILURE_TIME).cloned())
        .unwrap_or_else(|| {
            let recorded = if last_failure_ns > 0 {
                last_failure_ns
            } else {
                created_ns
            };
            Arc::new(timestamp_family(
                PUSH_FAILURE_TIME,
                last_failure_ns,
                key,
                recorded,
            ))
        });
    families.insert(PUSH_FAILURE_TIME.to_string(), failure_time);
    let mut changed: Vec<String> = prepared.iter().map(|f| f.name.clone()).collect();
    changed.extend([PUSH_TIME.to_string(), PUSH_FAILURE_TIME.to_string()]);
    PushPlan {
        row: stored.map_or(Row::New, |g| Row::Existing(g.id)),
        removed,
        written: prepared
            .into_iter()
            .map(|f| {
                let exists = stored_row(&f.name);
                (f, exists)
            })
            .collect(),
        changed,
        after: GroupState {
            families,
            last_push_ns: now_ns,
            last_failure_ns,
            created_ns,
            expires_ns,
        },
    }
}

/// What recording a failed push changes: the group's failure time, or (upstream creates the
/// group of a failed push) a new group that holds only its two timestamps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailurePlan {
    pub(crate) row: Row,
    pub(crate) after: GroupState,
}

/// Plans recording a failed push at `now_ns` for the group `key`, stored as `stored`. A
/// failure leaves a stored group's deadline alone (the group keeps the lifetime of its last
/// successful push); a group it creates gets `new_expires_ns` (0: never), the lifetime the
/// failed push asked for, so that it does not outlive what its pusher wanted.
pub(crate) fn plan_failure(
    key: &GroupingKey,
    stored: Option<&Group>,
    now_ns: i64,
    new_expires_ns: i64,
) -> FailurePlan {
    let (row, mut families, last_push_ns, created_ns, expires_ns) = match stored {
        Some(g) => (
            Row::Existing(g.id),
            g.families.clone(),
            g.last_push_ns,
            g.created_ns,
            g.expires_ns,
        ),
        None => (Row::New, BTreeMap::new(), 0, now_ns, new_expires_ns),
    };
    insert_timestamps(&mut families, key, last_push_ns, now_ns, created_ns);
    if let Some(g) = stored {
        keep_unchanged_timestamps(&mut families, &g.families);
    }
    FailurePlan {
        row,
        after: GroupState {
            families,
            last_push_ns,
            last_failure_ns: now_ns,
            created_ns,
            expires_ns,
        },
    }
}

/// Whether recording a failure as `plan` says would take the store past
/// `--push.max-series-total` (`max`) from `stored_series`: a failed push to a new group creates
/// it with its two timestamp series, as upstream does, unless that breaks the limit (then only
/// the history records the failure). One problem naming the limit, or none.
pub(crate) fn failure_over_series_total(
    plan: &FailurePlan,
    stored_series: usize,
    max: Option<usize>,
) -> Problems {
    let added = plan.after.families.values().map(|f| f.series()).sum();
    max.filter(|_| plan.row == Row::New)
        .and_then(|max| check_series_total(stored_series, 0, added, max).err())
        .into_iter()
        .collect()
}

/// Sets a group's `push_time_seconds` and `push_failure_time_seconds` families. Each family's
/// own time (shown as `time_stamp` by the API) is when its value was last set, or the group's
/// creation for a value that was never set.
pub(crate) fn insert_timestamps(
    families: &mut BTreeMap<String, Arc<FamilyData>>,
    key: &GroupingKey,
    last_push_ns: i64,
    last_failure_ns: i64,
    created_ns: i64,
) {
    let recorded = |ns: i64| if ns > 0 { ns } else { created_ns };
    for (name, value_ns) in [
        (PUSH_TIME, last_push_ns),
        (PUSH_FAILURE_TIME, last_failure_ns),
    ] {
        families.insert(
            name.to_string(),
            Arc::new(timestamp_family(name, value_ns, key, recorded(value_ns))),
        );
    }
}

/// Puts back the stored timestamp families whose value did not change, so that what is kept
/// by a family's identity (the gzip segments of `/metrics`) stays valid.
fn keep_unchanged_timestamps(
    families: &mut BTreeMap<String, Arc<FamilyData>>,
    stored: &BTreeMap<String, Arc<FamilyData>>,
) {
    for name in [PUSH_TIME, PUSH_FAILURE_TIME] {
        if let (Some(new), Some(old)) = (families.get_mut(name), stored.get(name)) {
            if new == old {
                *new = old.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::sanitize;
    use crate::proto::{Gauge, Metric, MetricFamily, MetricType};

    fn key() -> GroupingKey {
        GroupingKey::from_labels([("job".to_string(), "j".to_string())]).unwrap()
    }

    fn gauge(name: &str, value: f64, pushed_ns: i64) -> Arc<FamilyData> {
        let mut family = MetricFamily {
            name: Some(name.into()),
            r#type: Some(MetricType::Gauge as i32),
            metric: vec![Metric {
                gauge: Some(Gauge { value: Some(value) }),
                ..Default::default()
            }],
            ..Default::default()
        };
        sanitize(&mut family, &key());
        Arc::new(FamilyData::new(&family, pushed_ns))
    }

    /// A stored group with families `a` and `b`, pushed at 10, failed at 20, created at 5.
    fn stored() -> Group {
        let mut families = BTreeMap::new();
        for name in ["a", "b"] {
            families.insert(name.to_string(), gauge(name, 1.0, 10));
        }
        insert_timestamps(&mut families, &key(), 10, 20, 5);
        GroupState {
            families,
            last_push_ns: 10,
            last_failure_ns: 20,
            created_ns: 5,
            expires_ns: 0,
        }
        .into_group(7, &key())
    }

    fn push_time(now_ns: i64) -> Arc<FamilyData> {
        Arc::new(timestamp_family(PUSH_TIME, now_ns, &key(), now_ns))
    }

    fn names(state: &GroupState) -> Vec<&str> {
        state.families.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_push_to_a_new_group_inserts_its_row_with_the_pushed_families_and_timestamps() {
        let plan = plan_push(
            &key(),
            None,
            PushMethod::Replace,
            vec![gauge("a", 2.0, 30)],
            push_time(30),
            30,
            0,
        );
        assert_eq!(plan.row, Row::New);
        assert!(plan.removed.is_empty());
        assert_eq!(names(&plan.after), ["a", PUSH_FAILURE_TIME, PUSH_TIME]);
        assert_eq!(
            (
                plan.after.last_push_ns,
                plan.after.last_failure_ns,
                plan.after.created_ns
            ),
            (30, 0, 30)
        );
        assert_eq!(plan.changed, ["a", PUSH_TIME, PUSH_FAILURE_TIME]);
        assert_eq!(plan.written.len(), 1);
    }

    #[test]
    fn post_merges_into_the_stored_families_and_keeps_the_failure_and_creation_times() {
        let stored = stored();
        let plan = plan_push(
            &key(),
            Some(&stored),
            PushMethod::Merge,
            vec![gauge("b", 2.0, 30), gauge("c", 3.0, 30)],
            push_time(30),
            30,
            0,
        );
        assert_eq!(plan.row, Row::Existing(7));
        assert!(plan.removed.is_empty());
        // b's row is there to be replaced, c's is new.
        let written: Vec<_> = plan
            .written
            .iter()
            .map(|(f, e)| (f.name.as_str(), *e))
            .collect();
        assert_eq!(written, [("b", true), ("c", false)]);
        assert_eq!(
            names(&plan.after),
            ["a", "b", "c", PUSH_FAILURE_TIME, PUSH_TIME]
        );
        assert_eq!(plan.after.families["a"], stored.families["a"]);
        assert_eq!(plan.after.families["b"].pushed_ns, 30);
        assert_eq!(
            (
                plan.after.last_push_ns,
                plan.after.last_failure_ns,
                plan.after.created_ns
            ),
            (30, 20, 5)
        );
    }

    #[test]
    fn put_replaces_every_family_of_a_stored_group() {
        let plan = plan_push(
            &key(),
            Some(&stored()),
            PushMethod::Replace,
            vec![gauge("c", 3.0, 30)],
            push_time(30),
            30,
            0,
        );
        assert_eq!(plan.row, Row::Existing(7));
        // Every stored family row goes (the timestamps are no rows).
        assert_eq!(plan.removed, ["a", "b"]);
        assert_eq!(names(&plan.after), ["c", PUSH_FAILURE_TIME, PUSH_TIME]);
    }

    #[test]
    fn a_push_shows_its_time_and_keeps_the_failure_family_as_recording_would_build_it() {
        let stored = stored();
        let plan = plan_push(
            &key(),
            Some(&stored),
            PushMethod::Replace,
            Vec::new(),
            push_time(30),
            30,
            0,
        );
        let mut expected = BTreeMap::new();
        insert_timestamps(&mut expected, &key(), 30, 20, 5);
        assert_eq!(plan.after.families, expected);
        let plan = plan_push(
            &key(),
            None,
            PushMethod::Merge,
            Vec::new(),
            push_time(30),
            30,
            0,
        );
        let mut expected = BTreeMap::new();
        insert_timestamps(&mut expected, &key(), 30, 0, 30);
        assert_eq!(plan.after.families, expected);
    }

    #[test]
    fn an_unchanged_timestamp_family_is_the_stored_one_itself() {
        let stored = stored();
        for method in [PushMethod::Replace, PushMethod::Merge] {
            let plan = plan_push(&key(), Some(&stored), method, vec![], push_time(30), 30, 0);
            let same = |name: &str| Arc::ptr_eq(&plan.after.families[name], &stored.families[name]);
            assert!(same(PUSH_FAILURE_TIME), "{method:?}");
            assert!(!same(PUSH_TIME), "{method:?}");
        }
        let plan = plan_failure(&key(), Some(&stored), 40, 0);
        assert!(Arc::ptr_eq(
            &plan.after.families[PUSH_TIME],
            &stored.families[PUSH_TIME]
        ));
    }

    #[test]
    fn a_failure_of_a_stored_group_changes_only_its_failure_time() {
        let stored = stored();
        let plan = plan_failure(&key(), Some(&stored), 40, 0);
        assert_eq!(plan.row, Row::Existing(7));
        assert_eq!(plan.after.families["a"], stored.families["a"]);
        assert_eq!(
            (
                plan.after.last_push_ns,
                plan.after.last_failure_ns,
                plan.after.created_ns
            ),
            (10, 40, 5)
        );
        assert_eq!(plan.after.families[PUSH_FAILURE_TIME].pushed_ns, 40);
        assert_eq!(plan.after.families[PUSH_TIME], stored.families[PUSH_TIME]);
    }

    #[test]
    fn a_failure_of_a_new_group_creates_it_with_only_its_timestamps() {
        let plan = plan_failure(&key(), None, 40, 0);
        assert_eq!(plan.row, Row::New);
        assert_eq!(names(&plan.after), [PUSH_FAILURE_TIME, PUSH_TIME]);
        assert_eq!(
            (
                plan.after.last_push_ns,
                plan.after.last_failure_ns,
                plan.after.created_ns
            ),
            (0, 40, 40)
        );
        // A value never set carries the group's creation as its time.
        assert_eq!(plan.after.families[PUSH_TIME].pushed_ns, 40);
    }

    #[test]
    fn a_push_sets_the_deadline_and_a_failure_keeps_the_last_successful_ones() {
        let mut stored = stored();
        stored.expires_ns = 500;
        for method in [PushMethod::Replace, PushMethod::Merge] {
            let plan = plan_push(&key(), Some(&stored), method, vec![], push_time(30), 30, 90);
            assert_eq!(plan.after.expires_ns, 90, "{method:?}");
            let plan = plan_push(&key(), Some(&stored), method, vec![], push_time(30), 30, 0);
            assert_eq!(plan.after.expires_ns, 0, "{method:?}: a push may opt out");
        }
        assert_eq!(
            plan_failure(&key(), Some(&stored), 40, 7).after.expires_ns,
            500
        );
        // A group a failure creates gets the failed push's lifetime.
        assert_eq!(plan_failure(&key(), None, 40, 7).after.expires_ns, 7);
    }

    #[test]
    fn a_failure_may_create_its_group_only_within_the_series_total() {
        let new = plan_failure(&key(), None, 40, 0);
        assert!(failure_over_series_total(&new, 8, Some(10)).is_empty());
        let over = failure_over_series_total(&new, 9, Some(10));
        assert_eq!(over.len(), 1);
        assert!(
            over.shown()[0].contains("--push.max-series-total"),
            "{over:?}"
        );
        assert!(failure_over_series_total(&new, 9, None).is_empty());
        // A stored group's failure adds no series.
        let stored = plan_failure(&key(), Some(&stored()), 40, 0);
        assert!(failure_over_series_total(&stored, 100, Some(10)).is_empty());
    }
}
