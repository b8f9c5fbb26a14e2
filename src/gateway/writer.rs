//! The writer: one thread that owns the connection that writes and commits changes in
//! batches (group commit), so that pushes arriving together share one COMMIT and its fsync.
//!
//! ```text
//! handlers ─► queue (bounded) ─► writer thread, in a loop:
//!   take the changes waiting, in arrival order (at most MAX_BATCH_CHANGES / MAX_BATCH_BYTES)
//!   BEGIN IMMEDIATE
//!     each change in a SAVEPOINT of its own: plan and check against the cache under the
//!     batch's overlay (the changes ahead of it included) ─► SQL ─► overlay
//!   COMMIT                                 one fsync for the whole batch
//!   cache ◄─ overlay                       one write lock: a scrape sees all of it or none
//!   answer every change
//! ```
//! A change is answered only after the COMMIT that holds it and the cache update; a failed
//! COMMIT answers every change of the batch with the store's error and leaves the cache as it
//! was. The writer never waits for company: a change arriving at an idle writer is committed
//! at once, and whatever arrives during that COMMIT forms the next batch.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::{Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::deadline_signal::DeadlineSignal;
use super::delete_groups::{GroupQuery, GroupSummary};
use super::overlay::{Overlay, View};
use super::plan::{
    failure_over_series_total, plan_failure, plan_push, GroupState, PushMethod, Row,
};
use super::{GatewayError, Options, INCONSISTENT};
use crate::cache::{Cache, Group, GroupKeyBytes};
use crate::consistency::{check_push, join_errors, Problems};
use crate::family::{FamilyData, PUSH_FAILURE_TIME, PUSH_TIME};
use crate::grouping_key::GroupingKey;
use crate::history::Request;
use crate::limits;
use crate::metrics::storage::StorageStats;
use crate::store::history::{insert_record, PushRecord};
use crate::store::{self, KeyColumns, PooledConnection};

/// The most changes one transaction holds. With one change in flight per client
/// connection, a batch rarely reaches it; it bounds how long the last change of a batch waits
/// for the ones ahead of it.
pub(crate) const MAX_BATCH_CHANGES: usize = 128;

/// The most prepared data one transaction holds: the pushed families' rendered text and
/// encoded metrics and the values recorded in the history. A single change larger than this
/// is committed on its own.
pub(crate) const MAX_BATCH_BYTES: usize = 4 << 20;

/// Changes waiting for the writer; beyond this a handler waits (asynchronously) for room.
const QUEUE_CAPACITY: usize = 1024;

/// What the writer thread and the gateway's readers share.
pub(super) struct Shared {
    pub(super) options: Options,
    /// Read by scrapes and checks; written only by the writer thread, after COMMIT.
    pub(super) cache: RwLock<Cache>,
    /// COMMIT durations and the history's size, for the storage metrics.
    pub(super) stats: Arc<StorageStats>,
    /// Wakes the expiry scheduler when a batch sets a deadline earlier than it waits for.
    pub(super) expiry: Arc<DeadlineSignal>,
}

