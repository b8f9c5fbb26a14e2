//! The part of a push that needs neither the writer nor the cache: every pushed family
//! sanitised against the grouping key, checked on its own, rendered for serving and storing,
//! and its values written for the history. Runs on the blocking pool, so pushes prepare in
//! parallel while the writer commits.

use std::sync::Arc;

use crate::consistency::{check_family, Problems};
use crate::family::{sanitize, timestamp_family, FamilyData, PUSH_FAILURE_TIME, PUSH_TIME};
use crate::grouping_key::GroupingKey;
use crate::history::samples::SampleJson;
use crate::proto::MetricFamily;

/// Pushed families checked and prepared before they are queued for the writer.
pub(crate) struct Prepared {
    pub(crate) families: Vec<Arc<FamilyData>>,
    /// The group's `push_time_seconds` once the push is applied (it depends only on the key
    /// and the push's time, so it is rendered here rather than by the writer).
    pub(crate) push_time: Arc<FamilyData>,
    /// What rejects the push (timestamps first, as upstream).
    pub(crate) errors: Problems,
    /// The values for the push's history record, as JSON, and their number (none when the
    /// push is rejected). Written whether or not values are recorded: the record holds them
    /// for as long as a current family shows them (`current_samples`).
    pub(crate) samples: Option<(String, usize)>,
}

/// Sanitises every pushed family for `key`, checks it on its own, and renders it for
/// serving and storing, and writes its values for the history.
pub(crate) fn prepare(key: &GroupingKey, families: Vec<MetricFamily>, now_ns: i64) -> Prepared {
    if families
        .iter()
        .any(|f| f.metric.iter().any(|m| m.timestamp_ms.is_some()))
    {
        return Prepared {
            families: Vec::new(),
            push_time: Arc::new(timestamp_family(PUSH_TIME, now_ns, key, now_ns)),
            errors: Problems::from_iter(["pushed metrics must not have timestamps"]),
            samples: None,
        };
    }
    let mut errors = Problems::new();
    let mut samples = SampleJson::new();
    let mut prepared = Vec::with_capacity(families.len());
    for mut family in families {
        // The gateway's own timestamps always win over pushed families of the same name.
        if matches!(family.name(), PUSH_TIME | PUSH_FAILURE_TIME) {
            continue;
        }
        sanitize(&mut family, key);
        errors.append(check_family(&family));
        // A rejected push is not stored: rendering the rest would only cost time and memory.
        if !errors.is_empty() {
            continue;
        }
        samples.add_family(&family, key);
        prepared.push(Arc::new(FamilyData::new(&family, now_ns)));
    }
    Prepared {
        families: prepared,
        push_time: Arc::new(timestamp_family(PUSH_TIME, now_ns, key, now_ns)),
        samples: errors.is_empty().then(|| {
            let count = samples.count();
            (samples.finish(), count)
        }),
        errors,
    }
}
