//! `GET /api/v1/history/series` (not in upstream): one group's pushed values over time, per
//! series, for the status page's charts and for scripts. Its query string and its JSON
//! answer; the answer is built by the gateway ([`crate::gateway::Gateway::history_series`]).

use serde_json::json;

use crate::grouping_key::GroupingKey;
use crate::history::series::{SeriesAnswer, SeriesQuery, Value};
use crate::names::NameValidation;

/// Points per series when the request does not say; about a sparkline's width in pixels.
const DEFAULT_POINTS: usize = 300;
/// Bounds of `max_points`: at least a few buckets of four, at most a wide screen's pixels.
pub(crate) const MIN_POINTS: usize = 8;
pub(crate) const MAX_POINTS: usize = 2000;
/// The most `metric` parameters one request names.
pub(crate) const MAX_METRICS: usize = 256;

/// Parses the query string: the group as `group=/job/<job>/<name>/<value>…` (the path after
/// `/metrics` of its pushes, `@base64` forms included) or as its grouping labels
/// (`job=backup&instance=a`; `label.<name>=` for a label named like a parameter); `metric`
/// (one or more; a histogram's or summary's `_count` and `_sum` name theirs); `labels`, a
/// JSON object of the series' labels beyond the grouping labels; `from` and `to` (RFC 3339
/// or Unix seconds); `max_points` (8-2000, default 300).
pub(crate) fn parse_query(query: &str, names: NameValidation) -> Result<SeriesQuery, String> {
    let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .map_err(|e| format!("invalid query string: {e}"))?;
    let mut group = None;
    let mut group_labels = Vec::new();
    let mut q = SeriesQuery {
        grouping_key: String::new(),
        metrics: Vec::new(),
        labels: None,
        from_ns: 0,
        to_ns: i64::MAX,
        max_points: DEFAULT_POINTS,
    };
    for (name, value) in pairs {
        match name.as_str() {
            "group" => group = Some(group_from_path(&value, names)?),
            "metric" if value.is_empty() => return Err("metric must not be empty".into()),
            "metric" => q.metrics.push(value),
            "labels" => {
                q.labels = Some(serde_json::from_str(&value).map_err(|_| {
                    format!(
                        "labels must be a JSON object of label names and string values, \
                         like {{\"target\":\"s3\"}}, not {value:?}"
                    )
                })?)
            }
            "from" => q.from_ns = parse_time("from", &value)?,
            "to" => q.to_ns = parse_time("to", &value)?,
            "max_points" => {
                q.max_points = value
                    .parse()
                    .ok()
                    .filter(|n| (MIN_POINTS..=MAX_POINTS).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "max_points must be a number from {MIN_POINTS} to {MAX_POINTS}, \
                             not {value:?}"
                        )
                    })?
            }
            _ => {
                let label = name.strip_prefix("label.").unwrap_or(&name).to_string();
                group_labels.push((label, value));
            }
        }
    }
    let key = match group {
        Some(_) if !group_labels.is_empty() => {
            return Err(format!(
                "name the group either by group= or by its labels, not both (unknown \
                 parameter {:?})",
                group_labels[0].0
            ))
        }
        Some(key) => key,
        None if group_labels.is_empty() => {
            return Err("name the group: group=/job/<job>/… or its labels, like job=backup".into())
        }
        None => GroupingKey::from_labels(group_labels)
            .map_err(|_| "the group's labels must include a non-empty job".to_string())?,
    };
    q.grouping_key = key.canonical();
    if q.metrics.is_empty() {
        return Err("name at least one metric: metric=<name>".into());
    }
    if q.metrics.len() > MAX_METRICS {
        return Err(format!("at most {MAX_METRICS} metric parameters"));
    }
    if q.from_ns >= q.to_ns {
        return Err("from must be before to".into());
    }
    Ok(q)
}

/// The group of a push path after `/metrics`: `/job/<job>{/<name>/<value>}`, any segment
/// with `@base64`.
fn group_from_path(path: &str, names: NameValidation) -> Result<GroupingKey, String> {
    let invalid = |why: String| format!("invalid group {path:?}: {why}");
    let (base64, rest) = if let Some(rest) = path.strip_prefix("/job@base64/") {
        (true, rest)
    } else if let Some(rest) = path.strip_prefix("/job/") {
        (false, rest)
    } else {
        return Err(invalid("expected /job/<job>{/<name>/<value>}".into()));
    };
    let (job, labels) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    GroupingKey::from_path(job, base64, labels, names).map_err(|e| invalid(e.to_string()))
}