impl Shared {
    pub(super) fn read_cache(&self) -> RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// A push prepared outside the writer (sanitised, checked family by family, rendered), ready
/// to be planned and committed.
pub(crate) struct PreparedPush {
    pub(super) key: GroupingKey,
    pub(super) columns: KeyColumns,
    pub(super) method: PushMethod,
    pub(super) now_ns: i64,
    pub(super) request: Request,
    pub(super) families: Vec<Arc<FamilyData>>,
    /// The group's `push_time_seconds` once the push is applied.
    pub(super) push_time: Arc<FamilyData>,
    /// What rejects the push already (timestamps first, as upstream).
    pub(super) errors: Problems,
    /// The values to record in the history, as JSON, and their number.
    pub(super) samples: Option<(String, usize)>,
    /// Families and series as pushed, for the history record.
    pub(super) family_count: usize,
    pub(super) series_count: usize,
    /// The group's deadline once the push is applied (Unix ns, 0: never).
    pub(super) expires_ns: i64,
}

impl std::fmt::Debug for PreparedPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPush")
            .field("key", &self.key)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// One change for the writer.
pub(super) enum Change {
    Push(PreparedPush),
    /// Delete the group with exactly this key.
    Delete {
        key: GroupingKey,
        columns: KeyColumns,
        now_ns: i64,
        request: Request,
    },
    /// Record a request refused before it reached the store.
    Refused {
        key: Option<KeyColumns>,
        now_ns: i64,
        request: Request,
        status: u16,
        error: String,
    },
    /// Delete every group.
    Wipe {
        now_ns: i64,
        request: Request,
    },
    /// Delete every group whose deadline is at or before `now_ns`, as the batch left it (a
    /// push ahead of this change may have renewed a group), each recorded as an `EXPIRE`.
    Expire {
        now_ns: i64,
    },
    /// Delete the groups `query` selects, as the batch left them, each recorded with the
    /// selector; the groups deleted are sent on `deleted` (valid once the answer is Ok).
    DeleteGroups {
        query: Arc<GroupQuery>,
        now_ns: i64,
        request: Request,
        deleted: oneshot::Sender<Vec<GroupSummary>>,
    },
}

impl Change {
    /// The prepared data this change brings into a batch (for [`MAX_BATCH_BYTES`]).
    fn bytes(&self) -> usize {
        const RECORD: usize = 256;
        match self {
            Change::Push(p) => {
                let families: usize = p.families.iter().map(|f| f.prepared_bytes()).sum();
                RECORD + families + p.samples.as_ref().map_or(0, |(json, _)| json.len())
            }
            Change::Refused { error, .. } => RECORD + error.len(),
            Change::Delete { .. } | Change::Wipe { .. } => RECORD,
            Change::Expire { .. } | Change::DeleteGroups { .. } => RECORD,
        }
    }
}

/// What a change's caller gets: the number of groups it removed, or why it failed.
type Answer = Result<usize, GatewayError>;

struct Job {
    change: Change,
    reply: oneshot::Sender<Answer>,
}

/// The handle to the writer thread: where changes are queued. Dropping it stops the thread
/// once the queued changes are committed.
pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `conn`, the connection that writes.
    pub(super) fn start(conn: PooledConnection, shared: Arc<Shared>) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, &shared, queue))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queues `change` and waits, without holding a thread, for its answer.
    pub(super) async fn submit(&self, change: Change) -> Answer {
        let jobs = self.jobs.as_ref().ok_or(GatewayError::NoAnswer)?;
        let (reply, answer) = oneshot::channel();
        jobs.send(Job { change, reply })
            .await
            .map_err(|_| GatewayError::NoAnswer)?;
        answer.await.map_err(|_| GatewayError::NoAnswer)?
    }

    /// A handle that queues changes from a thread of its own (the expiry scheduler).
    pub(super) fn submitter(&self) -> Option<Submitter> {
        self.jobs.clone().map(Submitter)
    }
}

/// Queues changes for the writer from outside the async runtime. The writer thread stops only
/// once every handle is dropped.
pub(super) struct Submitter(mpsc::Sender<Job>);

