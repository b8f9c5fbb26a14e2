//! The gateway's own metrics after a mix of requests: upstream's request counter and push
//! summaries (names, types, labels, HELP, as upstream's main.go and handler/push.go register them) and the storage metrics.

use std::collections::BTreeMap;

use pushgateway::names::NameValidation;
use pushgateway::parse::parse_body;
use pushgateway::proto::{MetricFamily, MetricType};

use crate::helpers::{raw_request, spawn_app, TestApp};

/// `/metrics` parsed by the strict text parser, by family name.
async fn scrape(app: &TestApp) -> BTreeMap<String, MetricFamily> {
    let body = app.get("/metrics").await.body;
    parse_body(None, body.as_bytes(), NameValidation::Legacy, None)
        .unwrap_or_else(|e| panic!("exposition does not parse: {e}\n{body}"))
        .into_iter()
        .map(|f| (f.name().to_string(), f))
        .collect()
}

/// Each series' labels (name=value, in order) with its counter, gauge or summary count.
fn series(family: &MetricFamily) -> BTreeMap<String, f64> {
    family
        .metric
        .iter()
        .map(|m| {
            let labels = m
                .label
                .iter()
                .map(|l| format!("{}={}", l.name(), l.value()))
                .collect::<Vec<_>>()
                .join(",");
            let value = m
                .counter
                .as_ref()
                .and_then(|c| c.value)
                .or(m.gauge.as_ref().and_then(|g| g.value))
                .or(m
                    .summary
                    .as_ref()
                    .and_then(|s| s.sample_count)
                    .map(|n| n as f64))
                .or(m
                    .histogram
                    .as_ref()
                    .and_then(|h| h.sample_count)
                    .map(|n| n as f64))
                .unwrap_or(f64::NAN);
            (labels, value)
        })
        .collect()
}

fn expect_family<'a>(
    families: &'a BTreeMap<String, MetricFamily>,
    name: &str,
    mtype: MetricType,
    help: &str,
) -> &'a MetricFamily {
    let f = families
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing from {:?}", families.keys()));
    assert_eq!(f.r#type(), mtype, "{name}");
    assert_eq!(f.help(), help, "{name}");
    f
}

#[actix_web::test]
async fn http_families_have_no_series_until_first_used() {
    let app = spawn_app(&[]).await;
    let families = scrape(&app).await;
    for name in [
        "pushgateway_http_requests_total",
        "pushgateway_http_push_duration_seconds",
        "pushgateway_http_push_size_bytes",
    ] {
        assert!(!families.contains_key(name), "{name} before any request");
    }
    // Scrapes are not counted, so a second scrape still has none.
    assert!(!scrape(&app)
        .await
        .contains_key("pushgateway_http_requests_total"));
}

