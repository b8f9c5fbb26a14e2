//! `/metrics`: ordering, formats, compression. See: upstream's main.go (promhttp).

use std::io::Read;

use crate::helpers::{pushed_part, spawn_app, TestApp};

#[actix_web::test]
async fn families_are_sorted_by_name_and_merged_across_groups() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/b", "zeta 1\nalpha 2\n").await;
    app.put("/metrics/job/a", "alpha 3\n").await;
    let m = app.get("/metrics").await.body;
    let names: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("# TYPE "))
        .map(|l| l.split(' ').nth(2).unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(m.contains("# TYPE alpha untyped\nalpha{instance=\"\",job=\"a\"} 3\nalpha{instance=\"\",job=\"b\"} 2\n"), "{m}");
}

#[actix_web::test]
async fn own_metrics_are_exposed() {
    let app = spawn_app(&[]).await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
    );
    assert!(
        r.body
            .contains("# TYPE pushgateway_build_info gauge\npushgateway_build_info{branch="),
        "{}",
        r.body
    );
    assert!(r
        .body
        .contains("# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds "));
}

#[actix_web::test]
async fn histograms_and_summaries_render_like_upstream() {
    let app = spawn_app(&[]).await;
    let body = "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 4.5\nh_count 3\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n";
    assert_eq!(app.put("/metrics/job/hs", body).await.status, 200);
    let m = app.get("/metrics").await.body;
    assert!(m.contains("# TYPE h histogram\nh_bucket{instance=\"\",job=\"hs\",le=\"1\"} 2\nh_bucket{instance=\"\",job=\"hs\",le=\"+Inf\"} 3\nh_sum{instance=\"\",job=\"hs\"} 4.5\nh_count{instance=\"\",job=\"hs\"} 3\n"), "{m}");
    assert!(m.contains("# TYPE s summary\ns{instance=\"\",job=\"hs\",quantile=\"0.5\"} 1\ns_sum{instance=\"\",job=\"hs\"} 2\ns_count{instance=\"\",job=\"hs\"} 3\n"), "{m}");
}

#[actix_web::test]
async fn gzip_is_used_when_the_client_accepts_it() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/g", "a 1\n").await;
    let resp = app
        .client
        .get(app.url("/metrics"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let bytes = resp.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("a{instance=\"\",job=\"g\"} 1\n"));
    let plain = app.get("/metrics").await;
    assert!(plain.headers.get("content-encoding").is_none());
}