impl Submitter {
    /// Queues `change` and blocks this thread until its answer.
    pub(super) fn submit_blocking(&self, change: Change) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.0
            .blocking_send(Job { change, reply })
            .map_err(|_| GatewayError::NoAnswer)?;
        answer.blocking_recv().map_err(|_| GatewayError::NoAnswer)?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread after the changes already queued; joining it
        // closes the connection before the gateway is gone.
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: batches of queued changes, one transaction each, until the queue
/// closes.
fn run(mut conn: PooledConnection, shared: &Shared, mut queue: mpsc::Receiver<Job>) {
    let mut next: Option<Job> = None;
    loop {
        let Some(first) = next.take().or_else(|| queue.blocking_recv()) else {
            return;
        };
        let mut bytes = first.change.bytes();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_CHANGES {
            let Ok(job) = queue.try_recv() else { break };
            let size = job.change.bytes();
            if bytes + size > MAX_BATCH_BYTES {
                next = Some(job);
                break;
            }
            bytes += size;
            batch.push(job);
        }
        // A panic (a bug) fails this batch only: its transaction rolls back when dropped and
        // its callers see the writer's answer missing; the next batch starts afresh.
        let committed =
            std::panic::catch_unwind(AssertUnwindSafe(|| commit_batch(&mut conn, shared, batch)));
        if committed.is_err() {
            log::error!("the store writer panicked; the changes of that batch were not applied");
        }
    }
}

/// A change's answer, waiting for the end of its batch.
struct Pending {
    reply: oneshot::Sender<Answer>,
    answer: Answer,
    /// The answer holds only if the batch commits (the change wrote something).
    needs_commit: bool,
}

/// Applies `batch` in one transaction, each change in arrival order and in a savepoint of
/// its own; commits; updates the cache; answers.
fn commit_batch(conn: &mut rusqlite::Connection, shared: &Shared, batch: Vec<Job>) {
    let cache = shared.read_cache();
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return fail_all(Vec::new(), batch, e.into()),
    };
    let mut overlay = Overlay::default();
    let mut pending = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    while let Some(Job { change, reply }) = jobs.next() {
        match apply(&tx, overlay.view(&cache), &shared.options, change) {
            Ok(applied) => {
                match applied.effect {
                    Effect::Nothing => {}
                    Effect::Put(group) => overlay.put(&cache, group),
                    Effect::Remove(key) => overlay.remove(&cache, &key),
                    Effect::RemoveAll(keys) => {
                        for key in &keys {
                            overlay.remove(&cache, key);
                        }
                    }
                    Effect::Wipe => overlay.wipe(),
                }
                pending.push(Pending {
                    reply,
                    answer: applied.answer,
                    needs_commit: applied.needs_commit,
                });
            }
            // Only this change's savepoint was rolled back: the others go on.
            Err(e) if !tx.is_autocommit() => pending.push(Pending {
                reply,
                answer: Err(e.into()),
                needs_commit: false,
            }),
            // SQLite rolled the whole transaction back (an I/O error, a full disk).
            Err(e) => {
                let error = GatewayError::from(e);
                let _ = reply.send(Err(error.clone()));
                return fail_all(pending, jobs.collect(), error);
            }
        }
    }
    let started = Instant::now();
    let committed = tx.commit();
    shared.stats.commits.observe(started.elapsed());
    drop(cache);
    match committed {
        Ok(()) => {
            let earliest_deadline = overlay.earliest_deadline();
            if !overlay.is_empty() {
                let mut cache = shared.cache.write().unwrap_or_else(|e| e.into_inner());
                overlay.apply_to(&mut cache);
            }
            if let Some(deadline) = earliest_deadline {
                shared.expiry.deadline_set(deadline);
            }
            for p in pending {
                let _ = p.reply.send(p.answer);
            }
        }
        Err(e) => fail_all(pending, Vec::new(), e.into()),
    }
}

/// Answers a batch that did not commit: every change that wrote something, and every change
/// not yet applied, gets `error`; the others keep their answers (they changed nothing).
fn fail_all(pending: Vec<Pending>, unapplied: Vec<Job>, error: GatewayError) {
    log::error!("committing a batch of changes: {error}");
    for p in pending {
        let answer = if p.needs_commit {
            Err(error.clone())
        } else {
            p.answer
        };
        let _ = p.reply.send(answer);
    }
    for job in unapplied {
        let _ = job.reply.send(Err(error.clone()));
    }
}

/// What applying one change did.
struct Applied {
    answer: Answer,
    /// The change wrote to the transaction, so its answer holds only once that commits.
    needs_commit: bool,
    effect: Effect,
}

