//! SQL of the pushed history (`push_history`; see migrations/0002).

use rusqlite::{params, Connection, Transaction};

use crate::grouping_key::GroupingKey;
use crate::history::Request;

/// One history row to write.
#[derive(Debug, Clone, Copy)]
pub struct PushRecord<'a> {
    pub time_ns: i64,
    pub request: &'a Request,
    pub key: Option<&'a GroupingKey>,
    pub status: u16,
    pub error: Option<&'a str>,
    pub families: Option<usize>,
    pub series: Option<usize>,
    /// The accepted push's values as `history::samples_json` writes them, and their number.
    pub samples: Option<(&'a str, usize)>,
}

impl<'a> PushRecord<'a> {
    /// A record with no family or series counts (deletes, wipes, requests refused early).
    pub fn bare(
        time_ns: i64,
        request: &'a Request,
        key: Option<&'a GroupingKey>,
        status: u16,
        error: Option<&'a str>,
    ) -> PushRecord<'a> {
        PushRecord {
            time_ns,
            request,
            key,
            status,
            error,
            families: None,
            series: None,
            samples: None,
        }
    }
}

/// Writes a push record (with its values, for an accepted push); returns its id.
pub fn insert_record(tx: &Transaction<'_>, record: &PushRecord<'_>) -> rusqlite::Result<i64> {
    let outcome = if record.status < 400 {
        "accepted"
    } else {
        "rejected"
    };
    tx.prepare_cached(
        "INSERT INTO push_history (time_ns, time, method, path, grouping_key, labels, job, status,
                                   outcome, error, body_bytes, families, series, client_address,
                                   user, samples, sample_count)
         VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', ?1 / 1e9, 'unixepoch'), ?2, ?3, ?4, ?5, ?6, ?7,
                 ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        record.time_ns,
        record.request.method,
        record.request.path,
        record.key.map(GroupingKey::canonical),
        record.key.map(GroupingKey::to_json),
        record.key.map(|k| k.job().to_string()),
        record.status,
        outcome,
        record.error,
        record.request.body_bytes as i64,
        record.families.map(|n| n as i64),
        record.series.map(|n| n as i64),
        record.request.client_address,
        record.request.user,
        record.samples.map(|(json, _)| json),
        record.samples.map_or(0, |(_, n)| n as i64),
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Rows removed by one pruning pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub records: usize,
    pub samples: usize,
}

/// Rows deleted per statement, so a pruning pass never holds the write lock for long.
const PRUNE_BATCH: i64 = 5_000;

/// Deletes records older than `cutoff_ns`, then drops the values of the oldest pushes until
/// at most `max_samples` values are kept (whole pushes: a push keeps all its values or none).
/// Runs in short transactions so that pushes are not held up.
pub fn prune(conn: &mut Connection, cutoff_ns: i64, max_samples: u64) -> rusqlite::Result<Pruned> {
    let mut pruned = Pruned::default();
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let ids = "SELECT id FROM push_history WHERE time_ns < ?1 ORDER BY id LIMIT ?2";
        let samples: i64 = tx.query_row(
            &format!("SELECT coalesce(sum(sample_count), 0) FROM push_history WHERE id IN ({ids})"),
            params![cutoff_ns, PRUNE_BATCH],
            |r| r.get(0),
        )?;
        let records = tx.execute(
            &format!("DELETE FROM push_history WHERE id IN ({ids})"),
            params![cutoff_ns, PRUNE_BATCH],
        )?;
        tx.commit()?;
        pruned.records += records;
        pruned.samples += samples as usize;
        if records < PRUNE_BATCH as usize {
            break;
        }
    }
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Newest first, the running total of values; pushes past the limit lose theirs.
        let over = "SELECT id FROM (
                        SELECT id, sum(sample_count) OVER (ORDER BY id DESC) AS total
                        FROM push_history WHERE samples IS NOT NULL)
                    WHERE total > ?1 ORDER BY id LIMIT ?2";
        let max = max_samples.min(i64::MAX as u64) as i64;
        let samples: i64 = tx.query_row(
            &format!(
                "SELECT coalesce(sum(sample_count), 0) FROM push_history WHERE id IN ({over})"
            ),
            params![max, PRUNE_BATCH],
            |r| r.get(0),
        )?;
        let cleared = tx.execute(
            &format!(
                "UPDATE push_history SET samples = NULL, sample_count = 0 WHERE id IN ({over})"
            ),
            params![max, PRUNE_BATCH],
        )?;
        tx.commit()?;
        pruned.samples += samples as usize;
        if cleared < PRUNE_BATCH as usize {
            break;
        }
    }
    Ok(pruned)
}

