//! Start-up: every stored group loaded into a new cache, families decoded and rendered on all
//! cores.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::plan::{insert_timestamps, GroupState};
use crate::cache::{Cache, Group};
use crate::family::FamilyData;
use crate::store::{self, StoreError, StoredGroup};

/// Loads every group into a new cache. Families are decoded and rendered on all cores:
/// this is most of the start-up time of a large store.
pub(crate) fn warm_cache(conn: &rusqlite::Connection) -> Result<Cache, StoreError> {
    let mut groups: HashMap<i64, Group> = store::load_groups(conn)?
        .into_iter()
        .map(|g| (g.id, group_from_store(g)))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    store::load_families(conn, 4096, |rows| {
        let chunk = rows.len().div_ceil(threads).max(1);
        let prepared: Vec<Result<Vec<(i64, FamilyData)>, StoreError>> =
            std::thread::scope(|scope| {
                let workers: Vec<_> = rows
                    .chunks(chunk)
                    .map(|rows| scope.spawn(move || rows.iter().map(prepare_stored).collect()))
                    .collect();
                workers
                    .into_iter()
                    .map(|w| {
                        w.join().unwrap_or_else(|_| {
                            Err(StoreError::Corrupt("decoder thread panicked".into()))
                        })
                    })
                    .collect()
            });
        for batch in prepared {
            for (group_id, family) in batch? {
                if let Some(group) = groups.get_mut(&group_id) {
                    group.families.insert(family.name.clone(), Arc::new(family));
                }
            }
        }
        Ok(())
    })?;
    let mut cache = Cache::new();
    for (_, group) in groups {
        cache.put_group(group);
    }
    Ok(cache)
}

fn prepare_stored(row: &store::StoredFamily) -> Result<(i64, FamilyData), StoreError> {
    FamilyData::from_blob(&row.blob, row.pushed_ns)
        .map(|f| (row.group_id, f))
        .map_err(|e| StoreError::Corrupt(format!("a family of group {}: {e}", row.group_id)))
}

/// A stored group row as cached, with its two timestamp families; its other families are
/// added as they are decoded.
fn group_from_store(stored: StoredGroup) -> Group {
    let mut families = BTreeMap::new();
    insert_timestamps(
        &mut families,
        &stored.key,
        stored.last_push_ns,
        stored.last_failure_ns,
        stored.created_ns,
    );
    GroupState {
        families,
        last_push_ns: stored.last_push_ns,
        last_failure_ns: stored.last_failure_ns,
        created_ns: stored.created_ns,
        expires_ns: stored.expires_ns,
    }
    .into_group(stored.id, &stored.key)
}