/// What a change does to the cache once its batch commits.
enum Effect {
    Nothing,
    /// This group replaces the one with its key (if any).
    Put(Group),
    Remove(GroupKeyBytes),
    /// These groups are removed.
    RemoveAll(Vec<GroupKeyBytes>),
    Wipe,
}

/// Applies one change to `tx`, planned and checked against `view`. An error is the
/// database's; the change's savepoint is rolled back.
fn apply(
    tx: &Transaction<'_>,
    view: View<'_>,
    options: &Options,
    change: Change,
) -> rusqlite::Result<Applied> {
    match change {
        Change::Push(push) => apply_push(tx, view, options, push),
        Change::Delete {
            key,
            columns,
            now_ns,
            request,
        } => {
            let key_bytes: GroupKeyBytes = key.upstream_key().into();
            let id = view.group(&key_bytes).map(|g| g.id);
            store::savepoint(tx, || {
                if let Some(id) = id {
                    store::delete_group(tx, id)?;
                }
                let record = PushRecord::bare(now_ns, &request, Some(&columns), 202, None);
                insert_record(tx, &record).map(drop)
            })?;
            Ok(Applied {
                answer: Ok(usize::from(id.is_some())),
                needs_commit: true,
                effect: match id {
                    Some(_) => Effect::Remove(key_bytes),
                    None => Effect::Nothing,
                },
            })
        }
        Change::Refused {
            key,
            now_ns,
            request,
            status,
            error,
        } => {
            let record = PushRecord::bare(now_ns, &request, key.as_ref(), status, Some(&error));
            store::savepoint(tx, || insert_record(tx, &record).map(drop))?;
            Ok(Applied {
                answer: Ok(0),
                needs_commit: true,
                effect: Effect::Nothing,
            })
        }
        Change::Wipe { now_ns, request } => {
            let count = view.group_count();
            store::savepoint(tx, || {
                store::delete_all_groups(tx)?;
                insert_record(tx, &PushRecord::bare(now_ns, &request, None, 202, None)).map(drop)
            })?;
            Ok(Applied {
                answer: Ok(count),
                needs_commit: true,
                effect: Effect::Wipe,
            })
        }
        Change::Expire { now_ns } => apply_expire(tx, view, now_ns),
        Change::DeleteGroups {
            query,
            now_ns,
            request,
            deleted,
        } => apply_delete_groups(tx, view, &query, now_ns, &request, deleted),
    }
}

/// Expires the groups whose deadline is at or before `now_ns` in `view`: each group is deleted
/// and recorded as an `EXPIRE` in the history. A group renewed by a push ahead of this change
/// has its new deadline in `view` and stays; a push after it creates the group anew.
fn apply_expire(tx: &Transaction<'_>, view: View<'_>, now_ns: i64) -> rusqlite::Result<Applied> {
    let request = Request {
        method: "EXPIRE".to_string(),
        ..Request::default()
    };
    delete_recorded(tx, &view.due(now_ns), now_ns, &request, None)
}

/// Deletes `groups` in one savepoint, each recorded in the history as `request` (with the
/// `selector` of a delete by label matcher); the change's answer is how many went.
fn delete_recorded(
    tx: &Transaction<'_>,
    groups: &[&Group],
    now_ns: i64,
    request: &Request,
    selector: Option<&str>,
) -> rusqlite::Result<Applied> {
    store::savepoint(tx, || {
        for group in groups {
            store::delete_group(tx, group.id)?;
            let columns = KeyColumns::of(&group.key);
            let mut record = PushRecord::bare(now_ns, request, Some(&columns), 200, None);
            record.selector = selector;
            insert_record(tx, &record)?;
        }
        Ok(())
    })?;
    Ok(Applied {
        answer: Ok(groups.len()),
        needs_commit: !groups.is_empty(),
        effect: Effect::RemoveAll(groups.iter().map(|g| g.key_bytes.clone()).collect()),
    })
}

