//! Pushed history: what every change request was, who sent it and how it ended, plus the sample
//! values of accepted pushes, kept in the same database so operators can answer questions with
//! plain SQL (`docs/sql.md`). Records are written in the transaction of the change they record;
//! pruning runs in the background.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::gateway::Gateway;
use crate::store::history::{prune, row_counts};

use crate::go_strconv::format_float;
use crate::grouping_key::GroupingKey;
use crate::proto::{Metric, MetricFamily, MetricType};

/// How much history is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Records and values older than this are pruned.
    pub max_age: Duration,
    /// At most this many sample values are kept (oldest pruned first); 0 records none.
    pub max_sample_rows: u64,
}

impl Retention {
    /// Whether sample values are recorded at all.
    pub fn records_values(&self) -> bool {
        self.max_sample_rows > 0
    }
}

/// What the HTTP layer knows about a change request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `PUT`, `POST`, `DELETE` or `WIPE`.
    pub method: String,
    /// The request path as sent.
    pub path: String,
    pub client_address: Option<String>,
    /// The authenticated user, with basic auth.
    pub user: Option<String>,
    /// Body size as received.
    pub body_bytes: usize,
}

/// The user a request authenticated as, put into the request's extensions by the auth layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser(pub String);

/// The values of a push as the `push_history.samples` column holds them: a JSON array of
/// `{"m": metric, "l": labels, "v": value}`, one object per value line of the text exposition
/// (`l`, the sample's labels beyond the grouping labels, left out when empty; a value JSON
/// cannot hold as a number written as Go formats it: `"NaN"`, `"+Inf"`). Written straight into
/// one buffer, with short keys, because it is built for every push.
#[derive(Debug)]
pub struct SampleJson {
    out: Vec<u8>,
    count: usize,
}

impl Default for SampleJson {
    fn default() -> Self {
        SampleJson::new()
    }
}

impl SampleJson {
    /// An empty array.
    pub fn new() -> SampleJson {
        SampleJson {
            out: b"[".to_vec(),
            count: 0,
        }
    }

    /// Adds the samples of a family sanitised for `key`.
    pub fn add_family(&mut self, family: &MetricFamily, key: &GroupingKey) {
        let name = family.name();
        for m in &family.metric {
            let mut add = |suffix: &str, extra: Option<(&str, f64)>, value: f64| {
                self.add_sample(name, suffix, m, key, extra, value);
            };
            match family.r#type() {
                MetricType::Counter => add(
                    "",
                    None,
                    m.counter.as_ref().and_then(|c| c.value).unwrap_or(0.0),
                ),
                MetricType::Gauge => add(
                    "",
                    None,
                    m.gauge.as_ref().and_then(|g| g.value).unwrap_or(0.0),
                ),
                MetricType::Untyped => add(
                    "",
                    None,
                    m.untyped.as_ref().and_then(|u| u.value).unwrap_or(0.0),
                ),
                MetricType::Summary => {
                    if let Some(s) = &m.summary {
                        for q in &s.quantile {
                            add(
                                "",
                                Some(("quantile", q.quantile.unwrap_or(0.0))),
                                q.value.unwrap_or(0.0),
                            );
                        }
                        add("_sum", None, s.sample_sum.unwrap_or(0.0));
                        add("_count", None, s.sample_count.unwrap_or(0) as f64);
                    }
                }
                MetricType::Histogram | MetricType::GaugeHistogram => {
                    if let Some(h) = &m.histogram {
                        for b in &h.bucket {
                            let count = b
                                .cumulative_count_float
                                .filter(|c| *c > 0.0)
                                .unwrap_or(b.cumulative_count.unwrap_or(0) as f64);
                            add("_bucket", Some(("le", b.upper_bound.unwrap_or(0.0))), count);
                        }
                        add("_sum", None, h.sample_sum.unwrap_or(0.0));
                        let count = h
                            .sample_count_float
                            .filter(|c| *c > 0.0)
                            .unwrap_or(h.sample_count.unwrap_or(0) as f64);
                        add("_count", None, count);
                    }
                }
            }
        }
    }

    fn add_sample(
        &mut self,
        name: &str,
        suffix: &str,
        m: &Metric,
        key: &GroupingKey,
        extra: Option<(&str, f64)>,
        value: f64,
    ) {
        let out = &mut self.out;
        if self.count > 0 {
            out.push(b',');
        }
        self.count += 1;
        out.extend_from_slice(b"{\"m\":");
        write_json_string(out, &format!("{name}{suffix}"));
        let mut labels = m
            .label
            .iter()
            .filter(|l| key.get(l.name()).is_none())
            .map(|l| (l.name(), std::borrow::Cow::Borrowed(l.value())))
            .chain(extra.map(|(n, v)| (n, std::borrow::Cow::Owned(format_float(v)))))
            .peekable();
        if labels.peek().is_some() {
            out.extend_from_slice(b",\"l\":{");
            for (i, (n, v)) in labels.enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(out, n);
                out.push(b':');
                write_json_string(out, &v);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b",\"v\":");
        if value.is_finite() {
            let _ = serde_json::to_writer(&mut *out, &value);
        } else {
            write_json_string(out, &format_float(value));
        }
        out.push(b'}');
    }

    /// Number of samples added.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The JSON text.
    pub fn finish(mut self) -> String {
        self.out.push(b']');
        // Only UTF-8 strings and ASCII punctuation were written.
        String::from_utf8(self.out).unwrap_or_else(|_| "[]".to_string())
    }
}

