//! The store as a batch of changes leaves it so far, without touching the cache: the groups
//! the batch has changed (or deleted, or wiped), laid over the cache. Each change of a batch is
//! planned and checked against this view, so it sees the changes ahead of it in the same
//! transaction exactly as if they had been committed one by one. After COMMIT the overlay is
//! applied to the cache in one step ([`Overlay::apply_to`]); a failed COMMIT drops it.
//!
//! It holds only what the batch changed (its groups share their families with the prepared
//! pushes through `Arc`s), so its size follows the batch, not the store; a small by-name index
//! keeps the changed groups' family types.

use std::collections::{BTreeMap, HashMap};

use crate::cache::{key_shape, Cache, Group, GroupKeyBytes};
use crate::consistency::StoreView;
use crate::family::FamilyData;
use crate::proto::MetricType;

/// The groups changed by the batch so far.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    /// Each changed group as it is now (`None`: deleted).
    groups: HashMap<GroupKeyBytes, Option<Group>>,
    /// A wipe in the batch: none of the cache's groups exist any more.
    wiped: bool,
    /// The changed groups' families by metric name, as the cache indexes its own.
    names: BTreeMap<String, NameIndex>,
    /// Groups and series the batch added (negative: removed), relative to the cache, or to
    /// nothing after a wipe.
    group_delta: isize,
    series_delta: isize,
}

/// The changed groups' families of one metric name.
#[derive(Debug, Default)]
struct NameIndex {
    /// Their type, by group.
    groups: BTreeMap<GroupKeyBytes, MetricType>,
}

impl Overlay {
    /// Whether the batch has changed anything yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.groups.is_empty() && !self.wiped
    }

    /// The store as the batch leaves it so far: `cache` under this overlay.
    pub(crate) fn view<'a>(&'a self, cache: &'a Cache) -> View<'a> {
        View {
            cache,
            overlay: self,
        }
    }

    /// Puts `group` in place of the group with its key (if any).
    pub(crate) fn put(&mut self, cache: &Cache, group: Group) {
        let key = group.key_bytes.clone();
        let (groups, series) = self.take_current(cache, &key);
        for family in group.families.values() {
            let index = self.names.entry(family.name.clone()).or_default();
            index.groups.insert(key.clone(), family.mtype);
        }
        self.group_delta += 1 - groups;
        self.series_delta += group.series() as isize - series;
        self.groups.insert(key, Some(group));
    }

    /// Removes the group with this key (if any).
    pub(crate) fn remove(&mut self, cache: &Cache, key: &GroupKeyBytes) {
        let (groups, series) = self.take_current(cache, key);
        self.group_delta -= groups;
        self.series_delta -= series;
        self.groups.insert(key.clone(), None);
    }

    /// Removes every group.
    pub(crate) fn wipe(&mut self) {
        *self = Overlay {
            wiped: true,
            ..Overlay::default()
        };
    }

    /// Hides the current state of `key` (from the cache or an earlier change of the batch)
    /// and unindexes it; returns how many groups (0 or 1) and series it had.
    fn take_current(&mut self, cache: &Cache, key: &GroupKeyBytes) -> (isize, isize) {
        let previous = match self.groups.get_mut(key) {
            Some(changed) => changed.take(),
            None if self.wiped => None,
            None => {
                let stored = cache.group(key);
                return stored.map_or((0, 0), |g| (1, g.series() as isize));
            }
        };
        let Some(previous) = previous else {
            return (0, 0);
        };
        for family in previous.families.values() {
            let Some(index) = self.names.get_mut(&family.name) else {
                continue;
            };
            index.groups.remove(key);
            if index.groups.is_empty() {
                self.names.remove(&family.name);
            }
        }
        (1, previous.series() as isize)
    }

    /// The earliest deadline among the groups the batch put, for waking the expiry scheduler.
    pub(crate) fn earliest_deadline(&self) -> Option<i64> {
        self.groups
            .values()
            .flatten()
            .map(|g| g.expires_ns)
            .filter(|&ns| ns > 0)
            .min()
    }

    /// Makes `cache` what the batch committed: every changed group is taken out first and
    /// then the new ones put in, so that the cache's by-name index only ever sees families
    /// whose types agree (a later change of the batch was checked against the earlier ones).
    pub(crate) fn apply_to(self, cache: &mut Cache) {
        if self.wiped {
            *cache = Cache::new();
        }
        for key in self.groups.keys() {
            cache.remove_group(key);
        }
        for group in self.groups.into_values().flatten() {
            cache.put_group(group);
        }
    }
}

