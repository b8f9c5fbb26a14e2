//! The pushed history's own vocabulary: who sent a change request and what it was
//! ([`Request`]), how much is kept ([`Retention`]), what a listing asks for ([`HistoryQuery`])
//! and what it answers ([`HistoryRecord`]), and the sample values of an accepted push
//! ([`samples`]).
//!
//! Every change request, accepted or rejected, is recorded in the transaction of the change it
//! records, so operators can answer questions with plain SQL (`docs/sql.md`). The SQL lives in
//! [`crate::store::history`], pruning next to it in [`crate::store::prune`]; the gateway
//! ([`crate::gateway`]) writes and reads through them, and the HTTP layer only through the
//! gateway.

pub(crate) mod samples;
pub(crate) mod series;

use std::time::Duration;

/// How much history is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Records and values older than this are pruned.
    pub max_age: Duration,
    /// At most this many sample values are kept (oldest pruned first); 0 records none.
    pub max_sample_rows: u64,
    /// At most this many push records are kept (oldest pruned first); 0 for no limit.
    pub max_records: u64,
}

impl Retention {
    /// Whether sample values are recorded at all.
    pub fn records_values(&self) -> bool {
        self.max_sample_rows > 0
    }
}

/// What the HTTP layer knows about a change request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    /// `PUT`, `POST`, `DELETE` or `WIPE`.
    pub(crate) method: String,
    /// The request path as sent.
    pub(crate) path: String,
    pub(crate) client_address: Option<String>,
    /// The authenticated user, with basic auth.
    pub(crate) user: Option<String>,
    /// Body size as received.
    pub(crate) body_bytes: usize,
}

/// Which history records to list (`GET /api/v1/history`, an opened group's recent pushes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HistoryQuery {
    /// Exactly this group (its canonical grouping key).
    pub(crate) grouping_key: Option<String>,
    /// Grouping labels the record's group must have (name, value).
    pub(crate) labels: Vec<(String, String)>,
    /// Records at or after this time (Unix ns).
    pub(crate) from_ns: Option<i64>,
    /// Records before this time (Unix ns).
    pub(crate) to_ns: Option<i64>,
    /// `accepted` or `rejected`.
    pub(crate) outcome: Option<String>,
    /// Only records with an id below this (the previous page's last id).
    pub(crate) before_id: Option<i64>,
    /// Page size.
    pub(crate) limit: u32,
}

/// One recorded change request, as listed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistoryRecord {
    pub(crate) id: i64,
    /// When it was handled, RFC 3339 in UTC, and the same in Unix ns.
    pub(crate) time: String,
    pub(crate) time_ns: i64,
    pub(crate) method: String,
    pub(crate) path: String,
    /// The group, when the path named a valid one: canonical key and labels as JSON.
    pub(crate) grouping_key: Option<String>,
    pub(crate) labels: Option<String>,
    pub(crate) status: i64,
    /// `accepted` or `rejected`.
    pub(crate) outcome: String,
    pub(crate) error: Option<String>,
    pub(crate) body_bytes: i64,
    pub(crate) families: Option<i64>,
    pub(crate) series: Option<i64>,
    pub(crate) client_address: Option<String>,
    pub(crate) user: Option<String>,
    /// The series selector of a delete by label matcher (`DELETE_GROUPS`).
    pub(crate) selector: Option<String>,
}

impl HistoryRecord {
    /// Whether the request was accepted.
    pub(crate) fn accepted(&self) -> bool {
        self.outcome == "accepted"
    }
}
