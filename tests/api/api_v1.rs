//! The JSON API under `/api/v1/` and `/-/healthy`, compared with upstream's answers.
//! See: upstream's api/v1/api.go and api/v1/api_test.go.

use base64::Engine as _;
use pushgateway::go_strconv::format_float;
use pushgateway::proto::{
    Bucket, BucketSpan, Histogram, LabelPair, Metric, MetricFamily, MetricType, Summary,
};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp};
use crate::wire::{delimited, PROTO};

const CORS: [(&str, &str); 5] = [
    (
        "access-control-allow-headers",
        "Accept, Authorization, Content-Type, Origin",
    ),
    ("access-control-allow-methods", "GET, POST, DELETE, OPTIONS"),
    ("access-control-allow-origin", "*"),
    ("access-control-expose-headers", "Date"),
    ("cache-control", "no-cache, no-store, must-revalidate"),
];

const INSTANCE: &str = r#"inst'a"n\ce1"#;

fn assert_cors(r: &Reply) {
    for (name, value) in CORS {
        assert_eq!(
            r.headers.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name}"
        );
    }
}

fn assert_no_cors(r: &Reply) {
    for (name, _) in CORS {
        assert!(r.headers.get(name).is_none(), "{name} on {}", r.status);
    }
}

fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

fn span(offset: i32, length: u32) -> BucketSpan {
    BucketSpan {
        offset: Some(offset),
        length: Some(length),
    }
}

fn series(testing: &str, histogram: Histogram) -> Metric {
    Metric {
        label: vec![LabelPair::new("testing", testing)],
        histogram: Some(Box::new(histogram)),
        ..Default::default()
    }
}

