//! The gateway service: the one way into the store. Pushes, deletes, wipes and the records of
//! refused requests are committed by one writer thread in batches (group commit) and then
//! applied to the cache; history listings and the health probe read through it.
//!
//! ```text
//! push ─► prepare: sanitise + check each family + render    (handlers, in parallel)
//!      ─► queue ─► writer thread (writer.rs), one batch of queued changes at a time:
//!                  BEGIN IMMEDIATE
//!                    per change, in arrival order, in its own SAVEPOINT:
//!                      plan against the group as the batch left it   (plan.rs, overlay.rs)
//!                      consistency check against the same view
//!                      SQL
//!                  COMMIT                                (one fsync for the batch)
//!                  cache update for the whole batch      (one write lock)
//!      ─► answer                                         (awaited without holding a thread)
//! ```
//! One thread owns the connection that writes, so the cache sees changes in commit order and
//! every check sees a stable store: the cache, plus the changes ahead of it in its batch. A
//! change is answered only after the COMMIT that holds it, and the cache is only touched after
//! COMMIT succeeded.
//!
//! Two changes come from the gateway itself rather than a request: the expiry scheduler
//! ([`expiry`]) submits the removal of groups whose deadline passed, and start-up submits one
//! before the cache serves anything; a delete by label matcher ([`delete_groups`]) is one
//! change however many groups it selects, so it is one transaction.

mod deadline_signal;
mod delete_groups;
mod expiry;
mod overlay;
mod plan;
mod prepare;
mod series;
mod warm;
mod writer;

pub(crate) use crate::store::Unavailable;
pub(crate) use delete_groups::{GroupQuery, GroupSummary};
pub(crate) use plan::PushMethod;
pub(crate) use writer::PreparedPush;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use crate::cache::Cache;
use crate::grouping_key::GroupingKey;
use crate::history::{HistoryQuery, HistoryRecord, Request, Retention};
use crate::metrics::storage::{StorageFigures, StorageStats};
use crate::proto::MetricFamily;
use crate::store::prune::Pruner;
use crate::store::{self, KeyColumns, Pool, StoreError};
use deadline_signal::DeadlineSignal;
use expiry::Scheduler;
use prepare::{prepare, Prepared};
use writer::{Change, Shared, Writer};

/// Why the gateway did not apply a change or could not answer a read.
#[derive(Debug, Clone)]
pub(crate) enum GatewayError {
    /// The push is invalid or inconsistent with the store; its failure was recorded.
    Rejected(String),
    /// The push would exceed a configured limit; nothing changed.
    Limit(String),
    /// The database failed; nothing changed. Shared: a failed COMMIT answers every change
    /// of its batch with it.
    Store(Arc<StoreError>),
    /// The writer thread did not answer: the gateway is stopping (nothing changed), or its
    /// batch failed unexpectedly (rolled back).
    NoAnswer,
    /// The request is refused as it stands (a delete by matcher that would delete every group
    /// without `all=true`); nothing changed.
    Refused(String),
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatewayError::Rejected(m) | GatewayError::Limit(m) | GatewayError::Refused(m) => {
                f.write_str(m)
            }
            GatewayError::Store(e) => write!(f, "{e}"),
            GatewayError::NoAnswer => f.write_str("no answer from the store's writer"),
        }
    }
}

impl std::error::Error for GatewayError {}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        GatewayError::Store(Arc::new(e))
    }
}

impl From<rusqlite::Error> for GatewayError {
    fn from(e: rusqlite::Error) -> Self {
        GatewayError::Store(Arc::new(StoreError::Sqlite(e)))
    }
}

impl From<r2d2::Error> for GatewayError {
    fn from(e: r2d2::Error) -> Self {
        GatewayError::Store(Arc::new(StoreError::Pool(e)))
    }
}