/// The cache under a batch's overlay: what a change of the batch is planned and checked
/// against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    cache: &'a Cache,
    overlay: &'a Overlay,
}

impl<'a> View<'a> {
    /// The group with this key, if any.
    pub(crate) fn group(&self, key_bytes: &[u8]) -> Option<&'a Group> {
        match self.overlay.groups.get(key_bytes) {
            Some(changed) => changed.as_ref(),
            None if self.overlay.wiped => None,
            None => self.cache.group(key_bytes),
        }
    }

    /// Number of groups.
    pub(crate) fn group_count(&self) -> usize {
        (self.base_groups() as isize + self.overlay.group_delta).max(0) as usize
    }

    /// Number of series over all groups.
    pub(crate) fn series_count(&self) -> usize {
        let base = if self.overlay.wiped {
            0
        } else {
            self.cache.series_count()
        };
        (base as isize + self.overlay.series_delta).max(0) as usize
    }

    /// The groups whose deadline is at or before `now_ns`: the cache's that the batch has not
    /// changed, and the batch's own.
    pub(crate) fn due(&self, now_ns: i64) -> Vec<&'a Group> {
        let cache = self.cache;
        let cached = (!self.overlay.wiped)
            .then(|| cache.due(now_ns))
            .into_iter()
            .flatten()
            .filter(|k| self.visible(k))
            .filter_map(|k| cache.group(k));
        let batch = self
            .overlay
            .groups
            .values()
            .flatten()
            .filter(|g| g.expires_ns > 0 && g.expires_ns <= now_ns);
        cached.chain(batch).collect()
    }

    /// Every group, in no particular order.
    pub(crate) fn groups(self) -> impl Iterator<Item = &'a Group> {
        let cached = (!self.overlay.wiped)
            .then(|| self.cache.groups())
            .into_iter()
            .flatten()
            .filter(move |g| self.visible(&g.key_bytes));
        cached.chain(self.overlay.groups.values().flatten())
    }

    fn base_groups(&self) -> usize {
        if self.overlay.wiped {
            0
        } else {
            self.cache.group_count()
        }
    }

    /// Whether the cache's group with this key is still there under the overlay.
    fn visible(&self, key: &[u8]) -> bool {
        !self.overlay.wiped && !self.overlay.groups.contains_key(key)
    }
}

