//! The `current_samples` view, read as an operator would (`sqlite3 -readonly` on the database
//! file while the gateway runs), holds exactly the series `/metrics` exposes for the pushed
//! groups: after PUTs, POSTs that replace some families, DELETEs, rejected pushes, restarts,
//! with values not recorded in the history, and after the history of a group was pruned.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{pushed_part, Process};

/// One series: metric name, all its labels, and its value as text that compares exactly
/// (a float's shortest round-trip form, or `NaN`, `+Inf`, `-Inf`).
type Series = (String, BTreeMap<String, String>, String);

fn value_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:?}")
    }
}

/// The sample lines of a text exposition (label values unescaped).
fn parse_exposition(text: &str) -> Vec<Series> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("unparsable line {line:?}"),
        };
        let mut labels = BTreeMap::new();
        let mut rest = rest;
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut end = 0;
            loop {
                // name="value",
                let mut label = String::new();
                for (i, c) in chars.by_ref() {
                    if c == '=' {
                        break;
                    }
                    if c == '}' {
                        end = i + 1;
                        break;
                    }
                    label.push(c);
                }
                if end > 0 {
                    break;
                }
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                let mut value = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next().map(|(_, c)| c) {
                            Some('n') => value.push('\n'),
                            Some(c) => value.push(c),
                            None => {}
                        },
                        '"' => break,
                        c => value.push(c),
                    }
                }
                labels.insert(label.trim_start_matches(',').to_string(), value);
                if let Some(&(i, '}')) = chars.peek() {
                    end = i + 1;
                    break;
                }
            }
            rest = &body[end..];
        }
        let value = rest.trim().split(' ').next().unwrap();
        let value = match value {
            "NaN" | "+Inf" | "-Inf" => value.to_string(),
            v => value_text(v.parse().unwrap_or_else(|_| panic!("value of {line:?}"))),
        };
        out.push((name.to_string(), labels, value));
    }
    out.sort();
    out
}

/// What `/metrics` exposes for the pushed groups.
async fn exposed(p: &Process) -> Vec<Series> {
    parse_exposition(&pushed_part(&p.client().get("/metrics").await.body))
}

/// Runs `sql` with the SQLite shell on a read-only connection; the rows as JSON objects.
fn sqlite_json(db: &Path, sql: &str) -> Vec<Value> {
    let out = Command::new("sqlite3")
        .args(["-readonly", "-json"])
        .arg(db)
        .arg(sql)
        .output()
        .expect("run sqlite3 (scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    if text.trim().is_empty() {
        return Vec::new();
    }
    serde_json::from_str(&text).unwrap()
}

/// `current_samples` as the SQLite shell reads it.
fn current_samples(db: &Path) -> Vec<Series> {
    let mut rows: Vec<Series> = sqlite_json(
        db,
        "SELECT metric, labels, value, \"group\", job, pushed FROM current_samples",
    )
    .into_iter()
    .map(|row| {
        let labels: BTreeMap<String, String> =
            serde_json::from_str(row["labels"].as_str().unwrap()).unwrap();
        assert_eq!(row["job"].as_str(), labels.get("job").map(String::as_str));
        assert!(row["group"].as_str().unwrap().starts_with('{'), "{row}");
        let value = match &row["value"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => value_text(n.as_f64().unwrap()),
            other => panic!("value {other}"),
        };
        (row["metric"].as_str().unwrap().to_string(), labels, value)
    })
    .collect();
    rows.sort();
    rows
}

async fn assert_same(p: &Process, db: &Path, when: &str) {
    let exposed = exposed(p).await;
    assert!(!exposed.is_empty(), "{when}: something is exposed");
    let current = current_samples(db);
    assert_eq!(current, exposed, "{when}: current_samples equals /metrics");
}

async fn push(p: &Process, method: &str, path: &str, body: &str, status: u16) {
    let reply = p.client().send(method, path, body).await;
    assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
}