#[actix_web::test]
async fn every_own_metric_is_present_with_its_labels_after_a_mix_of_requests() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let app = spawn_app(&[&format!("--persistence.file={}", db.display())]).await;

    assert_eq!(app.put("/metrics/job/a", "x 1\n").await.status, 200);
    assert_eq!(
        app.post("/metrics/job/b/instance/i", "x 2\ny 3\n")
            .await
            .status,
        200
    );
    // Rejected: unparsable, and inconsistent with job a's type for x.
    assert_eq!(app.put("/metrics/job/c", "x{\n").await.status, 400);
    assert_eq!(
        app.put("/metrics/job/c", "# TYPE x counter\nx 1\n")
            .await
            .status,
        400
    );
    assert_eq!(app.delete("/metrics/job/a").await.status, 202);
    assert_eq!(app.get("/-/healthy").await.status, 200);
    assert_eq!(app.get("/-/ready").await.status, 200);
    assert_eq!(app.get("/nope").await.status, 404);
    assert_eq!(app.send("POST", "/-/healthy", "").await.status, 405);
    assert_eq!(app.get("/metrics/").await.status, 301);

    let families = scrape(&app).await;
    let requests = expect_family(
        &families,
        "pushgateway_http_requests_total",
        MetricType::Counter,
        "Total HTTP requests processed by the Pushgateway, excluding scrapes.",
    );
    let expected: BTreeMap<String, f64> = [
        ("code=200,handler=healthy,method=get", 1.0),
        ("code=200,handler=push,method=post", 1.0),
        ("code=200,handler=push,method=put", 1.0),
        ("code=200,handler=ready,method=get", 1.0),
        ("code=202,handler=delete,method=delete", 1.0),
        ("code=400,handler=push,method=put", 2.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(series(requests), expected);

    for (name, help) in [
        (
            "pushgateway_http_push_duration_seconds",
            "HTTP request duration for pushes to the Pushgateway.",
        ),
        (
            "pushgateway_http_push_size_bytes",
            "HTTP request size for pushes to the Pushgateway.",
        ),
    ] {
        let f = expect_family(&families, name, MetricType::Summary, help);
        let counts = series(f);
        assert_eq!(
            counts,
            BTreeMap::from([
                ("method=post".to_string(), 1.0),
                ("method=put".to_string(), 3.0)
            ]),
            "{name}: every PUT and POST reaching the push handler, 400s included"
        );
        for m in &f.metric {
            let s = m.summary.as_ref().unwrap();
            let qs: Vec<f64> = s.quantile.iter().map(|q| q.quantile.unwrap()).collect();
            assert_eq!(qs, [0.1, 0.5, 0.9], "{name}");
            assert!(s.quantile.iter().all(|q| q.value.unwrap() > 0.0), "{name}");
            assert!(s.sample_sum.unwrap() > 0.0, "{name}");
        }
    }

    let commits = expect_family(
        &families,
        "pushgateway_storage_commit_duration_seconds",
        MetricType::Histogram,
        "Duration of the SQLite COMMITs of pushes, failed-push records, deletes and wipes.",
    );
    let h = commits.metric[0].histogram.as_ref().unwrap();
    // Two pushes, one failed-push record, one delete, and the history record of the
    // unparsable push (which changes nothing else).
    assert_eq!(h.sample_count, Some(5));
    assert!(!h.bucket.is_empty());

    let sizes = expect_family(
        &families,
        "pushgateway_storage_file_size_bytes",
        MetricType::Gauge,
        "Size of the SQLite database files on disk: the main file and its write-ahead log.",
    );
    let sizes = series(sizes);
    assert_eq!(sizes.keys().collect::<Vec<_>>(), ["file=main", "file=wal"]);
    assert!(
        sizes["file=main"] > 0.0 && sizes["file=wal"] > 0.0,
        "{sizes:?}"
    );

    let groups = expect_family(
        &families,
        "pushgateway_storage_groups",
        MetricType::Gauge,
        "Number of metric groups stored.",
    );
    // Job b, and job c which exists only to record its failed pushes.
    assert_eq!(series(groups)[""], 2.0);
    let stored = expect_family(
        &families,
        "pushgateway_storage_series",
        MetricType::Gauge,
        "Number of series stored, each group's push_time_seconds and push_failure_time_seconds included.",
    );
    // b: x, y and its two timestamps; c: its two timestamps.
    assert_eq!(series(stored)[""], 6.0);
    // Counted by the pruner at start-up (and each minute), so present with both tables.
    let history = expect_family(
        &families,
        "pushgateway_storage_history_rows",
        MetricType::Gauge,
        "Size of the pushed history: push records, and the sample values they keep, as counted by the last pruning pass.",
    );
    let tables: Vec<String> = history
        .metric
        .iter()
        .map(|m| m.label[0].value().to_string())
        .collect();
    assert_eq!(tables, ["records", "samples"]);

    for name in ["pushgateway_build_info", "process_start_time_seconds"] {
        assert!(families.contains_key(name), "{name}");
    }
}

#[actix_web::test]
async fn push_size_is_upstreams_approximate_request_size() {
    let app = spawn_app(&[]).await;
    let request = "POST /metrics/job/raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\na 1\n";
    let (status, _) = raw_request(app.addr, request).await;
    assert_eq!(status, 200);
    let families = scrape(&app).await;
    let size = &families["pushgateway_http_push_size_bytes"].metric[0];
    // URL 16 + POST 4 + HTTP/1.1 8 + Connection 10+5 + Content-Length 14+1 + host 1 + body 4.
    assert_eq!(size.summary.as_ref().unwrap().sample_sum, Some(63.0));
    assert_eq!(size.summary.as_ref().unwrap().quantile[1].value, Some(63.0));
}

#[actix_web::test]
async fn pushes_that_clash_with_an_own_family_type_are_refused() {
    let app = spawn_app(&[]).await;
    for (name, body) in [
        (
            "pushgateway_http_requests_total",
            "# TYPE pushgateway_http_requests_total gauge\npushgateway_http_requests_total 1\n",
        ),
        (
            "pushgateway_http_push_size_bytes",
            "pushgateway_http_push_size_bytes 1\n",
        ),
        (
            "pushgateway_storage_series",
            "# TYPE pushgateway_storage_series counter\npushgateway_storage_series 1\n",
        ),
        (
            "pushgateway_storage_commit_duration_seconds",
            "pushgateway_storage_commit_duration_seconds_count 1\n",
        ),
    ] {
        let r = app.put("/metrics/job/clash", body).await;
        assert_eq!(r.status, 400, "{name}: {}", r.body);
    }
    // The same names with the right type are merged with the own families.
    let r = app
        .put(
            "/metrics/job/ok",
            "# TYPE pushgateway_storage_groups gauge\npushgateway_storage_groups 7\n",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let families = scrape(&app).await;
    assert_eq!(families["pushgateway_storage_groups"].metric.len(), 2);
}