/// Number of rows in the history tables: (records, samples).
pub fn row_counts(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    Ok((
        conn.query_row("SELECT count(*) FROM push_history", [], |r| r.get(0))?,
        conn.query_row(
            "SELECT coalesce(sum(sample_count), 0) FROM push_history",
            [],
            |r| r.get(0),
        )?,
    ))
}

/// Which history records to list (`GET /api/v1/history`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Exactly this group (its canonical grouping key).
    pub grouping_key: Option<String>,
    /// Grouping labels the record's group must have (name, value).
    pub labels: Vec<(String, String)>,
    /// Records at or after this time (Unix ns).
    pub from_ns: Option<i64>,
    /// Records before this time (Unix ns).
    pub to_ns: Option<i64>,
    /// `accepted` or `rejected`.
    pub outcome: Option<String>,
    /// Only records with an id below this (the previous page's last id).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// One record as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub id: i64,
    pub time: String,
    pub time_ns: i64,
    pub method: String,
    pub path: String,
    pub grouping_key: Option<String>,
    pub labels: Option<String>,
    pub status: i64,
    pub outcome: String,
    pub error: Option<String>,
    pub body_bytes: i64,
    pub families: Option<i64>,
    pub series: Option<i64>,
    pub client_address: Option<String>,
    pub user: Option<String>,
}

/// Lists records, newest first.
pub fn query(conn: &Connection, q: &HistoryQuery) -> rusqlite::Result<Vec<HistoryRow>> {
    let mut sql = String::from(
        "SELECT id, time, time_ns, method, path, grouping_key, labels, status, outcome, error,
                body_bytes, families, series, client_address, user
         FROM push_history WHERE 1 = 1",
    );
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    for (name, value) in &q.labels {
        // json_extract takes a JSON path; quoting the name keeps any label name literal.
        args.push(format!("$.{}", serde_json::Value::String(name.clone())).into());
        args.push(value.clone().into());
        sql.push_str(&format!(
            " AND json_extract(labels, ?{}) = ?{}",
            args.len() - 1,
            args.len()
        ));
    }
    let mut bind = |clause: &str, value: rusqlite::types::Value| {
        args.push(value);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(key) = &q.grouping_key {
        bind("grouping_key =", key.clone().into());
    }
    if let Some(from) = q.from_ns {
        bind("time_ns >=", from.into());
    }
    if let Some(to) = q.to_ns {
        bind("time_ns <", to.into());
    }
    if let Some(outcome) = &q.outcome {
        bind("outcome =", outcome.clone().into());
    }
    if let Some(before) = q.before_id {
        bind("id <", before.into());
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", q.limit));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
        Ok(HistoryRow {
            id: r.get(0)?,
            time: r.get(1)?,
            time_ns: r.get(2)?,
            method: r.get(3)?,
            path: r.get(4)?,
            grouping_key: r.get(5)?,
            labels: r.get(6)?,
            status: r.get(7)?,
            outcome: r.get(8)?,
            error: r.get(9)?,
            body_bytes: r.get(10)?,
            families: r.get(11)?,
            series: r.get(12)?,
            client_address: r.get(13)?,
            user: r.get(14)?,
        })
    })?;
    rows.collect()
}