/// Deletes the groups `query` selects in `view`, each recorded with the request's selector;
/// refuses (changing nothing) when they are every group and the request did not say `all`.
fn apply_delete_groups(
    tx: &Transaction<'_>,
    view: View<'_>,
    query: &GroupQuery,
    now_ns: i64,
    request: &Request,
    deleted: oneshot::Sender<Vec<GroupSummary>>,
) -> rusqlite::Result<Applied> {
    let selected = match query.select(view.groups(), view.group_count()) {
        Ok(selected) => selected,
        Err(message) => {
            return Ok(Applied {
                answer: Err(GatewayError::Refused(message)),
                needs_commit: false,
                effect: Effect::Nothing,
            })
        }
    };
    let applied = delete_recorded(tx, &selected, now_ns, request, Some(query.selector.text()))?;
    let _ = deleted.send(selected.iter().map(|g| GroupSummary::of(g)).collect());
    Ok(applied)
}

/// Applies a push: planned against the group as `view` has it, checked against every other
/// group, written with its history record. A rejected push records its failure instead; a
/// push over `--push.max-series-total` changes nothing.
fn apply_push(
    tx: &Transaction<'_>,
    view: View<'_>,
    options: &Options,
    push: PreparedPush,
) -> rusqlite::Result<Applied> {
    let PreparedPush {
        key,
        columns,
        method,
        now_ns,
        request,
        families,
        push_time,
        mut errors,
        samples,
        family_count,
        series_count,
        expires_ns,
    } = push;
    let mut record = PushRecord {
        time_ns: now_ns,
        request: &request,
        key: Some(&columns),
        status: options.push_status,
        error: None,
        families: Some(family_count),
        series: Some(series_count),
        samples: samples.as_ref().map(|(json, n)| (json.as_str(), *n)),
        selector: None,
        held: None,
    };
    // With values not recorded, the record holds them only while a current family shows
    // them (current_samples); the pruner lets them go.
    if !options.retention.records_values() {
        record.held = record.samples.take().map(|(json, _)| json);
    }
    let key_bytes = key.upstream_key();
    let stored = view.group(&key_bytes);
    let plan = errors.is_empty().then(|| {
        plan_push(
            &key, stored, method, families, push_time, now_ns, expires_ns,
        )
    });
    if let Some(plan) = &plan {
        let changed: Vec<&str> = plan.changed.iter().map(String::as_str).collect();
        errors = check_push(&view, &key_bytes, &plan.after.families, &changed);
    }
    let plan = match plan {
        Some(plan) if errors.is_empty() => plan,
        _ => {
            let message = join_errors(&errors);
            let answer = format!("{INCONSISTENT}{message}");
            record.status = 400;
            record.error = Some(&answer);
            record.samples = None;
            record.held = None;
            let effect = record_failure(
                tx,
                view,
                &key,
                &columns,
                stored,
                &record,
                options.max_series_total,
                expires_ns,
            )?;
            return Ok(Applied {
                answer: Err(GatewayError::Rejected(message)),
                needs_commit: true,
                effect,
            });
        }
    };
    if let Some(max) = options.max_series_total {
        let removed = stored.map_or(0, |g| g.series());
        let added = plan.after.families.values().map(|f| f.series()).sum();
        if let Err(message) = limits::check_series_total(view.series_count(), removed, added, max) {
            return Ok(Applied {
                answer: Err(GatewayError::Limit(message)),
                needs_commit: false,
                effect: Effect::Nothing,
            });
        }
    }
    let id = store::savepoint(tx, || {
        let id = write_group_row(tx, &columns, plan.row, &plan.after)?;
        for name in &plan.removed {
            store::delete_family(tx, id, name)?;
        }
        let record_id = insert_record(tx, &record)?;
        for (family, exists) in &plan.written {
            // Where current_samples finds the family's values: in the push's record.
            let values = match record.samples.is_some() || record.held.is_some() {
                true => store::FamilyValues::Record(record_id),
                false => store::FamilyValues::Own("[]"),
            };
            let blob = family.to_blob();
            let row = store::FamilyRow::of(id, family, &blob, values);
            // A row that is there is overwritten in place, which is cheaper than replacing it.
            if !(*exists && store::update_family(tx, &row)?) {
                store::upsert_family(tx, &row)?;
            }
        }
        Ok(id)
    })?;
    Ok(Applied {
        answer: Ok(0),
        needs_commit: true,
        effect: Effect::Put(plan.after.into_group(id, &key)),
    })
}