/// `/metrics` gzipped, decompressed.
async fn gzipped_metrics(app: &TestApp) -> String {
    let resp = app
        .client
        .get(app.url("/metrics"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let bytes = resp.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// The gzip segments are kept between scrapes: each change must show in the next one, and
/// the pushed part must be what the plain scrape shows.
#[actix_web::test]
async fn a_gzipped_scrape_shows_every_change_since_the_last_one() {
    let app = spawn_app(&[]).await;
    app.put(
        "/metrics/job/a",
        "x 1
y 2
",
    )
    .await;
    app.put(
        "/metrics/job/b",
        "x 3
",
    )
    .await;
    let first = gzipped_metrics(&app).await;
    assert!(first.contains("x{instance=\"\",job=\"a\"} 1\n"), "{first}");
    assert_eq!(
        pushed_part(&first),
        pushed_part(&app.get("/metrics").await.body)
    );

    let steps: [(&str, &str, &str, &str); 4] = [
        (
            "PUT",
            "/metrics/job/a",
            "x 5\n",
            "x{instance=\"\",job=\"a\"} 5\n",
        ),
        (
            "POST",
            "/metrics/job/b",
            "# HELP y Why.\ny 7\n",
            "# HELP y Why.\n",
        ),
        (
            "PUT",
            "/metrics/job/c",
            "z 9\n",
            "z{instance=\"\",job=\"c\"} 9\n",
        ),
        (
            "DELETE",
            "/metrics/job/a",
            "",
            "x{instance=\"\",job=\"b\"} 3\n",
        ),
    ];
    for (method, path, body, shown) in steps {
        let status = app.send(method, path, body).await.status;
        assert!(status == 200 || status == 202, "{method} {path}: {status}");
        let gzipped = gzipped_metrics(&app).await;
        assert!(gzipped.contains(shown), "after {method} {path}: {gzipped}");
        let plain = app.get("/metrics").await.body;
        assert_eq!(
            pushed_part(&gzipped),
            pushed_part(&plain),
            "after {method} {path}"
        );
    }
    let last = gzipped_metrics(&app).await;
    assert!(!last.contains("job=\"a\""), "{last}");
}

#[actix_web::test]
async fn protobuf_is_served_when_asked_for() {
    use prost::Message;
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/p", "# TYPE a gauge\na 1\n").await;
    let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
    let resp = app
        .client
        .get(app.url("/metrics"))
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"));
    let bytes = resp.bytes().await.unwrap();
    let mut buf = &bytes[..];
    let mut families = Vec::new();
    while !buf.is_empty() {
        families.push(pushgateway::proto::MetricFamily::decode_length_delimited(&mut buf).unwrap());
    }
    let a = families.iter().find(|f| f.name() == "a").expect("family a");
    assert_eq!(a.metric[0].gauge.as_ref().unwrap().value, Some(1.0));
    assert_eq!(a.metric[0].label.len(), 2);
}

/// Prometheus 2.42's scrape `Accept` header: OpenMetrics first.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

const BUCKETS: &str = "\
# TYPE req_seconds histogram
req_seconds_bucket{le=\"0.5\"} 1
req_seconds_bucket{le=\"1\"} 2
req_seconds_bucket{le=\"+Inf\"} 3
req_seconds_sum 2.5
req_seconds_count 3
# TYPE rpc_seconds summary
rpc_seconds{quantile=\"0.5\"} 0.1
rpc_seconds{quantile=\"1\"} 0.9
rpc_seconds_sum 1
rpc_seconds_count 2
";

async fn scrape_as_prometheus(app: &crate::helpers::TestApp) -> (String, String) {
    let r = app
        .send_with(
            "GET",
            "/metrics",
            Vec::new(),
            &[("Accept", PROMETHEUS_ACCEPT)],
        )
        .await;
    assert_eq!(r.status, 200);
    let content_type = r.headers["content-type"].to_str().unwrap().to_string();
    (content_type, r.body)
}

// See: the issue "Drop-in defects found with a real Prometheus", point 1.
#[actix_web::test]
async fn a_prometheus_scrape_gets_text_0_0_4_with_the_pushed_bucket_labels() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.put("/metrics/job/om", BUCKETS).await.status, 200);
    let (content_type, body) = scrape_as_prometheus(&app).await;
    assert_eq!(
        content_type,
        "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
    );
    for line in [
        "req_seconds_bucket{instance=\"\",job=\"om\",le=\"1\"} 2\n",
        "rpc_seconds{instance=\"\",job=\"om\",quantile=\"0.5\"} 0.1\n",
        "rpc_seconds{instance=\"\",job=\"om\",quantile=\"1\"} 0.9\n",
    ] {
        assert!(body.contains(line), "{line:?} missing from:\n{body}");
    }
    assert!(!body.contains("# EOF"), "{body}");
    // Even a scraper asking only for OpenMetrics gets text, as from the original.
    let r = app
        .send_with(
            "GET",
            "/metrics",
            Vec::new(),
            &[("Accept", "application/openmetrics-text;version=1.0.0")],
        )
        .await;
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
}

#[actix_web::test]
async fn openmetrics_is_served_to_prometheus_only_with_its_flag() {
    let app = spawn_app(&["--web.enable-openmetrics"]).await;
    assert_eq!(app.put("/metrics/job/om", BUCKETS).await.status, 200);
    let (content_type, body) = scrape_as_prometheus(&app).await;
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
    );
    assert!(
        body.contains("req_seconds_bucket{instance=\"\",job=\"om\",le=\"1.0\"} 2\n"),
        "{body}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    // Text is still there for a scraper that asks for it.
    let r = app
        .send_with(
            "GET",
            "/metrics",
            Vec::new(),
            &[("Accept", "text/plain;version=0.0.4")],
        )
        .await;
    assert!(r.body.contains("le=\"1\"} 2\n"), "{}", r.body);
}