/// RFC 3339 (`2026-11-23T10:00:00Z`) or Unix seconds (`1795000000.5`), as Unix ns.
fn parse_time(name: &str, value: &str) -> Result<i64, String> {
    if let Ok(ts) = value.parse::<jiff::Timestamp>() {
        return i64::try_from(ts.as_nanosecond())
            .map_err(|_| format!("{name} is out of range (1677-2262): {value:?}"));
    }
    let seconds = value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite())
        .ok_or_else(|| format!("invalid {name} {value:?}: use RFC 3339 or Unix seconds"))?;
    let ns = seconds * 1e9;
    if ns.abs() >= i64::MAX as f64 {
        return Err(format!("{name} is out of range (1677-2262): {value:?}"));
    }
    Ok(ns as i64)
}

fn value_json(v: Value) -> serde_json::Value {
    match v {
        Value::Number(n) => json!(n),
        Value::NonFinite(s) => json!(s),
    }
}

/// Unix milliseconds (fractional), what a browser's `Date` takes.
fn millis(ns: i64) -> f64 {
    ns as f64 / 1e6
}

/// The JSON answer.
pub(crate) fn series_document(query: &SeriesQuery, answer: &SeriesAnswer) -> String {
    let series: Vec<serde_json::Value> = answer
        .series
        .iter()
        .map(|s| {
            let points: Vec<serde_json::Value> = s
                .points
                .iter()
                .map(|p| {
                    json!({
                        "t": millis(p.time_ns),
                        "time": p.time,
                        "value": value_json(p.value),
                        "push_id": p.push_id,
                        "method": p.method,
                        "outcome": "accepted",
                        "gap_before": p.gap_before,
                    })
                })
                .collect();
            json!({
                "metric": s.metric,
                "labels": s.labels,
                "points_total": s.points_total,
                "downsampled": s.points.len() < s.points_total,
                "min": s.min,
                "max": s.max,
                "points": points,
            })
        })
        .collect();
    let events: Vec<serde_json::Value> = answer
        .events
        .iter()
        .map(|e| {
            json!({
                "t": millis(e.time_ns),
                "time": e.time,
                "push_id": e.push_id,
                "kind": e.kind.name(),
                "method": e.method,
                "status": e.status,
                "error": e.error,
            })
        })
        .collect();
    let time = |ns: i64| {
        jiff::Timestamp::from_nanosecond(ns as i128)
            .ok()
            .map(|t| t.to_string())
    };
    json!({
        "status": "success",
        "data": {
            "grouping_key": query.grouping_key,
            "from": (query.from_ns > 0).then(|| time(query.from_ns)).flatten(),
            "to": (query.to_ns < i64::MAX).then(|| time(query.to_ns)).flatten(),
            "max_points": query.max_points,
            "records": answer.records,
            "truncated": answer.truncated,
            "series": series,
            "events": events,
            "events_total": answer.events_total,
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<SeriesQuery, String> {
        parse_query(q, NameValidation::Utf8)
    }

    #[test]
    fn the_group_is_named_by_path_or_by_labels() {
        let by_path = parse("group=/job/backup/instance/a&metric=x").unwrap();
        let by_labels = parse("instance=a&job=backup&metric=x").unwrap();
        assert_eq!(by_path.grouping_key, "{instance=\"a\",job=\"backup\"}");
        assert_eq!(by_path, by_labels);
        let base64 = parse("group=/job@base64/YmFja3Vw/instance@base64/YQ&metric=x").unwrap();
        assert_eq!(base64.grouping_key, by_path.grouping_key);
        let escaped = parse("job=j&label.metric=m&metric=x").unwrap();
        assert_eq!(escaped.grouping_key, "{job=\"j\",metric=\"m\"}");
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        let error = |q: &str| parse(q).unwrap_err();
        assert!(error("metric=x").contains("name the group"));
        assert!(error("job=j").contains("at least one metric"));
        assert!(error("job=j&metric=x&max_points=5").contains("from 8 to 2000"));
        assert!(error("job=j&metric=x&max_points=2001").contains("from 8 to 2000"));
        assert!(error("job=j&metric=x&from=20&to=10").contains("before"));
        assert!(error("job=j&metric=x&from=yesterday").contains("invalid from"));
        assert!(error("job=j&metric=x&to=1e300").contains("out of range"));
        assert!(error("job=j&metric=x&labels=[1]").contains("JSON object"));
        assert!(error("group=/metrics/job/j&metric=x").contains("invalid group"));
        assert!(error("group=/job/j&instance=a&metric=x").contains("not both"));
        assert!(error("instance=a&metric=x").contains("job"));
        let many = (0..=MAX_METRICS)
            .map(|i| format!("&metric=m{i}"))
            .collect::<String>();
        assert!(error(&format!("job=j{many}")).contains("at most 256"));
        let q = parse(
            "job=j&metric=x&labels={\"t\":\"s3\"}&max_points=20&from=10&to=2026-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(q.max_points, 20);
        assert_eq!(q.from_ns, 10_000_000_000);
        assert_eq!(q.labels.unwrap()["t"], "s3");
        assert_eq!(parse("job=j&metric=x").unwrap().max_points, DEFAULT_POINTS);
    }
}