/// Upstream TestMetricsAPI's families: summary `mf1` and histogram `mfh` with four series.
fn upstream_families() -> Vec<MetricFamily> {
    let bucket = |ub: f64, c: u64| Bucket {
        upper_bound: Some(ub),
        cumulative_count: Some(c),
        ..Default::default()
    };
    let fbucket = |ub: f64, c: f64| Bucket {
        upper_bound: Some(ub),
        cumulative_count_float: Some(c),
        ..Default::default()
    };
    let mf1 = MetricFamily {
        name: Some("mf1".into()),
        r#type: Some(MetricType::Summary as i32),
        metric: vec![Metric {
            label: vec![
                LabelPair::new("instance", INSTANCE),
                LabelPair::new("job", "Björn"),
            ],
            summary: Some(Box::new(Summary {
                sample_count: Some(0),
                sample_sum: Some(0.0),
                ..Default::default()
            })),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mfh = MetricFamily {
        name: Some("mfh".into()),
        r#type: Some(MetricType::Histogram as i32),
        metric: vec![
            series(
                "int classic histogram",
                Histogram {
                    sample_count: Some(20),
                    sample_sum: Some(99.23),
                    bucket: vec![bucket(250000.0, 3), bucket(500000.0, 17)],
                    ..Default::default()
                },
            ),
            series(
                "float classic histogram",
                Histogram {
                    sample_count_float: Some(20.0),
                    sample_sum: Some(99.23),
                    bucket: vec![fbucket(250000.0, 3.0), fbucket(500000.0, 17.0)],
                    ..Default::default()
                },
            ),
            series(
                "int native histogram",
                Histogram {
                    sample_count: Some(20),
                    sample_sum: Some(99.23),
                    schema: Some(1),
                    negative_delta: vec![0, 2, -2, 0],
                    positive_delta: vec![0, 2, -2, 0],
                    positive_span: vec![span(0, 2), span(0, 2)],
                    negative_span: vec![span(0, 2), span(0, 2)],
                    ..Default::default()
                },
            ),
            series(
                "float native histogram",
                Histogram {
                    sample_count_float: Some(20.0),
                    sample_sum: Some(99.23),
                    schema: Some(1),
                    negative_count: vec![2.0, 2.0, -2.0, 0.0],
                    positive_count: vec![2.0, 2.0, -2.0, 0.0],
                    positive_span: vec![span(0, 2), span(0, 2)],
                    negative_span: vec![span(0, 2), span(0, 2)],
                    ..Default::default()
                },
            ),
        ],
        ..Default::default()
    };
    vec![mf1, mfh]
}

/// Pushes upstream's test group `{job="Björn", instance="inst'a\"n\\ce1"}` as protobuf.
async fn push_upstream_group(app: &TestApp, prefix: &str) {
    let instance = base64::engine::general_purpose::URL_SAFE.encode(INSTANCE);
    let path = format!("{prefix}/metrics/job/Bj%C3%B6rn/instance@base64/{instance}");
    let r = app
        .send_with(
            "PUT",
            &path,
            delimited(&upstream_families()),
            &[("Content-Type", PROTO)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The series of upstream's expected answer for `mfh`, keyed by their `testing` label.
fn expected_histogram_series(testing: &str) -> Value {
    let labels = json!({"instance": INSTANCE, "job": "Björn", "testing": testing});
    let classic = |labels: Value| {
        json!({"buckets": {"250000": "3", "500000": "17"}, "count": "20",
               "labels": labels, "sum": "99.23"})
    };
    match testing {
        "int classic histogram" | "float classic histogram" => classic(labels),
        "int native histogram" => json!({
            "buckets": [[1, "-1.414213562373095", "-1", "2"],
                        [0, "1", "1.414213562373095", "2"]],
            "count": "20", "labels": labels, "sum": "99.23"}),
        _ => json!({
            "buckets": [[1, "-2", "-1.414213562373095", "-2"],
                        [1, "-1.414213562373095", "-1", "2"],
                        [1, "-1", "-0.7071067811865475", "2"],
                        [0, "0.7071067811865475", "1", "2"],
                        [0, "1", "1.414213562373095", "2"],
                        [0, "1.414213562373095", "2", "-2"]],
            "count": "20", "labels": labels, "sum": "99.23"}),
    }
}

#[actix_web::test]
async fn metrics_of_an_empty_store_are_an_empty_array() {
    let app = spawn_app(&[]).await;
    let r = app.get("/api/v1/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, r#"{"status":"success","data":[]}"#);
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_cors(&r);
}

// See: upstream's api/v1/api_test.go, TestMetricsAPI (populated).
#[actix_web::test]
async fn metrics_show_upstreams_example_group_field_by_field() {
    let app = spawn_app(&[]).await;
    push_upstream_group(&app, "").await;
    let r = app.get("/api/v1/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_cors(&r);
    assert!(!r.body.ends_with('\n'));

    let doc: Value = serde_json::from_str(&r.body).expect("JSON");
    assert_eq!(doc["status"], "success");
    let data = doc["data"].as_array().expect("data array");
    assert_eq!(data.len(), 1);
    let group = &data[0];
    let grouping = json!({"instance": INSTANCE, "job": "Björn"});
    let mut keys: Vec<&String> = group.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "labels",
            "last_push_successful",
            "mf1",
            "mfh",
            "push_failure_time_seconds",
            "push_time_seconds"
        ]
    );
    assert_eq!(group["labels"], grouping);
    assert_eq!(group["last_push_successful"], true);

    // Every family carries the push time, RFC 3339 with nanoseconds, equal to push_time_seconds.
    let time_stamp = group["mf1"]["time_stamp"].as_str().unwrap().to_string();
    for family in [
        "mf1",
        "mfh",
        "push_failure_time_seconds",
        "push_time_seconds",
    ] {
        assert_eq!(group[family]["time_stamp"], time_stamp.as_str(), "{family}");
    }
    let pushed: jiff::Timestamp = time_stamp.parse().expect("RFC 3339 time stamp");
    let pushed_seconds = format_float(pushed.as_nanosecond() as f64 / 1e9);
    assert_eq!(
        group["push_time_seconds"],
        json!({
            "time_stamp": time_stamp,
            "type": "GAUGE",
            "help": "Last Unix time when changing this group in the Pushgateway succeeded.",
            "metrics": [{"labels": grouping, "value": pushed_seconds}],
        })
    );
    assert_eq!(
        group["push_failure_time_seconds"],
        json!({
            "time_stamp": time_stamp,
            "type": "GAUGE",
            "help": "Last Unix time when changing this group in the Pushgateway failed.",
            "metrics": [{"labels": grouping, "value": "0"}],
        })
    );

    // No HELP: no `help` key at all.
    assert_eq!(
        group["mf1"],
        json!({
            "time_stamp": time_stamp,
            "type": "SUMMARY",
            "metrics": [{"count": "0", "labels": grouping, "quantiles": {}, "sum": "0"}],
        })
    );

    let mfh = &group["mfh"];
    assert_eq!(mfh["type"], "HISTOGRAM");
    assert!(mfh.get("help").is_none());
    let metrics = mfh["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 4);
    for testing in [
        "int classic histogram",
        "float classic histogram",
        "int native histogram",
        "float native histogram",
    ] {
        let got = metrics
            .iter()
            .find(|m| m["labels"]["testing"] == testing)
            .unwrap_or_else(|| panic!("series {testing}"));
        assert_eq!(got, &expected_histogram_series(testing), "{testing}");
    }

    // Go's encoding: sorted keys, family fields in struct order, `\"` and `\\` escapes.
    assert!(r.body.starts_with(concat!(
        r#"{"status":"success","data":[{"labels":{"instance":"inst'a\"n\\ce1","job":"Björn"},"#,
        r#""last_push_successful":true,"mf1":{"time_stamp":"#
    )));
    assert!(r
        .body
        .contains(r#","type":"SUMMARY","metrics":[{"count":"0","labels""#));
}

#[actix_web::test]
async fn metrics_escape_html_characters_like_go() {
    let app = spawn_app(&[]).await;
    let body = "# HELP c_metric Tags like <b> & co.\n# TYPE c_metric counter\nc_metric{lbl=\"<b>x</b>\"} 1e21\n";
    assert_eq!(app.put("/metrics/job/stat", body).await.status, 200);
    let r = app.get("/api/v1/metrics").await;
    assert!(
        r.body
            .contains(r#""help":"Tags like \u003cb\u003e \u0026 co.""#),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(concat!(
            r#"{"labels":{"instance":"","job":"stat","lbl":"\u003cb\u003ex\u003c/b\u003e"},"#,
            r#""value":"1e+21"}"#
        )),
        "{}",
        r.body
    );
}

#[actix_web::test]
async fn a_failed_push_shows_in_last_push_successful() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.put("/metrics/job/j", "a 1\n").await.status, 200);
    // A timestamp reaches the store and is recorded as a failed push (as upstream's handler/push.go does).
    assert_eq!(app.put("/metrics/job/j", "a 1 1000\n").await.status, 400);
    let doc: Value = serde_json::from_str(&app.get("/api/v1/metrics").await.body).unwrap();
    assert_eq!(doc["data"][0]["last_push_successful"], false);
    assert_ne!(
        doc["data"][0]["push_failure_time_seconds"]["metrics"][0]["value"],
        "0"
    );
}

#[actix_web::test]
async fn status_reports_flags_build_information_and_start_time() {
    let before = jiff::Timestamp::now();
    let app = spawn_app(&["--web.enable-admin-api", "--persistence.interval=90s"]).await;
    let r = app.get("/api/v1/status").await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_cors(&r);
    let doc: Value = serde_json::from_str(&r.body).expect("JSON");
    assert_eq!(doc["status"], "success");
    let data = &doc["data"];
    let mut keys: Vec<&String> = data.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["build_information", "flags", "start_time"]);

    let flags = &data["flags"];
    assert_eq!(flags["web.enable-admin-api"], "true");
    assert_eq!(flags["web.enable-lifecycle"], "false");
    assert_eq!(flags["web.enable-openmetrics"], "false");
    assert_eq!(flags["persistence.interval"], "1m30s");
    assert_eq!(flags["web.listen-address"], "127.0.0.1:0");
    assert_eq!(flags["web.telemetry-path"], "/metrics");
    assert_eq!(flags["web.route-prefix"], "");
    assert!(flags.as_object().unwrap().values().all(Value::is_string));
    assert!(flags.get("help").is_none() && flags.get("version").is_none());

    let build = data["build_information"].as_object().unwrap();
    let mut build_keys: Vec<&String> = build.keys().collect();
    build_keys.sort();
    assert_eq!(
        build_keys,
        [
            "branch",
            "buildDate",
            "buildUser",
            "goVersion",
            "revision",
            "version"
        ]
    );
    assert_eq!(build["version"], env!("CARGO_PKG_VERSION"));

    let start: jiff::Timestamp = data["start_time"]
        .as_str()
        .unwrap()
        .parse()
        .expect("RFC 3339 start time");
    assert!(
        start >= before && start <= jiff::Timestamp::now(),
        "{start}"
    );
    let status_again: Value = serde_json::from_str(&app.get("/api/v1/status").await.body).unwrap();
    assert_eq!(status_again["data"]["start_time"], data["start_time"]);
}

#[actix_web::test]
async fn options_anywhere_under_the_api_is_a_bare_cors_answer() {
    let app = spawn_app(&[]).await;
    for path in ["/api/v1/status", "/api/v1/anything/at/all", "/api/v1/"] {
        let r = app.send("OPTIONS", path, "").await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.body, "", "{path}");
        assert!(r.headers.get("allow").is_none(), "{path}");
        assert_cors(&r);
    }
}

#[actix_web::test]
async fn the_api_routers_own_answers_follow_upstream() {
    let app = spawn_app(&[]).await;
    // Its trailing-slash redirect loses the stripped prefix.
    let r = app.get("/api/v1/status/").await;
    assert_eq!((r.status, header(&r, "location")), (301, "/status"));
    let r = app.get("/api/v1").await;
    assert_eq!((r.status, header(&r, "location")), (301, "/api/v1/"));
    let r = app.get("/api/v1?x=1").await;
    assert_eq!((r.status, header(&r, "location")), (301, "/api/v1/?x=1"));
    let r = app.get("/api/v1/").await;
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"));
    assert_no_cors(&r);
    assert_eq!(app.get("/api/v2/status").await.status, 404);
    let r = app.post("/api/v1/status", "").await;
    assert_eq!((r.status, header(&r, "allow")), (405, "GET, OPTIONS"));
    assert_no_cors(&r);
    let r = app.send("HEAD", "/api/v1/metrics", "").await;
    assert_eq!((r.status, header(&r, "allow")), (405, "GET, OPTIONS"));
    assert_eq!(app.put("/api/v1/admin/wipe", "").await.status, 404);
}

#[actix_web::test]
async fn api_requests_bodies_are_not_decoded() {
    // Upstream's body decoding wraps only the main router.
    let app = spawn_app(&[]).await;
    let gz = [("Content-Encoding", "gzip")];
    let r = app
        .send_with("GET", "/api/v1/status", Vec::new(), &gz)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.send_with("GET", "/-/ready", Vec::new(), &gz).await;
    assert_eq!(r.status, 400);
}

#[actix_web::test]
async fn a_route_prefix_moves_the_api() {
    let app = spawn_app(&["--web.route-prefix=/pg", "--web.enable-admin-api"]).await;
    push_upstream_group(&app, "/pg").await;
    let r = app.get("/pg/api/v1/metrics").await;
    assert_eq!(r.status, 200);
    let doc: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(doc["data"][0]["labels"]["job"], "Björn");
    let status: Value = serde_json::from_str(&app.get("/pg/api/v1/status").await.body).unwrap();
    assert_eq!(status["data"]["flags"]["web.route-prefix"], "/pg");
    assert_eq!(app.get("/api/v1/status").await.status, 404);
    assert_eq!(app.put("/api/v1/admin/wipe", "").await.status, 404);
    let r = app.get("/pg/api/v1/status/").await;
    assert_eq!((r.status, header(&r, "location")), (301, "/status"));
    let r = app.get("/pg/api/v1").await;
    assert_eq!((r.status, header(&r, "location")), (301, "/pg/api/v1/"));
    let r = app.put("/pg/api/v1/admin/wipe", "").await;
    assert_eq!(r.status, 202);
    assert_eq!(
        app.get("/pg/api/v1/metrics").await.body,
        r#"{"status":"success","data":[]}"#
    );
}

#[actix_web::test]
async fn wipe_needs_the_admin_flag_and_empties_the_api_and_metrics() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/a", "x 1\n").await;
    let r = app.put("/api/v1/admin/wipe", "").await;
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"));
    assert_eq!(app.get("/api/v1/admin/wipe").await.status, 404);

    let app = spawn_app(&["--web.enable-admin-api"]).await;
    app.put("/metrics/job/a", "x 1\n").await;
    app.put("/metrics/job/b/instance/i", "y 1\n").await;
    let r = app.put("/api/v1/admin/wipe", "").await;
    assert_eq!((r.status, r.body.as_str()), (202, ""));
    assert_no_cors(&r);
    assert_eq!(
        app.get("/api/v1/metrics").await.body,
        r#"{"status":"success","data":[]}"#
    );
    assert_eq!(app.pushed().await, "");
    let r = app.get("/api/v1/admin/wipe").await;
    assert_eq!((r.status, header(&r, "allow")), (405, "OPTIONS, PUT"));
}

#[actix_web::test]
async fn healthy_answers_ok_while_the_database_takes_writes() {
    let app = spawn_app(&[]).await;
    let r = app.get("/-/healthy").await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK"));

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gw.db");
    let app = spawn_app(&[&format!("--persistence.file={}", db.display())]).await;
    app.put("/metrics/job/a", "x 1\n").await;
    let r = app.get("/-/healthy").await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK"));
    assert_eq!(app.get("/-/ready").await.body, "OK");
}
