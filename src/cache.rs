//! The in-memory copy of the store that `/metrics`, the consistency check and the API read.
//!
//! Warmed from the database at start-up and changed only by [`crate::gateway`]'s writer
//! thread right after a COMMIT, a whole batch at once, so the cache sees changes in commit
//! order.
//! Families are indexed by metric name as well as by group, so that the consistency check of a
//! push costs time in proportion to the pushed group, not to the whole store. Series are not
//! indexed one by one (at 500k series such an index would be a fifth of the gateway's memory):
//! a series can only clash with a group whose grouping key it carries, so the check finds
//! those groups by the label names of the keys in use ([`NameEntry::key_shapes`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::family::FamilyData;
use crate::grouping_key::GroupingKey;
use crate::proto::MetricType;

/// Upstream's grouping-key bytes; ordering by them gives upstream's group order.
pub type GroupKeyBytes = Arc<[u8]>;

/// One metric group as cached.
#[derive(Debug, Clone)]
pub struct Group {
    /// Row id in `metric_groups`.
    pub id: i64,
    pub key: GroupingKey,
    pub key_bytes: GroupKeyBytes,
    /// Every family, `push_time_seconds` and `push_failure_time_seconds` included.
    pub families: BTreeMap<String, Arc<FamilyData>>,
    pub last_push_ns: i64,
    pub last_failure_ns: i64,
    pub created_ns: i64,
    /// When the group expires (Unix ns): its last successful push plus the lifetime that push
    /// asked for. 0 for never, the original's behaviour.
    pub expires_ns: i64,
}

impl Group {
    /// Upstream's `last_push_successful`: the last failure is not later than the last success.
    pub fn last_push_successful(&self) -> bool {
        self.last_failure_ns <= self.last_push_ns
    }

    /// Number of series over all families.
    pub fn series(&self) -> usize {
        self.families.values().map(|f| f.series()).sum()
    }
}

/// Every group's family of one metric name.
#[derive(Debug, Clone)]
pub struct NameEntry {
    /// The type every group's family of this name has (the consistency check keeps it so).
    pub mtype: MetricType,
    /// The families, in group order.
    pub groups: BTreeMap<GroupKeyBytes, Arc<FamilyData>>,
    /// The label names (sorted) of those groups' grouping keys, with the number of groups
    /// keyed by each: a series that has all the names of one, with its values, can only
    /// clash with the group of that key.
    pub key_shapes: HashMap<Box<[String]>, usize>,
}

/// All groups, by grouping key and by metric name.
#[derive(Debug, Default)]
pub struct Cache {
    groups: BTreeMap<GroupKeyBytes, Group>,
    names: BTreeMap<String, NameEntry>,
    series: usize,
    /// The groups that expire, by deadline: the expiry scheduler asks for the earliest.
    deadlines: BTreeSet<(i64, GroupKeyBytes)>,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache::default()
    }

    /// The group with this key, if any.
    pub fn group(&self, key_bytes: &[u8]) -> Option<&Group> {
        self.groups.get(key_bytes)
    }

    /// All groups in upstream's order.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Number of groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Number of series over all groups.
    pub fn series_count(&self) -> usize {
        self.series
    }

    /// The families of one metric name across groups.
    pub fn name(&self, name: &str) -> Option<&NameEntry> {
        self.names.get(name)
    }

    /// Every metric name with its families, in byte order of the name.
    pub fn names(&self) -> impl Iterator<Item = (&String, &NameEntry)> {
        self.names.iter()
    }

    /// Puts a group in place of the one with the same key (if any).
    pub fn put_group(&mut self, group: Group) {
        self.remove_group(&group.key_bytes);
        let shape = key_shape(&group);
        for family in group.families.values() {
            self.index_family(&group.key_bytes, &shape, family);
        }
        if group.expires_ns > 0 {
            self.deadlines
                .insert((group.expires_ns, group.key_bytes.clone()));
        }
        self.groups.insert(group.key_bytes.clone(), group);
    }

    /// The earliest deadline of an expiring group (Unix ns), if any group expires.
    pub fn next_deadline(&self) -> Option<i64> {
        self.deadlines.first().map(|(ns, _)| *ns)
    }

    /// The groups whose deadline is at or before `now_ns`, earliest first.
    pub fn due(&self, now_ns: i64) -> impl Iterator<Item = &GroupKeyBytes> {
        self.deadlines
            .iter()
            .take_while(move |(ns, _)| *ns <= now_ns)
            .map(|(_, key)| key)
    }

    /// Removes a group and its families.
    pub fn remove_group(&mut self, key_bytes: &[u8]) -> Option<Group> {
        let group = self.groups.remove(key_bytes)?;
        if group.expires_ns > 0 {
            self.deadlines
                .remove(&(group.expires_ns, group.key_bytes.clone()));
        }
        let shape = key_shape(&group);
        for family in group.families.values() {
            self.unindex_family(&group.key_bytes, &shape, family);
        }
        Some(group)
    }

    fn index_family(&mut self, key: &GroupKeyBytes, shape: &[String], family: &Arc<FamilyData>) {
        let entry = self
            .names
            .entry(family.name.clone())
            .or_insert_with(|| NameEntry {
                mtype: family.mtype,
                groups: BTreeMap::new(),
                key_shapes: HashMap::new(),
            });
        if entry.groups.is_empty() {
            entry.mtype = family.mtype;
        }
        if entry.groups.insert(key.clone(), family.clone()).is_none() {
            match entry.key_shapes.get_mut(shape) {
                Some(count) => *count += 1,
                None => {
                    entry.key_shapes.insert(shape.into(), 1);
                }
            }
        }
        self.series += family.series();
    }

    fn unindex_family(&mut self, key: &[u8], shape: &[String], family: &FamilyData) {
        let Some(entry) = self.names.get_mut(&family.name) else {
            return;
        };
        if entry.groups.remove(key).is_some() {
            if let Some(count) = entry.key_shapes.get_mut(shape) {
                *count -= 1;
                if *count == 0 {
                    entry.key_shapes.remove(shape);
                }
            }
        }
        if entry.groups.is_empty() {
            self.names.remove(&family.name);
        }
        self.series -= family.series();
    }
}

