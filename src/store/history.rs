//! SQL of the pushed history (`push_history`; see migrations/0002_push_history.sql): writing a
//! record in the transaction of the change it records, listing records, counting them.
//! Pruning is next door, in [`super::prune`].

use rusqlite::{params, Connection, Transaction};

use super::KeyColumns;
use crate::history::{HistoryQuery, HistoryRecord, Request};

/// One history row to write.
#[derive(Debug, Clone, Copy)]
pub struct PushRecord<'a> {
    pub time_ns: i64,
    pub request: &'a Request,
    pub key: Option<&'a KeyColumns>,
    pub status: u16,
    pub error: Option<&'a str>,
    pub families: Option<usize>,
    pub series: Option<usize>,
    /// The accepted push's values as [`crate::history::samples::SampleJson`] writes them, and
    /// their number.
    pub samples: Option<(&'a str, usize)>,
    /// The series selector of a delete by label matcher (`DELETE_GROUPS`); `None` otherwise.
    pub selector: Option<&'a str>,
    /// The same values when they are not recorded in the history: held only while a current
    /// family shows them (`held_samples`, for `current_samples`).
    pub held: Option<&'a str>,
}

impl<'a> PushRecord<'a> {
    /// A record with no family or series counts (deletes, wipes, requests refused early).
    pub fn bare(
        time_ns: i64,
        request: &'a Request,
        key: Option<&'a KeyColumns>,
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
            selector: None,
            held: None,
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
                                   user, samples, sample_count, selector, held_samples)
         VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', ?1 / 1e9, 'unixepoch'), ?2, ?3, ?4, ?5, ?6, ?7,
                 ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        record.time_ns,
        record.request.method,
        record.request.path,
        record.key.map(|k| &k.canonical),
        record.key.map(|k| &k.labels),
        record.key.map(|k| &k.job),
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
        record.selector,
        record.held,
    ])?;
    Ok(tx.last_insert_rowid())
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

/// Lists records, newest first.
pub(crate) fn query(conn: &Connection, q: &HistoryQuery) -> rusqlite::Result<Vec<HistoryRecord>> {
    let mut sql = String::from(
        "SELECT id, time, time_ns, method, path, grouping_key, labels, status, outcome, error,
                body_bytes, families, series, client_address, user, selector
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
        Ok(HistoryRecord {
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
            selector: r.get(15)?,
        })
    })?;
    rows.collect()
}