/// How the gateway records and answers changes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// What pushed history is kept.
    pub(crate) retention: Retention,
    /// The status an accepted push is answered with (202 with the consistency check disabled).
    pub(crate) push_status: u16,
    /// `--push.max-series-total`: the most series the store may hold after a push.
    pub(crate) max_series_total: Option<usize>,
    /// `--push.expire-after`: a group's lifetime after its last successful push unless the push
    /// says otherwise; zero for never.
    pub(crate) expire_after: std::time::Duration,
}

/// The prefix of the answer to a push refused by the consistency check.
pub(crate) const INCONSISTENT: &str =
    "pushed metrics are invalid or inconsistent with existing metrics: ";

/// The store, its cache, and the writer that orders changes.
pub(crate) struct Gateway {
    /// Expires groups through the writer; declared before it, so it stops first.
    _scheduler: Scheduler,
    pool: Pool,
    /// Options, cache and storage figures, shared with the writer thread.
    shared: Arc<Shared>,
    /// Where changes are queued for the writer thread.
    writer: Writer,
    /// The database file (`None`: in memory), for the storage metrics.
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

impl Gateway {
    /// Loads every group of an opened and migrated database into the cache and starts the
    /// writer thread. Start-up runs this after binding the listeners (see [`crate::startup`]).
    pub(crate) fn warm(
        pool: Pool,
        path: Option<&Path>,
        options: Options,
    ) -> Result<Gateway, StoreError> {
        let conn = pool.get()?;
        let cache = warm::warm_cache(&conn)?;
        let shared = Arc::new(Shared {
            options,
            cache: RwLock::new(cache),
            stats: Arc::new(StorageStats::default()),
            expiry: Arc::new(DeadlineSignal::default()),
        });
        let writer = Writer::start(conn, shared.clone())
            .map_err(|e| StoreError::Open(format!("starting the writer thread: {e}")))?;
        let submitter = writer
            .submitter()
            .ok_or_else(|| StoreError::Open("the writer thread is not running".into()))?;
        // Groups whose deadline passed while the gateway was stopped go before anything is
        // served (the caller makes the gateway ready only once this returns).
        let now = crate::clock::now_ns();
        if shared.read_cache().due(now).next().is_some() {
            expiry::expire_due(&shared, &submitter, now)
                .map_err(|e| StoreError::Open(format!("expiring groups at start-up: {e}")))?;
        }
        let scheduler = Scheduler::start(shared.clone(), submitter)
            .map_err(|e| StoreError::Open(format!("starting the expiry thread: {e}")))?;
        Ok(Gateway {
            _scheduler: scheduler,
            pool,
            shared,
            writer,
            path: path.map(Path::to_path_buf),
        })
    }

    /// Starts pruning the history in the background, on a pooled connection of its own.
    pub(crate) fn start_pruner(&self) -> Pruner {
        Pruner::start(
            self.pool.clone(),
            self.shared.options.retention,
            self.shared.stats.clone(),
        )
    }

    /// Read access to the cache. Keep the guard short: the writer waits for it to apply a
    /// committed batch, and the next batch waits for that.
    pub(crate) fn cache(&self) -> RwLockReadGuard<'_, Cache> {
        self.shared.read_cache()
    }