fn write_json_string(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(out, s);
}

/// How often the history is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The background thread that prunes the history, so pushes never pay for it.
#[derive(Debug)]
pub struct Pruner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Pruner {
    /// Starts pruning now and then every minute, on a pooled connection of its own.
    pub fn start(gateway: Arc<Gateway>) -> Pruner {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("history-pruner".into())
            .spawn(move || {
                let mut next = Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    if Instant::now() >= next {
                        prune_once(&gateway);
                        next = Instant::now() + PRUNE_EVERY;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
            .ok();
        Pruner { stop, thread }
    }

    /// Stops the thread and waits for a pass in progress to finish.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One pruning pass; failures are logged and retried on the next pass.
pub fn prune_once(gateway: &Gateway) {
    let retention = gateway.retention();
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let cutoff = now_ns.saturating_sub(retention.max_age.as_nanos().min(i64::MAX as u128) as i64);
    let result = gateway
        .pool()
        .get()
        .map_err(|e| e.to_string())
        .and_then(|mut conn| {
            let pruned =
                prune(&mut conn, cutoff, retention.max_sample_rows).map_err(|e| e.to_string())?;
            let (records, samples) = row_counts(&conn).map_err(|e| e.to_string())?;
            gateway.set_history_rows(records.max(0) as u64, samples.max(0) as u64);
            Ok(pruned)
        });
    match result {
        Ok(p) if p.records > 0 || p.samples > 0 => log::debug!(
            "pruned {} history records and {} sample values",
            p.records,
            p.samples
        ),
        Ok(_) => {}
        Err(e) => log::warn!("pruning the pushed history: {e}"),
    }
}

/// Default and largest page of `GET /api/v1/history`.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// Parses the query string of `GET /api/v1/history`: `from` and `to` (RFC 3339 or Unix
/// seconds), `outcome` (`accepted`/`rejected`), `limit` (1-1000, default 100), `before_id`
/// (the `next_before_id` of the previous page); every other parameter is a grouping label the
/// record must have (`job=backup`); `label.<name>=` names a label whose name is one of these.
pub fn parse_query(query: &str) -> Result<crate::store::history::HistoryQuery, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query)?;
    let mut q = crate::store::history::HistoryQuery {
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

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, String> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .map_err(|e| format!("invalid query string: {e}"))
}

/// RFC 3339 (`2026-11-23T10:00:00Z`) or Unix seconds (`1795000000.5`), as Unix ns.
fn parse_time(value: &str) -> Result<i64, String> {
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
pub fn history_document(rows: &[crate::store::history::HistoryRow], limit: u32) -> String {
    let pushes: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
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
            })
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
    use crate::proto::{Bucket, Histogram, LabelPair, Quantile, Summary};

    fn key() -> GroupingKey {
        GroupingKey::from_labels([("job".to_string(), "j".to_string())]).unwrap()
    }

    fn json_of(family: &MetricFamily) -> (String, usize) {
        let mut json = SampleJson::new();
        json.add_family(family, &key());
        let count = json.count();
        (json.finish(), count)
    }

    #[test]
    fn histogram_samples_follow_the_text_exposition() {
        let family = MetricFamily {
            name: Some("h".into()),
            r#type: Some(MetricType::Histogram as i32),
            metric: vec![Metric {
                label: vec![LabelPair::new("job", "j"), LabelPair::new("x", "a\"b")],
                histogram: Some(Histogram {
                    sample_count: Some(3),
                    sample_sum: Some(4.5),
                    bucket: vec![Bucket {
                        cumulative_count: Some(2),
                        upper_bound: Some(1.0),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let (json, count) = json_of(&family);
        assert_eq!(count, 3);
        assert_eq!(
            json,
            r#"[{"m":"h_bucket","l":{"x":"a\"b","le":"1"},"v":2.0},{"m":"h_sum","l":{"x":"a\"b"},"v":4.5},{"m":"h_count","l":{"x":"a\"b"},"v":3.0}]"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[0]["l"]["x"], "a\"b");
    }

    #[test]
    fn summary_samples_carry_the_quantile_label_and_non_finite_values_are_strings() {
        let family = MetricFamily {
            name: Some("s".into()),
            r#type: Some(MetricType::Summary as i32),
            metric: vec![Metric {
                summary: Some(Summary {
                    sample_count: Some(2),
                    sample_sum: Some(f64::NAN),
                    quantile: vec![Quantile {
                        quantile: Some(0.5),
                        value: Some(f64::INFINITY),
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let (json, _) = json_of(&family);
        assert_eq!(
            json,
            r#"[{"m":"s","l":{"quantile":"0.5"},"v":"+Inf"},{"m":"s_sum","v":"NaN"},{"m":"s_count","v":2.0}]"#
        );
    }

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