/// The label names of a group's grouping key (which keeps them sorted).
/// The label names of a group's grouping key, in key order: its shape.
pub(crate) fn key_shape(group: &Group) -> Vec<String> {
    group.key.labels().iter().map(|(n, _)| n.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{timestamp_family, PUSH_TIME};

    fn group(id: i64, job: &str) -> Group {
        let key = GroupingKey::from_labels([("job".to_string(), job.to_string())]).unwrap();
        let ts = Arc::new(timestamp_family(PUSH_TIME, 1, &key, 1));
        Group {
            id,
            key_bytes: key.upstream_key().into(),
            key,
            families: BTreeMap::from([(PUSH_TIME.to_string(), ts)]),
            last_push_ns: 1,
            last_failure_ns: 0,
            created_ns: 1,
            expires_ns: 0,
        }
    }

    #[test]
    fn families_are_indexed_by_name_across_groups() {
        let mut cache = Cache::new();
        cache.put_group(group(1, "a"));
        cache.put_group(group(2, "b"));
        let entry = cache.name(PUSH_TIME).unwrap();
        assert_eq!(entry.groups.len(), 2);
        let job = Box::from(["job".to_string()]);
        assert_eq!(entry.key_shapes, HashMap::from([(job, 2)]));
        assert_eq!(cache.series_count(), 2);
    }

    #[test]
    fn replacing_and_removing_groups_keeps_the_index_exact() {
        let mut cache = Cache::new();
        cache.put_group(group(1, "a"));
        cache.put_group(group(1, "a"));
        assert_eq!(
            cache
                .name(PUSH_TIME)
                .unwrap()
                .key_shapes
                .values()
                .sum::<usize>(),
            1
        );
        assert_eq!(cache.series_count(), 1);
        let key = group(1, "a").key_bytes;
        assert!(cache.remove_group(&key).is_some());
        assert!(cache.name(PUSH_TIME).is_none());
        assert_eq!(cache.group_count(), 0);
        assert_eq!(cache.series_count(), 0);
    }

    #[test]
    fn expiring_groups_are_indexed_by_deadline_until_replaced_or_removed() {
        let mut cache = Cache::new();
        let expiring = |id, job: &str, expires_ns| Group {
            expires_ns,
            ..group(id, job)
        };
        cache.put_group(expiring(1, "a", 30));
        cache.put_group(expiring(2, "b", 10));
        cache.put_group(expiring(3, "never", 0));
        assert_eq!(cache.next_deadline(), Some(10));
        let due = |cache: &Cache, now| -> Vec<GroupKeyBytes> { cache.due(now).cloned().collect() };
        assert_eq!(due(&cache, 9), Vec::<GroupKeyBytes>::new());
        assert_eq!(
            due(&cache, 30),
            [group(2, "b").key_bytes, group(1, "a").key_bytes]
        );
        // A renewing push replaces the group and its deadline.
        cache.put_group(expiring(2, "b", 50));
        assert_eq!(cache.next_deadline(), Some(30));
        cache.put_group(expiring(1, "a", 0));
        assert_eq!(cache.next_deadline(), Some(50));
        cache.remove_group(&group(2, "b").key_bytes);
        assert_eq!(cache.next_deadline(), None);
    }

    #[test]
    fn groups_iterate_in_upstream_key_order() {
        let mut cache = Cache::new();
        cache.put_group(group(1, "b"));
        cache.put_group(group(2, "a"));
        let jobs: Vec<_> = cache.groups().map(|g| g.key.job().to_string()).collect();
        assert_eq!(jobs, ["a", "b"]);
    }
}
