//! SQL of the series endpoint: a group's history records in a time range, newest first up to
//! a bounded number of records and values, with the wipes that deleted it.

use rusqlite::{params, Connection};

use crate::history::series::{SeriesRecord, SeriesRecords, MAX_RECORDS, MAX_SAMPLES};

/// The records of the group `grouping_key` (and every wipe) from `from_ns` up to `to_ns`
/// (excluded), oldest first: at most [`MAX_RECORDS`], and no older ones once their values
/// pass [`MAX_SAMPLES`]; `truncated` says when older ones in the range were left out.
pub(crate) fn group_records(
    conn: &Connection,
    grouping_key: &str,
    from_ns: i64,
    to_ns: i64,
) -> rusqlite::Result<SeriesRecords> {
    // Each part walks the (grouping_key, time_ns) index backwards and stops at the limit, so
    // no more than that many records are read however long the range (a wipe's record has no
    // group); the union of the two is then put in commit order.
    let mut stmt = conn.prepare_cached(
        "SELECT * FROM (
             SELECT id, time_ns, time, method, status, outcome = 'accepted', error, samples,
                    sample_count
             FROM push_history
             WHERE grouping_key = ?1 AND time_ns >= ?2 AND time_ns < ?3
             ORDER BY time_ns DESC, id DESC
             LIMIT ?4)
         UNION ALL
         SELECT * FROM (
             SELECT id, time_ns, time, method, status, outcome = 'accepted', error, NULL, 0
             FROM push_history
             WHERE grouping_key IS NULL AND method = 'WIPE' AND time_ns >= ?2 AND time_ns < ?3
             ORDER BY time_ns DESC, id DESC
             LIMIT ?4)
         ORDER BY id DESC
         LIMIT ?4",
    )?;
    let mut rows = stmt.query(params![grouping_key, from_ns, to_ns, MAX_RECORDS + 1])?;
    let mut read = SeriesRecords::default();
    let mut samples = 0u64;
    while let Some(row) = rows.next()? {
        let count: i64 = row.get(8)?;
        samples += count.max(0) as u64;
        if read.records.len() == MAX_RECORDS as usize || samples > MAX_SAMPLES {
            read.truncated = true;
            break;
        }
        read.records.push(SeriesRecord {
            id: row.get(0)?,
            time_ns: row.get(1)?,
            time: row.get(2)?,
            method: row.get(3)?,
            status: row.get(4)?,
            accepted: row.get(5)?,
            error: row.get(6)?,
            samples: row.get(7)?,
        });
    }
    read.records.reverse();
    Ok(read)
}