/// Records a failed push: sets the group's failure time, creating the group (with only its
/// two timestamps) if it does not exist, as upstream does. Unlike upstream, a new group is
/// not created when its timestamp series would duplicate another group's (a key that
/// differs only by an empty label), because that would break every scrape, nor when it would
/// take the store past `--push.max-series-total`.
#[allow(clippy::too_many_arguments)]
fn record_failure(
    tx: &Transaction<'_>,
    view: View<'_>,
    key: &GroupingKey,
    columns: &KeyColumns,
    stored: Option<&Group>,
    record: &PushRecord<'_>,
    max_series_total: Option<usize>,
    new_expires_ns: i64,
) -> rusqlite::Result<Effect> {
    let plan = plan_failure(key, stored, record.time_ns, new_expires_ns);
    if plan.row == Row::New {
        let mut clash = check_push(
            &view,
            &key.upstream_key(),
            &plan.after.families,
            &[PUSH_TIME, PUSH_FAILURE_TIME],
        );
        clash.append(failure_over_series_total(
            &plan,
            view.series_count(),
            max_series_total,
        ));
        if !clash.is_empty() {
            log::warn!(
                "not creating group {key} to record its failed push: {}",
                join_errors(&clash)
            );
            store::savepoint(tx, || insert_record(tx, record).map(drop))?;
            return Ok(Effect::Nothing);
        }
    }
    let id = store::savepoint(tx, || {
        let id = write_group_row(tx, columns, plan.row, &plan.after)?;
        insert_record(tx, record)?;
        Ok(id)
    })?;
    Ok(Effect::Put(plan.after.into_group(id, key)))
}

