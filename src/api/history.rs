//! `GET /api/v1/history` (not in upstream): its query string and its JSON answer. The records
//! come from the gateway ([`crate::gateway::Gateway::history`]).

use crate::history::{HistoryQuery, HistoryRecord};

/// Default and largest page of `GET /api/v1/history`.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// Parses the query string of `GET /api/v1/history`: `from` and `to` (RFC 3339 or Unix
/// seconds), `outcome` (`accepted`/`rejected`), `limit` (1-1000, default 100), `before_id`
/// (the `next_before_id` of the previous page); every other parameter is a grouping label the
/// record must have (`job=backup`); `label.<name>=` names a label whose name is one of these.
pub(crate) fn parse_query(query: &str) -> Result<HistoryQuery, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query)?;
    let mut q = HistoryQuery {
        limit: DEFAULT_PAGE,
        ..Default::default()
    };
    for (name, value) in pairs {
        match name.as_str() {
            "from" => q.from_ns = Some(parse_time(&value)?),
            "to" => q.to_ns = Some(parse_time(&value)?),
            "outcome" if value == "accepted" || value == "rejected" => q.outcome = Some(value),
            "outcome" => {
                return Err(format!(
                    "outcome must be accepted or rejected, not {value:?}"
                ))
            }
            "limit" => {
                q.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| format!("limit must be a number from 1 to {MAX_PAGE}"))?
            }
            "before_id" => {
                q.before_id = Some(
                    value
                        .parse()
                        .map_err(|_| "before_id must be a number".to_string())?,
                )
            }
            _ => {
                let label = name.strip_prefix("label.").unwrap_or(&name).to_string();
                q.labels.push((label, value));
            }
        }
    }
    Ok(q)
}

pub(crate) fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, String> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .map_err(|e| format!("invalid query string: {e}"))
}

/// RFC 3339 (`2026-11-23T10:00:00Z`) or Unix seconds (`1795000000.5`), as Unix ns.
pub(crate) fn parse_time(value: &str) -> Result<i64, String> {
    if let Ok(ts) = value.parse::<jiff::Timestamp>() {
        // Times past 2262 do not fit Unix nanoseconds; they are later than any record.
        return Ok(i64::try_from(ts.as_nanosecond()).unwrap_or(i64::MAX));
    }
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite())
        .map(|s| (s * 1e9) as i64)
        .ok_or_else(|| format!("invalid time {value:?}: use RFC 3339 or Unix seconds"))
}

/// The JSON answer of `GET /api/v1/history`.
pub(crate) fn history_document(rows: &[HistoryRecord], limit: u32) -> String {
    let pushes: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut record = serde_json::json!({
                "id": r.id,
                "time": r.time,
                "time_ns": r.time_ns,
                "method": r.method,
                "path": r.path,
                "grouping_key": r.grouping_key,
                "labels": r.labels.as_deref().and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok()),
                "status": r.status,
                "outcome": r.outcome,
                "error": r.error,
                "body_bytes": r.body_bytes,
                "families": r.families,
                "series": r.series,
                "client_address": r.client_address,
                "user": r.user,
            });
            // Only deletes by label matcher have one.
            if let Some(selector) = &r.selector {
                record["selector"] = selector.as_str().into();
            }
            record
        })
        .collect();
    // A full page may have more behind it; its last id is where the next page starts.
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    serde_json::json!({"status": "success", "data": {"pushes": pushes, "next_before_id": next}})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_queries_separate_labels_from_their_own_parameters() {
        let q = parse_query("job=backup&label.limit=x&outcome=rejected&limit=5&from=2026-11-23T00:00:00Z&to=1795000000").unwrap();
        assert_eq!(
            q.labels,
            [
                ("job".to_string(), "backup".to_string()),
                ("limit".to_string(), "x".to_string())
            ]
        );
        assert_eq!(q.outcome.as_deref(), Some("rejected"));
        assert_eq!(q.limit, 5);
        assert_eq!(q.from_ns, Some(1_795_392_000_000_000_000));
        assert_eq!(q.to_ns, Some(1_795_000_000_000_000_000));
        assert!(parse_query("limit=0").is_err());
        assert!(parse_query("outcome=maybe").is_err());
        assert!(parse_query("from=yesterday").is_err());
        assert_eq!(parse_query("").unwrap().limit, 100);
    }
}
