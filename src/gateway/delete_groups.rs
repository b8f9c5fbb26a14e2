//! Deleting groups by label matcher (`POST /api/v1/admin/delete_groups`): which groups a
//! request selects, and the refusal of a request that would delete every group without saying
//! so. The same selection answers a dry run (from the cache) and the real delete (in the
//! writer, against the store as its batch left it).

use crate::cache::Group;
use crate::grouping_key::GroupingKey;
use crate::selector::GroupSelector;

/// What a delete by label matcher selects.
#[derive(Debug, Clone)]
pub(crate) struct GroupQuery {
    /// The `match[]` selectors, over grouping labels.
    pub(crate) selector: GroupSelector,
    /// Only groups whose last successful push is before this (Unix ns).
    pub(crate) pushed_before_ns: Option<i64>,
    /// The request allows selecting every group.
    pub(crate) all: bool,
}

/// A group a delete selected, as the answer lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupSummary {
    pub(crate) key: GroupingKey,
    /// Its last successful push (Unix ns), 0 for none.
    pub(crate) last_push_ns: i64,
    /// When it would have expired (Unix ns), 0 for never.
    pub(crate) expires_ns: i64,
}

impl GroupSummary {
    pub(crate) fn of(group: &Group) -> GroupSummary {
        GroupSummary {
            key: group.key.clone(),
            last_push_ns: group.last_push_ns,
            expires_ns: group.expires_ns,
        }
    }
}

impl GroupQuery {
    /// Whether `group` is selected.
    pub(crate) fn selects(&self, group: &Group) -> bool {
        self.pushed_before_ns
            .is_none_or(|before| group.last_push_ns < before)
            && self.selector.matches(&group.key)
    }

    /// The groups selected among `groups` (there are `total` in all), in upstream's group
    /// order; an error saying why when they are every group and `all` is not set.
    pub(crate) fn select<'a>(
        &self,
        groups: impl Iterator<Item = &'a Group>,
        total: usize,
    ) -> Result<Vec<&'a Group>, String> {
        let mut selected: Vec<&Group> = groups.filter(|g| self.selects(g)).collect();
        if !self.all && !selected.is_empty() && selected.len() == total {
            return Err(format!(
                "the selector matches every group ({total}); add all=true to delete them all"
            ));
        }
        selected.sort_by(|a, b| a.key_bytes.cmp(&b.key_bytes));
        Ok(selected)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn group(job: &str, instance: &str, last_push_ns: i64) -> Group {
        let key = GroupingKey::from_labels([
            ("job".to_string(), job.to_string()),
            ("instance".to_string(), instance.to_string()),
        ])
        .unwrap();
        Group {
            id: 1,
            key_bytes: key.upstream_key().into(),
            key,
            families: BTreeMap::new(),
            last_push_ns,
            last_failure_ns: 0,
            created_ns: 1,
            expires_ns: 0,
        }
    }

    fn query(selectors: &[&str], pushed_before_ns: Option<i64>, all: bool) -> GroupQuery {
        GroupQuery {
            selector: GroupSelector::parse(selectors).unwrap(),
            pushed_before_ns,
            all,
        }
    }

    fn jobs(selected: &[&Group]) -> Vec<String> {
        selected
            .iter()
            .map(|g| format!("{}/{}", g.key.job(), g.key.labels()[0].1))
            .collect()
    }

    #[test]
    fn selectors_and_push_age_narrow_the_groups() {
        let groups = [
            group("nightly-a", "h1", 100),
            group("nightly-b", "h2", 300),
            group("daily", "h1", 100),
        ];
        let q = query(&["{job=~\"nightly-.*\"}"], None, false);
        let selected = q.select(groups.iter(), groups.len()).unwrap();
        assert_eq!(jobs(&selected), ["nightly-a/h1", "nightly-b/h2"]);
        let q = query(&["{job=~\"nightly-.*\"}"], Some(200), false);
        let selected = q.select(groups.iter(), groups.len()).unwrap();
        assert_eq!(jobs(&selected), ["nightly-a/h1"]);
        let q = query(&["{job=\"none\"}"], None, false);
        assert!(q.select(groups.iter(), groups.len()).unwrap().is_empty());
    }

    #[test]
    fn selecting_every_group_needs_all() {
        let groups = [group("a", "h1", 1), group("b", "h1", 1)];
        let q = query(&["{instance=\"h1\"}"], None, false);
        let e = q.select(groups.iter(), groups.len()).unwrap_err();
        assert!(
            e.contains("every group (2)") && e.contains("all=true"),
            "{e}"
        );
        let q = query(&["{instance=\"h1\"}"], None, true);
        assert_eq!(q.select(groups.iter(), groups.len()).unwrap().len(), 2);
        // Selecting nothing of nothing is no refusal.
        let q = query(&["{instance=\"h1\"}"], None, false);
        assert!(q.select(std::iter::empty(), 0).unwrap().is_empty());
    }
}