impl StoreView for View<'_> {
    fn type_elsewhere(&self, name: &str, key_bytes: &[u8]) -> Option<MetricType> {
        if let Some(index) = self.overlay.names.get(name) {
            if let Some((_, mtype)) = index.groups.iter().find(|(k, _)| &k[..] != key_bytes) {
                return Some(*mtype);
            }
        }
        // The cache's families of one name all have its type; any one still visible counts.
        let entry = self.cache.name(name)?;
        let elsewhere = entry
            .groups
            .keys()
            .any(|k| &k[..] != key_bytes && self.visible(k));
        elsewhere.then_some(entry.mtype)
    }

    fn key_shapes(&self, name: &str) -> Vec<Box<[String]>> {
        let mut shapes = if self.overlay.wiped {
            Vec::new()
        } else {
            self.cache.key_shapes(name)
        };
        if let Some(index) = self.overlay.names.get(name) {
            for key in index.groups.keys() {
                if let Some(Some(group)) = self.overlay.groups.get(key) {
                    let shape: Box<[String]> = key_shape(group).into();
                    if !shapes.contains(&shape) {
                        shapes.push(shape);
                    }
                }
            }
        }
        shapes
    }

    fn family(&self, name: &str, key_bytes: &[u8]) -> Option<&FamilyData> {
        self.group(key_bytes)?.families.get(name).map(|f| &**f)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::consistency::check_push;
    use crate::family::{sanitize, FamilyData, PUSH_TIME};
    use crate::gateway::plan::{insert_timestamps, GroupState};
    use crate::grouping_key::GroupingKey;
    use crate::proto::{Gauge, LabelPair, Metric, MetricFamily, Untyped};

    fn key(job: &str) -> GroupingKey {
        GroupingKey::from_labels([("job".to_string(), job.to_string())]).unwrap()
    }

    /// Group `job` with row id `id` and one family `name` of `mtype` with series `s="v"`.
    fn group(job: &str, id: i64, name: &str, mtype: MetricType, v: &str) -> Group {
        keyed(key(job), id, name, mtype, v)
    }

    /// Like [`group`], for the group with `key`.
    fn keyed(key: GroupingKey, id: i64, name: &str, mtype: MetricType, v: &str) -> Group {
        let mut metric = Metric {
            label: vec![LabelPair::new("s", v)],
            ..Default::default()
        };
        match mtype {
            MetricType::Gauge => metric.gauge = Some(Gauge { value: Some(1.0) }),
            _ => metric.untyped = Some(Untyped { value: Some(1.0) }),
        }
        let mut family = MetricFamily {
            name: Some(name.into()),
            r#type: Some(mtype as i32),
            metric: vec![metric],
            ..Default::default()
        };
        sanitize(&mut family, &key);
        let mut families =
            BTreeMap::from([(name.to_string(), Arc::new(FamilyData::new(&family, 1)))]);
        insert_timestamps(&mut families, &key, 1, 0, 1);
        GroupState {
            families,
            last_push_ns: 1,
            last_failure_ns: 0,
            created_ns: 1,
            expires_ns: 0,
        }
        .into_group(id, &key)
    }

    fn kb(job: &str) -> GroupKeyBytes {
        key(job).upstream_key().into()
    }

    /// The errors of checking `group` (its families all changed) against `view`.
    fn check(view: &View<'_>, group: &Group) -> Vec<String> {
        let changed: Vec<&str> = group.families.keys().map(String::as_str).collect();
        check_push(view, &group.key_bytes, &group.families, &changed)
            .shown()
            .to_vec()
    }

    #[test]
    fn a_change_sees_the_groups_changed_before_it_in_the_batch() {
        let cache = Cache::new();
        let mut overlay = Overlay::default();
        overlay.put(&cache, group("a", 1, "m", MetricType::Gauge, "x"));
        let view = overlay.view(&cache);
        assert_eq!(view.group(&kb("a")).map(|g| g.id), Some(1));
        assert_eq!((view.group_count(), view.series_count()), (1, 3));
        // Another group may not push `m` as another type, nor the same series.
        let errors = check(&view, &group("b", 2, "m", MetricType::Untyped, "y"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].ends_with("is not a GAUGE"), "{errors:?}");
        // {job="a",instance=""} exposes a's series m{instance="",job="a",s="x"} too.
        let empty_instance = GroupingKey::from_labels([
            ("job".to_string(), "a".to_string()),
            ("instance".to_string(), String::new()),
        ])
        .unwrap();
        let same_series = keyed(empty_instance, 2, "m", MetricType::Gauge, "x");
        let errors = check(&view, &same_series);
        assert!(
            errors[0].ends_with("was collected before with the same name and label values"),
            "{errors:?}"
        );
        assert!(check(&view, &group("b", 2, "m", MetricType::Gauge, "y")).is_empty());
    }

    #[test]
    fn a_cached_group_replaced_by_the_batch_no_longer_counts() {
        let mut cache = Cache::new();
        cache.put_group(group("a", 1, "m", MetricType::Gauge, "x"));
        let mut overlay = Overlay::default();
        // a now pushes `n` instead of `m`: another group may then push `m` as untyped.
        overlay.put(&cache, group("a", 1, "n", MetricType::Gauge, "x"));
        let view = overlay.view(&cache);
        assert!(check(&view, &group("b", 2, "m", MetricType::Untyped, "y")).is_empty());
        assert_eq!((view.group_count(), view.series_count()), (1, 3));
        // ... but not `n` as untyped.
        assert!(!check(&view, &group("b", 2, "n", MetricType::Untyped, "y")).is_empty());
    }

    #[test]
    fn deleted_and_wiped_groups_are_gone_for_the_rest_of_the_batch() {
        let mut cache = Cache::new();
        cache.put_group(group("a", 1, "m", MetricType::Gauge, "x"));
        cache.put_group(group("b", 2, "m", MetricType::Gauge, "y"));
        let mut overlay = Overlay::default();
        overlay.remove(&cache, &kb("a"));
        let view = overlay.view(&cache);
        assert!(view.group(&kb("a")).is_none());
        assert_eq!((view.group_count(), view.series_count()), (1, 3));
        // b still has `m` as a gauge.
        assert!(!check(&view, &group("c", 3, "m", MetricType::Untyped, "z")).is_empty());

        overlay.put(&cache, group("c", 3, "k", MetricType::Gauge, "z"));
        overlay.wipe();
        let view = overlay.view(&cache);
        assert!(view.group(&kb("b")).is_none() && view.group(&kb("c")).is_none());
        assert_eq!((view.group_count(), view.series_count()), (0, 0));
        assert!(check(&view, &group("c", 4, "m", MetricType::Untyped, "z")).is_empty());
        assert!(view.family(PUSH_TIME, &kb("b")).is_none());
    }

    #[test]
    fn a_group_changed_twice_is_indexed_as_changed_last() {
        let cache = Cache::new();
        let mut overlay = Overlay::default();
        overlay.put(&cache, group("a", 1, "m", MetricType::Gauge, "x"));
        overlay.put(&cache, group("a", 1, "n", MetricType::Gauge, "x"));
        let view = overlay.view(&cache);
        assert_eq!((view.group_count(), view.series_count()), (1, 3));
        assert!(check(&view, &group("b", 2, "m", MetricType::Untyped, "y")).is_empty());
        overlay.remove(&cache, &kb("a"));
        let view = overlay.view(&cache);
        assert_eq!((view.group_count(), view.series_count()), (0, 0));
        assert!(check(&view, &group("b", 2, "n", MetricType::Untyped, "y")).is_empty());
    }

    #[test]
    fn applying_the_batch_leaves_the_cache_as_the_changes_one_by_one_would() {
        // a gives up `m` (gauge), then b pushes `m` as untyped, then a changes again: applying
        // final states in any order must not leave `m` indexed as a gauge.
        let mut cache = Cache::new();
        cache.put_group(group("a", 1, "m", MetricType::Gauge, "x"));
        cache.put_group(group("d", 4, "k", MetricType::Gauge, "x"));
        let mut overlay = Overlay::default();
        overlay.put(&cache, group("a", 1, "n", MetricType::Gauge, "x"));
        overlay.put(&cache, group("b", 2, "m", MetricType::Untyped, "y"));
        overlay.put(&cache, group("a", 1, "p", MetricType::Gauge, "x"));
        overlay.remove(&cache, &kb("d"));
        overlay.remove(&cache, &kb("missing"));
        let (groups, series) = {
            let view = overlay.view(&cache);
            (view.group_count(), view.series_count())
        };
        overlay.apply_to(&mut cache);
        assert_eq!(cache.name("m").unwrap().mtype, MetricType::Untyped);
        assert!(cache.name("n").is_none() && cache.name("k").is_none());
        assert_eq!(
            (cache.group_count(), cache.series_count()),
            (groups, series)
        );
        assert_eq!((groups, series), (2, 6));
    }

    #[test]
    fn a_wipe_in_the_batch_empties_the_cache_before_the_later_changes() {
        let mut cache = Cache::new();
        cache.put_group(group("a", 1, "m", MetricType::Gauge, "x"));
        let mut overlay = Overlay::default();
        overlay.wipe();
        overlay.put(&cache, group("b", 2, "m", MetricType::Untyped, "y"));
        assert!(!overlay.is_empty());
        overlay.apply_to(&mut cache);
        assert!(cache.group(&kb("a")).is_none());
        assert_eq!(cache.name("m").unwrap().mtype, MetricType::Untyped);
        assert_eq!(cache.group_count(), 1);
    }
}