/// Writes the group's row as `after` has it (inserting it for a new group); returns its id.
fn write_group_row(
    tx: &Transaction<'_>,
    key: &KeyColumns,
    row: Row,
    after: &GroupState,
) -> rusqlite::Result<i64> {
    match row {
        Row::Existing(id) => {
            store::update_group_times(
                tx,
                id,
                after.last_push_ns,
                after.last_failure_ns,
                after.expires_ns,
            )?;
            Ok(id)
        }
        Row::New => store::insert_group(
            tx,
            key,
            after.last_push_ns,
            after.last_failure_ns,
            after.created_ns,
            after.expires_ns,
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::gateway::prepare::prepare;
    use crate::history::Retention;
    use crate::names::NameValidation;
    use crate::parse::parse_body;

    /// A writer over a fresh database file whose writing connection may grow the file by
    /// only `spare_pages` pages (as a full disk would stop it).
    fn writer(dir: &Path, spare_pages: i64) -> (Writer, Arc<Shared>) {
        let pool = store::open(Some(&dir.join("pg.db"))).unwrap();
        let conn = pool.get().unwrap();
        let pages: i64 = conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "max_page_count", pages + spare_pages)
            .unwrap();
        let shared = Arc::new(Shared {
            options: Options {
                retention: Retention {
                    max_age: Duration::from_secs(3600),
                    max_sample_rows: 1000,
                    max_records: 1000,
                },
                push_status: 200,
                max_series_total: None,
                expire_after: Duration::ZERO,
            },
            cache: RwLock::new(Cache::new()),
            stats: Arc::new(StorageStats::default()),
            expiry: Arc::new(DeadlineSignal::default()),
        });
        (Writer::start(conn, shared.clone()).unwrap(), shared)
    }

    /// Holds the cache's write lock on a thread of its own until the returned sender is
    /// dropped. The writer takes the cache before each batch, so the changes submitted
    /// meanwhile queue up behind the first one and form one batch.
    fn hold_cache(shared: &Arc<Shared>) -> std::sync::mpsc::Sender<()> {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (taken, is_taken) = std::sync::mpsc::channel();
        let shared = shared.clone();
        std::thread::spawn(move || {
            let _held = shared.cache.write().unwrap();
            taken.send(()).unwrap();
            let _ = released.recv();
        });
        is_taken.recv().unwrap();
        release
    }

    fn push(job: &str, body: &str) -> Change {
        let key = GroupingKey::from_labels([("job".to_string(), job.to_string())]).unwrap();
        let families = parse_body(None, body.as_bytes(), NameValidation::Legacy, None).unwrap();
        let prepared = prepare(&key, families, 1);
        Change::Push(PreparedPush {
            columns: KeyColumns::of(&key),
            key,
            method: PushMethod::Replace,
            now_ns: 1,
            request: Request::default(),
            families: prepared.families,
            push_time: prepared.push_time,
            errors: prepared.errors,
            samples: prepared.samples,
            family_count: 1,
            series_count: 1,
            expires_ns: 0,
        })
    }

    #[actix_web::test]
    async fn a_change_that_makes_sqlite_give_up_the_transaction_fails_its_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, shared) = writer(dir.path(), 64);
        let writer = Arc::new(writer);
        let submit = |change: Change| {
            let writer = writer.clone();
            actix_web::rt::spawn(async move { writer.submit(change).await })
        };
        let held = hold_cache(&shared);
        let first = submit(push("first", "f 1\n"));
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let big: String = (0..20_000)
            .map(|i| format!("big{{i=\"{i}\"}} {i}\n"))
            .collect();
        let batch = [
            submit(push("small", "s 1\n")),
            // Needs far more than 64 pages: SQLITE_FULL, and SQLite rolls back everything.
            submit(push("big", &big)),
            submit(push("other", "o 1\n")),
        ];
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        drop(held);

        assert_eq!(first.await.unwrap().unwrap(), 0);
        for answer in batch {
            let answer = answer.await.unwrap();
            assert!(matches!(answer, Err(GatewayError::Store(_))), "{answer:?}");
        }
        let groups: Vec<String> = shared
            .read_cache()
            .groups()
            .map(|g| g.key.job().to_string())
            .collect();
        assert_eq!(groups, ["first"], "the failed batch left the cache alone");
        // The writer goes on with the next batch.
        assert_eq!(submit(push("later", "l 1\n")).await.unwrap().unwrap(), 0);
        assert_eq!(shared.read_cache().group_count(), 2);
    }

    /// Submits `first`, then (once the writer holds it and waits for the cache) `rest`, and
    /// returns how many COMMITs they all took.
    async fn commits_for(first: Change, rest: Vec<Change>) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let (writer, shared) = writer(dir.path(), 1 << 20);
        let writer = Arc::new(writer);
        let submit = |change: Change| {
            let writer = writer.clone();
            actix_web::rt::spawn(async move { writer.submit(change).await })
        };
        let held = hold_cache(&shared);
        let first = submit(first);
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let rest: Vec<_> = rest.into_iter().map(submit).collect();
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        first.await.unwrap().unwrap();
        for answer in rest {
            answer.await.unwrap().unwrap();
        }
        shared.stats.commits.count()
    }

    fn refused(i: usize) -> Change {
        Change::Refused {
            key: None,
            now_ns: 1,
            request: Request::default(),
            status: 400,
            error: format!("refused {i}"),
        }
    }

    /// A push of `v <value>` to job `job` at `now_ns` whose group expires at `expires_ns`.
    fn expiring_push(job: &str, value: u32, now_ns: i64, expires_ns: i64) -> Change {
        let Change::Push(mut prepared) = push(job, &format!("v {value}\n")) else {
            unreachable!()
        };
        prepared.now_ns = now_ns;
        prepared.expires_ns = expires_ns;
        Change::Push(prepared)
    }

    /// Submits `first` and waits for it, then submits `batch` while the writer cannot start
    /// a batch (so they form one, in order), and returns their answers.
    async fn in_one_batch(
        writer: &Arc<Writer>,
        shared: &Arc<Shared>,
        first: Change,
        batch: Vec<Change>,
    ) -> Vec<Answer> {
        writer.submit(first).await.unwrap();
        let held = hold_cache(shared);
        let answers: Vec<_> = batch
            .into_iter()
            .map(|change| {
                let writer = writer.clone();
                let answer = actix_web::rt::spawn(async move { writer.submit(change).await });
                std::thread::sleep(Duration::from_millis(20));
                answer
            })
            .collect();
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        let mut out = Vec::new();
        for answer in answers {
            out.push(answer.await.unwrap());
        }
        out
    }

    fn methods(dir: &Path) -> Vec<String> {
        let conn = rusqlite::Connection::open(dir.join("pg.db")).unwrap();
        let mut stmt = conn
            .prepare("SELECT method FROM push_history ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[actix_web::test]
    async fn a_push_ahead_of_an_expiry_in_its_batch_renews_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, shared) = writer(dir.path(), 1 << 20);
        let writer = Arc::new(writer);
        let answers = in_one_batch(
            &writer,
            &shared,
            expiring_push("a", 1, 1, 10),
            vec![
                expiring_push("a", 2, 20, 1000),
                Change::Expire { now_ns: 50 },
            ],
        )
        .await;
        assert_eq!(answers[1].as_ref().unwrap(), &0, "nothing was due any more");
        let cache = shared.read_cache();
        let group = cache.groups().next().expect("the group stays");
        assert_eq!((group.expires_ns, group.last_push_ns), (1000, 20));
        assert_eq!(cache.next_deadline(), Some(1000));
        assert!(!methods(dir.path()).iter().any(|m| m == "EXPIRE"));
    }

    #[actix_web::test]
    async fn a_push_behind_an_expiry_in_its_batch_creates_the_group_anew() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, shared) = writer(dir.path(), 1 << 20);
        let writer = Arc::new(writer);
        writer.submit(expiring_push("a", 1, 1, 10)).await.unwrap();
        let answers = in_one_batch(
            &writer,
            &shared,
            refused(0),
            vec![Change::Expire { now_ns: 50 }, expiring_push("a", 2, 60, 0)],
        )
        .await;
        assert_eq!(answers[0].as_ref().unwrap(), &1, "the group was due");
        let cache = shared.read_cache();
        let group = cache.groups().next().expect("the push is not lost");
        // Created anew by the push (the old group was created at 1).
        assert_eq!(
            (group.expires_ns, group.last_push_ns, group.created_ns),
            (0, 60, 60)
        );
        assert_eq!(cache.next_deadline(), None);
        let recorded = methods(dir.path());
        assert_eq!(recorded[recorded.len() - 2..], ["EXPIRE", ""]);
    }

    #[actix_web::test]
    async fn a_batch_holds_at_most_max_batch_changes() {
        let rest = (0..MAX_BATCH_CHANGES + 2).map(refused).collect();
        // The first alone, then a full batch, then the two left over.
        assert_eq!(commits_for(refused(0), rest).await, 3);
    }

    #[actix_web::test]
    async fn a_batch_holds_at_most_max_batch_bytes_of_prepared_data() {
        let series = |job: &str, n: usize| {
            let body: String = (0..n).map(|i| format!("m{{i=\"{i}\"}} {i}\n")).collect();
            push(job, &body)
        };
        let pushes: Vec<Change> = (0..3).map(|i| series(&format!("p{i}"), 15_000)).collect();
        let size = pushes[0].bytes();
        assert!(
            2 * size <= MAX_BATCH_BYTES && 3 * size > MAX_BATCH_BYTES,
            "{size} bytes per push"
        );
        // The first alone, then two pushes, then the third, which would exceed the bound.
        assert_eq!(commits_for(refused(0), pushes).await, 3);
    }
}