const FIRST: &str = "\
# TYPE backup_bytes gauge
backup_bytes{target=\"s3\"} 1.25e9
backup_bytes{target=\"disk\"} 7
# TYPE records_total counter
records_total 12
# TYPE latency_seconds histogram
latency_seconds_bucket{le=\"0.5\"} 3
latency_seconds_bucket{le=\"1\"} 4
latency_seconds_sum 2.5
latency_seconds_count 5
# TYPE rpc_seconds summary
rpc_seconds{quantile=\"0.5\"} 0.25
rpc_seconds_sum 3.5
rpc_seconds_count 9
odd{x=\"a \\\"quoted\\\" \\\\ value\"} NaN
";

#[actix_web::test]
async fn current_samples_equals_metrics_through_pushes_deletes_restarts_and_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let p = Process::start(&db, &[]);
    push(&p, "PUT", "/metrics/job/backup/instance/a", FIRST, 200).await;
    push(&p, "PUT", "/metrics/job/backup/instance/b", FIRST, 200).await;
    assert_same(&p, &db, "after PUTs").await;

    // A POST replaces only the families it pushes; the others keep their values.
    let post = "# TYPE backup_bytes gauge\nbackup_bytes{target=\"s3\"} 2.5e9\nnew_one -Inf\n";
    push(&p, "POST", "/metrics/job/backup/instance/a", post, 200).await;
    // A rejected push (a type change) sets push_failure_time_seconds and changes nothing else.
    push(
        &p,
        "POST",
        "/metrics/job/backup/instance/a",
        "# TYPE records_total gauge\nrecords_total 1\n",
        400,
    )
    .await;
    // A PUT drops the families it does not push again.
    push(
        &p,
        "PUT",
        "/metrics/job/backup/instance/b",
        "# TYPE records_total counter\nrecords_total 13\n",
        200,
    )
    .await;
    push(&p, "PUT", "/metrics/job/gone", "x 1\n", 200).await;
    push(&p, "DELETE", "/metrics/job/gone", "", 202).await;
    assert_same(&p, &db, "after POSTs, a rejected push and a DELETE").await;
    let backup: Vec<Value> = sqlite_json(
        &db,
        "SELECT \"group\", value FROM current_samples
         WHERE metric = 'backup_bytes' ORDER BY value DESC",
    );
    // The POST replaced the family: only its one series is left; b's PUT dropped it.
    assert_eq!(backup.len(), 1, "{backup:?}");
    assert_eq!(backup[0]["value"].as_f64(), Some(2.5e9));

    // A restart: the same rows, from the file.
    assert!(p.terminate().success());
    let p = Process::start(&db, &[]);
    assert_same(&p, &db, "after a restart").await;

    // Values not recorded in the history: each push's record holds them only while a
    // current family shows them.
    assert!(p.terminate().success());
    let p = Process::start(&db, &["--history.max-rows=0"]);
    push(
        &p,
        "PUT",
        "/metrics/job/quiet",
        "# TYPE records_total counter\nrecords_total 1\n",
        200,
    )
    .await;
    push(&p, "PUT", "/metrics/job/quiet", FIRST, 200).await;
    push(
        &p,
        "POST",
        "/metrics/job/backup/instance/a",
        "# TYPE records_total counter\nrecords_total 99\n",
        200,
    )
    .await;
    assert_same(&p, &db, "with values not recorded").await;
    let recorded: Vec<Value> = sqlite_json(
        &db,
        "SELECT count(*) AS n FROM push_history WHERE grouping_key = '{job=\"quiet\"}' AND samples IS NOT NULL",
    );
    assert_eq!(recorded[0]["n"], 0, "no values were recorded for it");
    // The pruner (a pass at start-up) lets the first PUT's values go: the second replaced
    // all of them. The second PUT's and the POST's stay.
    assert!(p.terminate().success());
    let p = Process::start(&db, &["--history.max-rows=0"]);
    let held = "SELECT count(*) AS n FROM push_history WHERE held_samples IS NOT NULL";
    let deadline = Instant::now() + Duration::from_secs(30);
    while sqlite_json(&db, held)[0]["n"] != 2 {
        assert!(
            Instant::now() < deadline,
            "the pruner let the first PUT's values go"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_same(&p, &db, "with values not recorded, after a restart").await;

    // Values recorded again, then every record but the newest pruned (the pruner runs at
    // start-up): the current values stay, in the family rows.
    assert!(p.terminate().success());
    let p = Process::start(&db, &[]);
    push(&p, "PUT", "/metrics/job/quiet", FIRST, 200).await;
    push(
        &p,
        "POST",
        "/metrics/job/backup/instance/a",
        "# TYPE records_total counter\nrecords_total 100\n",
        200,
    )
    .await;
    assert_same(&p, &db, "with values recorded again").await;
    assert!(p.terminate().success());
    let p = Process::start(&db, &["--history.max-records=1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sqlite_json(&db, "SELECT count(*) AS n FROM push_history")[0]["n"] != 1 {
        assert!(Instant::now() < deadline, "the pruner pruned the history");
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<Value> = sqlite_json(
        &db,
        "SELECT count(*) AS n FROM push_history WHERE grouping_key = '{job=\"quiet\"}'",
    );
    assert_eq!(left[0]["n"], 0, "the quiet group's history is gone");
    assert_same(&p, &db, "after the history was pruned").await;

    // Values pruned from records that stay (--history.max-rows) are kept the same way.
    assert!(p.terminate().success());
    let p = Process::start(&db, &[]);
    push(&p, "PUT", "/metrics/job/values", FIRST, 200).await;
    push(
        &p,
        "POST",
        "/metrics/job/values",
        "# TYPE records_total counter\nrecords_total 5\n",
        200,
    )
    .await;
    assert!(p.terminate().success());
    let p = Process::start(&db, &["--history.max-rows=1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sqlite_json(
        &db,
        "SELECT coalesce(sum(sample_count), 0) AS n FROM push_history",
    )[0]["n"]
        != 1
    {
        assert!(Instant::now() < deadline, "the pruner pruned the values");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_same(&p, &db, "after the values were pruned").await;
    assert!(p.terminate().success());
}
