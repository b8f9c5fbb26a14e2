//! `GET /api/v1/history/series`: a group's pushed values over time, per series, as the status
//! page's charts read them.

use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

const SERIES: &str = "/api/v1/history/series";

async fn json_of(app: &TestApp, path: &str) -> (u16, Value) {
    let reply = app.get(path).await;
    let body =
        serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", reply.body));
    (reply.status, body)
}

/// The newest history record of the group `job=<job>`.
async fn newest_record(app: &TestApp, job: &str) -> Value {
    let (_, history) = json_of(app, &format!("/api/v1/history?job={job}&limit=1")).await;
    history["data"]["pushes"][0].clone()
}

#[actix_web::test]
async fn points_are_the_pushed_values_at_their_push_times_with_gaps_where_pushes_failed() {
    let app = spawn_app(&[]).await;
    let path = "/metrics/job/charts/instance/a";
    let mut expected = Vec::new();
    for i in 0..10 {
        let value = (i * 37 % 11) as f64 + 0.5;
        let body = format!(
            "# TYPE backup_bytes gauge\nbackup_bytes{{target=\"s3\"}} {value}\n\
             backup_bytes{{target=\"disk\"}} {}\n\
             # TYPE took_seconds histogram\ntook_seconds_bucket{{le=\"1\"}} {i}\n\
             took_seconds_sum {}\ntook_seconds_count {i}\n",
            i * 2,
            i as f64 * 0.25
        );
        assert_eq!(app.put(path, &body).await.status, 200);
        expected.push((value, newest_record(&app, "charts").await));
        if i == 6 {
            // A rejected push: a sample with a timestamp.
            let bad = "backup_bytes{target=\"s3\"} 1 1700000000000\n";
            assert_eq!(app.put(path, bad).await.status, 400);
        }
    }
    // Another group's pushes are not this group's.
    assert_eq!(
        app.put(
            "/metrics/job/charts/instance/b",
            "# TYPE backup_bytes gauge\nbackup_bytes{target=\"s3\"} 999\n"
        )
        .await
        .status,
        200
    );

    let (status, doc) = json_of(
        &app,
        &format!("{SERIES}?group=/job/charts/instance/a&metric=backup_bytes&labels={{\"target\":\"s3\"}}"),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    let data = &doc["data"];
    assert_eq!(data["grouping_key"], "{instance=\"a\",job=\"charts\"}");
    let series = data["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
    let s = &series[0];
    assert_eq!(s["metric"], "backup_bytes");
    assert_eq!(s["labels"], serde_json::json!({"target": "s3"}));
    assert_eq!(s["points_total"], 10);
    assert_eq!(s["downsampled"], false);
    let points = s["points"].as_array().unwrap();
    assert_eq!(points.len(), 10);
    for (i, (point, (value, record))) in points.iter().zip(&expected).enumerate() {
        assert_eq!(point["value"].as_f64(), Some(*value), "point {i}");
        assert_eq!(point["push_id"], record["id"], "point {i}");
        assert_eq!(point["time"], record["time"], "point {i}");
        let t = record["time_ns"].as_i64().unwrap() as f64 / 1e6;
        assert!(
            (point["t"].as_f64().unwrap() - t).abs() < 0.001,
            "point {i}"
        );
        assert_eq!(point["outcome"], "accepted");
        assert_eq!(point["method"], "PUT");
        // The line breaks after the rejected push, before the 8th value.
        assert_eq!(point["gap_before"], i == 7, "point {i}");
    }
    let values: Vec<f64> = expected.iter().map(|(v, _)| *v).collect();
    let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(s["min"].as_f64(), Some(min));
    assert_eq!(s["max"].as_f64(), Some(max));

    // The group's push events: ten accepted, one rejected with its reason.
    let events = data["events"].as_array().unwrap();
    assert_eq!(events.len(), 11);
    assert_eq!(data["events_total"], 11);
    let rejected: Vec<&Value> = events.iter().filter(|e| e["kind"] == "rejected").collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["status"], 400);
    assert!(rejected[0]["error"]
        .as_str()
        .unwrap()
        .contains("timestamps"));
    assert!(rejected[0]["t"].as_f64() > points[6]["t"].as_f64());

    // Both series of a metric without labels=, and a histogram's count and sum; by labels.
    let (_, doc) = json_of(
        &app,
        &format!("{SERIES}?job=charts&instance=a&metric=backup_bytes&metric=took_seconds_count&metric=took_seconds_sum"),
    )
    .await;
    let names: Vec<(String, String)> = doc["data"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"].as_str().unwrap().into(),
                s["labels"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("backup_bytes".into(), "{\"target\":\"disk\"}".into()),
            ("backup_bytes".into(), "{\"target\":\"s3\"}".into()),
            ("took_seconds_count".into(), "{}".into()),
            ("took_seconds_sum".into(), "{}".into()),
        ]
    );
    let count = &doc["data"]["series"][2]["points"];
    assert_eq!(count[9]["value"].as_f64(), Some(9.0));

    // A time range: only the records inside it. The bounds are halfway between pushes, in
    // Unix seconds.
    let ns = |i: usize| expected[i].1["time_ns"].as_i64().unwrap();
    let seconds = |ns: i64| format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000);
    let from = seconds((ns(2) + ns(3)) / 2);
    let to = seconds((ns(4) + ns(5)) / 2);
    let (_, doc) = json_of(
        &app,
        &format!("{SERIES}?job=charts&instance=a&metric=backup_bytes&labels={{\"target\":\"s3\"}}&from={from}&to={to}"),
    )
    .await;
    let ids: Vec<&Value> = doc["data"]["series"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["push_id"])
        .collect();
    assert_eq!(ids, [&expected[3].1["id"], &expected[4].1["id"]]);

    // A deleted group: a "deleted" event, and the line breaks there.
    assert_eq!(app.delete(path).await.status, 202);
    assert_eq!(
        app.put(
            path,
            "# TYPE backup_bytes gauge\nbackup_bytes{target=\"s3\"} 1\n"
        )
        .await
        .status,
        200
    );
    let (_, doc) = json_of(
        &app,
        &format!("{SERIES}?group=/job/charts/instance/a&metric=backup_bytes&labels={{\"target\":\"s3\"}}"),
    )
    .await;
    let points = doc["data"]["series"][0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 11);
    assert_eq!(points[10]["gap_before"], true);
    let kinds: Vec<&str> = doc["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(&kinds[kinds.len() - 2..], ["deleted", "accepted"]);
}

#[actix_web::test]
async fn downsampling_keeps_the_first_last_minimum_and_maximum() {
    let app = spawn_app(&[]).await;
    let n = 120;
    let mut values = Vec::new();
    for i in 0..n {
        // A wave with one low and one high outlier in the middle.
        let value = match i {
            47 => -1000.0,
            83 => 5000.0,
            _ => ((i * 13) % 29) as f64,
        };
        values.push(value);
        let body = format!("wave {value}\n");
        assert_eq!(app.put("/metrics/job/wave", &body).await.status, 200);
    }
    let (status, doc) = json_of(&app, &format!("{SERIES}?job=wave&metric=wave&max_points=8")).await;
    assert_eq!(status, 200, "{doc}");
    let s = &doc["data"]["series"][0];
    assert_eq!(s["points_total"], n);
    assert_eq!(s["downsampled"], true);
    let kept: Vec<f64> = s["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert!(kept.len() <= 8, "{kept:?}");
    assert_eq!(kept[0], values[0], "first");
    assert_eq!(kept[kept.len() - 1], values[n - 1], "last");
    assert!(kept.contains(&-1000.0), "minimum: {kept:?}");
    assert!(kept.contains(&5000.0), "maximum: {kept:?}");
    assert_eq!(s["min"].as_f64(), Some(-1000.0));
    assert_eq!(s["max"].as_f64(), Some(5000.0));
    let times: Vec<f64> = s["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["t"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "in time order");
    // Events are bounded the same way.
    assert!(doc["data"]["events"].as_array().unwrap().len() <= 8);
    assert_eq!(doc["data"]["events_total"], n);

    // Without max_points, a chart's default keeps every one of them.
    let (_, doc) = json_of(&app, &format!("{SERIES}?job=wave&metric=wave")).await;
    assert_eq!(
        doc["data"]["series"][0]["points"].as_array().unwrap().len(),
        n
    );
}

#[actix_web::test]
async fn bad_parameters_are_refused_with_a_message() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.put("/metrics/job/j", "x 1\n").await.status, 200);
    for (query, message) in [
        ("metric=x", "name the group"),
        ("job=j", "at least one metric"),
        (
            "job=j&metric=x&max_points=0",
            "max_points must be a number from 8 to 2000",
        ),
        (
            "job=j&metric=x&max_points=2001",
            "max_points must be a number from 8 to 2000",
        ),
        (
            "job=j&metric=x&max_points=many",
            "max_points must be a number from 8 to 2000",
        ),
        (
            "job=j&metric=x&from=1700000000&to=1600000000",
            "from must be before to",
        ),
        ("job=j&metric=x&from=yesterday", "invalid from"),
        ("job=j&metric=x&to=99999999999999", "out of range"),
        ("job=j&metric=x&labels=s3", "labels must be a JSON object"),
        ("group=job/j&metric=x", "invalid group"),
        ("group=/job@base64/!!&metric=x", "invalid group"),
        ("instance=i&metric=x", "job"),
    ] {
        let reply = app.get(&format!("{SERIES}?{query}")).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["status"], "error", "{query}");
        assert_eq!(body["errorType"], "bad_data", "{query}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(message), "{query}: {error}");
    }
    // A group with no history, and a metric it never pushed: no series, not an error.
    let (status, doc) = json_of(&app, &format!("{SERIES}?job=none&metric=x")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["data"]["series"], serde_json::json!([]));
    let (_, doc) = json_of(&app, &format!("{SERIES}?job=j&metric=nope")).await;
    assert_eq!(doc["data"]["series"], serde_json::json!([]));
    assert_eq!(doc["data"]["events"].as_array().unwrap().len(), 1);
    // Only GET; no CORS access for other sites (it carries error texts).
    let reply = app.get(&format!("{SERIES}?job=j&metric=x")).await;
    assert!(reply.headers.get("access-control-allow-origin").is_none());
    assert_eq!(
        app.post(&format!("{SERIES}?job=j&metric=x"), "")
            .await
            .status,
        405
    );
}

#[actix_web::test]
async fn the_endpoint_is_under_the_route_prefix() {
    let app = spawn_app(&["--web.route-prefix=/pg"]).await;
    assert_eq!(app.put("/pg/metrics/job/j", "x 1\n").await.status, 200);
    assert_eq!(app.put("/pg/metrics/job/j", "x 2\n").await.status, 200);
    let (status, doc) = json_of(&app, &format!("/pg{SERIES}?job=j&metric=x")).await;
    assert_eq!(status, 200);
    let values: Vec<f64> = doc["data"]["series"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [1.0, 2.0]);
}