    /// What the storage metrics report now.
    pub(crate) fn storage_figures(&self) -> StorageFigures<'_> {
        let cache = self.cache();
        StorageFigures {
            groups: cache.group_count(),
            series: cache.series_count(),
            database: self.path.as_deref(),
            stats: &self.shared.stats,
        }
    }

    /// Pushed history records, newest first.
    pub(crate) fn history(&self, query: &HistoryQuery) -> Result<Vec<HistoryRecord>, GatewayError> {
        let conn = self.pool.get()?;
        store::history::query(&conn, query).map_err(GatewayError::from)
    }

    /// Whether a write transaction can be started and committed now (`/-/healthy`).
    pub(crate) fn probe_writable(&self) -> Result<(), GatewayError> {
        let mut conn = self.pool.get()?;
        store::probe_writable(&mut conn).map_err(GatewayError::from)
    }

    /// Prepares a push of `families` to the group `key` at time `now_ns`: sanitises, checks
    /// and renders every family, and the values for the history. CPU work without a lock, in
    /// proportion to the push (the blocking pool's job for a large one); then hand the
    /// result to [`Gateway::push`]. The group lives for `lifetime` after the push (its
    /// `Pushgateway-Expire-After`), or else for `--push.expire-after`.
    pub(crate) fn prepare_push(
        &self,
        key: GroupingKey,
        method: PushMethod,
        families: Vec<MetricFamily>,
        now_ns: i64,
        request: Request,
        lifetime: Option<std::time::Duration>,
    ) -> PreparedPush {
        let family_count = families.len();
        let series_count = families.iter().map(|f| f.metric.len()).sum();
        let Prepared {
            families,
            push_time,
            errors,
            samples,
        } = prepare(&key, families, now_ns);
        PreparedPush {
            columns: KeyColumns::of(&key),
            key,
            method,
            now_ns,
            request,
            families,
            push_time,
            errors,
            samples,
            family_count,
            series_count,
            expires_ns: crate::lifetime::deadline_ns(
                now_ns,
                lifetime.unwrap_or(self.shared.options.expire_after),
            ),
        }
    }

    /// Applies a prepared push, and records it in the history in the same transaction.
    /// A push that the consistency check refuses records its failure instead
    /// ([`GatewayError::Rejected`]); one over a limit changes nothing.
    pub(crate) async fn push(&self, push: PreparedPush) -> Result<(), GatewayError> {
        self.writer.submit(Change::Push(push)).await.map(drop)
    }

    /// Deletes the group with exactly this key; deleting a missing group changes nothing
    /// but the history.
    pub(crate) async fn delete(
        &self,
        key: GroupingKey,
        now_ns: i64,
        request: Request,
    ) -> Result<(), GatewayError> {
        let change = Change::Delete {
            columns: KeyColumns::of(&key),
            key,
            now_ns,
            request,
        };
        self.writer.submit(change).await.map(drop)
    }

    /// Records a change request refused before it reached the store (a malformed grouping
    /// key or body).
    pub(crate) async fn record_rejected(
        &self,
        key: Option<GroupingKey>,
        now_ns: i64,
        request: Request,
        status: u16,
        error: String,
    ) -> Result<(), GatewayError> {
        let change = Change::Refused {
            key: key.as_ref().map(KeyColumns::of),
            now_ns,
            request,
            status,
            error,
        };
        self.writer.submit(change).await.map(drop)
    }

    /// Deletes every group (`PUT /api/v1/admin/wipe`); returns how many there were.
    pub(crate) async fn wipe(&self, now_ns: i64, request: Request) -> Result<usize, GatewayError> {
        self.writer.submit(Change::Wipe { now_ns, request }).await
    }

    /// The groups `query` selects now, without deleting them (a dry run), in upstream's
    /// group order; refused as the delete would be.
    pub(crate) fn select_groups(
        &self,
        query: &GroupQuery,
    ) -> Result<Vec<GroupSummary>, GatewayError> {
        let cache = self.cache();
        let selected = query
            .select(cache.groups(), cache.group_count())
            .map_err(GatewayError::Refused)?;
        Ok(selected.into_iter().map(GroupSummary::of).collect())
    }

    /// Deletes the groups `query` selects, in one transaction, each recorded in the history
    /// with the request's selector (`POST /api/v1/admin/delete_groups`); returns them.
    pub(crate) async fn delete_groups(
        &self,
        query: GroupQuery,
        now_ns: i64,
        request: Request,
    ) -> Result<Vec<GroupSummary>, GatewayError> {
        let (deleted, listed) = tokio::sync::oneshot::channel();
        let change = Change::DeleteGroups {
            query: Arc::new(query),
            now_ns,
            request,
            deleted,
        };
        self.writer.submit(change).await?;
        // Sent while the change was applied: there when its transaction committed.
        Ok(listed.await.unwrap_or_default())
    }
}
