//! Wire formats beyond plain text: protobuf pushes and exposition, snappy bodies, UTF-8 names,
//! native histograms. See: upstream's handler/push.go and its /metrics handler.

use prost::Message;
use pushgateway::proto::{
    BucketSpan, Histogram, LabelPair, Metric, MetricFamily, MetricType, Untyped,
};

use crate::helpers::{spawn_app, TestApp};

pub(crate) const PROTO: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

pub(crate) fn delimited(families: &[MetricFamily]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in families {
        f.encode_length_delimited(&mut out).unwrap();
    }
    out
}

fn native_histogram() -> MetricFamily {
    MetricFamily {
        name: Some("histogram_metric".into()),
        help: Some("A native histogram.".into()),
        r#type: Some(MetricType::Histogram as i32),
        metric: vec![Metric {
            histogram: Some(Box::new(Histogram {
                sample_count_float: Some(20.0),
                sample_sum: Some(99.23),
                schema: Some(1),
                zero_threshold: Some(0.001),
                zero_count_float: Some(0.0),
                negative_span: vec![
                    BucketSpan {
                        offset: Some(0),
                        length: Some(2),
                    },
                    BucketSpan {
                        offset: Some(0),
                        length: Some(2),
                    },
                ],
                negative_count: vec![2.0, 2.0, -2.0, 0.0],
                positive_span: vec![
                    BucketSpan {
                        offset: Some(0),
                        length: Some(2),
                    },
                    BucketSpan {
                        offset: Some(0),
                        length: Some(2),
                    },
                ],
                positive_count: vec![2.0, 2.0, -2.0, 0.0],
                ..Default::default()
            })),
            ..Default::default()
        }],
        unit: None,
    }
}

fn untyped(name: &str, labels: &[(&str, &str)], v: f64) -> MetricFamily {
    MetricFamily {
        name: Some(name.into()),
        r#type: Some(MetricType::Untyped as i32),
        metric: vec![Metric {
            label: labels.iter().map(|(a, b)| LabelPair::new(*a, *b)).collect(),
            untyped: Some(Untyped { value: Some(v) }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn scrape_protobuf(app: &TestApp) -> Vec<MetricFamily> {
    let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
    let bytes = app
        .client
        .get(app.url("/metrics"))
        .header("Accept", accept)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut buf = &bytes[..];
    let mut out = Vec::new();
    while !buf.is_empty() {
        out.push(MetricFamily::decode_length_delimited(&mut buf).unwrap());
    }
    out
}

#[actix_web::test]
async fn protobuf_pushes_are_stored_and_native_histograms_come_back_unchanged() {
    let app = spawn_app(&[]).await;
    let body = delimited(&[untyped("some_metric", &[], 1.234), native_histogram()]);
    let r = app
        .send_with(
            "PUT",
            "/metrics/job/testjob/instance/testinstance",
            body,
            &[("Content-Type", PROTO)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let families = scrape_protobuf(&app).await;
    let hist = families
        .iter()
        .find(|f| f.name() == "histogram_metric")
        .expect("histogram family");
    assert_eq!(hist.help.as_deref(), Some("A native histogram."));
    assert_eq!(
        hist.metric[0].histogram,
        native_histogram().metric[0].histogram
    );
    let labels: Vec<_> = hist.metric[0]
        .label
        .iter()
        .map(|l| (l.name(), l.value()))
        .collect();
    assert_eq!(labels, [("instance", "testinstance"), ("job", "testjob")]);

    // The text format shows what upstream shows for a native-only histogram.
    let text = app.get("/metrics").await.body;
    assert!(
        text.contains(
            "histogram_metric_bucket{instance=\"testinstance\",job=\"testjob\",le=\"+Inf\"} 20\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("histogram_metric_count{instance=\"testinstance\",job=\"testjob\"} 20\n"),
        "{text}"
    );
    assert!(
        text.contains("some_metric{instance=\"testinstance\",job=\"testjob\"} 1.234\n"),
        "{text}"
    );
}

#[actix_web::test]
async fn malformed_protobuf_bodies_are_400_and_change_nothing() {
    let app = spawn_app(&[]).await;
    let mut body = delimited(&[untyped("m", &[], 1.0)]);
    body.truncate(body.len() - 2);
    let r = app
        .send_with("PUT", "/metrics/job/p", body, &[("Content-Type", PROTO)])
        .await;
    assert_eq!((r.status, r.body.as_str()), (400, "unexpected EOF\n"));
    // Unlike upstream, an invalid metric name is refused instead of breaking the exposition.
    let body = delimited(&[untyped("a.b", &[], 1.0)]);
    let r = app
        .send_with("PUT", "/metrics/job/p", body, &[("Content-Type", PROTO)])
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(app.pushed().await, "");
}

#[actix_web::test]
async fn a_protobuf_family_without_type_is_a_counter_and_checked_as_one() {
    let app = spawn_app(&[]).await;
    let mut f = untyped("t", &[], 1.0);
    f.r#type = None;
    let r = app
        .send_with(
            "PUT",
            "/metrics/job/p",
            delimited(&[f]),
            &[("Content-Type", PROTO)],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.ends_with("is not a COUNTER\n"), "{}", r.body);
}

#[actix_web::test]
async fn snappy_framed_bodies_are_decoded() {
    use std::io::Write;
    let app = spawn_app(&[]).await;
    let mut enc = snap::write::FrameEncoder::new(Vec::new());
    enc.write_all(b"s 1\n").unwrap();
    let body = enc.into_inner().unwrap();
    let r = app
        .send_with(
            "PUT",
            "/metrics/job/sn",
            body,
            &[("Content-Encoding", "snappy")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app
        .pushed()
        .await
        .contains("s{instance=\"\",job=\"sn\"} 1\n"));
    let r = app
        .send_with(
            "PUT",
            "/metrics/job/sn",
            b"garbage".to_vec(),
            &[("Content-Encoding", "snappy")],
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "snappy: corrupt input\n")
    );
}

#[actix_web::test]
async fn utf8_names_are_accepted_with_the_flag_and_escaped_on_exposition() {
    let app = spawn_app(&["--push.enable-utf8-names"]).await;
    let body = "some_metric 3.14\n{\"another.metric\",instance=\"testinstance\",job=\"testjob\",\"dotted.label.name\"=\"mylabelvalue\"} 42\n";
    let r = app
        .post(
            "/metrics/job/testjob/instance/testinstance/U__dotted_2e_label_2e_name/mylabelvalue",
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let default = app.get("/metrics").await.body;
    assert!(default.contains("another_metric{dotted_label_name=\"mylabelvalue\",instance=\"testinstance\",job=\"testjob\"} 42\n"), "{default}");
    let utf8 = app
        .send_with(
            "GET",
            "/metrics",
            Vec::new(),
            &[("Accept", "text/plain;version=0.0.4;escaping=allow-utf-8")],
        )
        .await;
    assert!(utf8.headers["content-type"]
        .to_str()
        .unwrap()
        .ends_with("escaping=allow-utf-8"));
    assert!(utf8.body.contains("{\"another.metric\",\"dotted.label.name\"=\"mylabelvalue\",instance=\"testinstance\",job=\"testjob\"} 42\n"), "{}", utf8.body);
}

#[actix_web::test]
async fn utf8_names_are_refused_without_the_flag() {
    let app = spawn_app(&[]).await;
    let r = app.put("/metrics/job/j", "{\"a.b\"} 1\n").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "text format parsing error in line 1: invalid metric name \"a.b\"\n"
        )
    );
    // Without the flag a U__ label name is taken literally.
    let r = app.put("/metrics/job/j/U__a_2e_b/v", "x 1\n").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app
        .pushed()
        .await
        .contains("x{U__a_2e_b=\"v\",instance=\"\",job=\"j\"} 1\n"));
}

/// A protobuf push of one gauge `m` with `labels` to `path`.
async fn push_protobuf(
    app: &TestApp,
    method: &str,
    path: &str,
    labels: &[(&str, &str)],
) -> crate::helpers::Reply {
    let mut family = untyped("m", labels, 1.0);
    family.r#type = Some(MetricType::Gauge as i32);
    family.metric[0].untyped = None;
    family.metric[0].gauge = Some(pushgateway::proto::Gauge { value: Some(1.0) });
    app.send_with(
        method,
        path,
        delimited(&[family]),
        &[("Content-Type", PROTO)],
    )
    .await
}

// See: the issue "Drop-in defects found with a real Prometheus", point 3.
#[actix_web::test]
async fn protobuf_pushes_with_invalid_label_names_are_400_and_change_nothing() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.put("/metrics/job/p", "kept 1\n").await.status, 200);
    let before = app.get("/api/v1/metrics").await.body;
    let invalid =
        |name: &str| format!("invalid label name \"{name}\" for metric \"m\" in protobuf body\n");
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (vec![("bad-label", "v")], invalid("bad-label")),
        (vec![("1abc", "v")], invalid("1abc")),
        (vec![("a.b", "v")], invalid("a.b")),
        (vec![("a:b", "v")], invalid("a:b")),
        (vec![("", "v")], invalid("")),
        (vec![("ok", "1"), ("Προμηθεύς", "v")], invalid("Προμηθεύς")),
        (
            vec![("__name__", "v")],
            "reserved label name \"__name__\" for metric \"m\" in protobuf body\n".to_string(),
        ),
        (
            vec![("a", "1"), ("a", "2")],
            "duplicate label names for metric \"m\" in protobuf body\n".to_string(),
        ),
    ];
    for (labels, message) in &cases {
        for method in ["PUT", "POST"] {
            for path in ["/metrics/job/p", "/metrics/job/new"] {
                let r = push_protobuf(&app, method, path, labels).await;
                assert_eq!(
                    (r.status, r.body.as_str()),
                    (400, message.as_str()),
                    "{method} {path} {labels:?}"
                );
            }
        }
    }
    // No group created, no failed push recorded, nothing stored.
    assert_eq!(app.get("/api/v1/metrics").await.body, before);
    // The text format refuses the same name.
    let r = app
        .put("/metrics/job/p", "m{\"bad-label\"=\"v\"} 1\n")
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "text format parsing error in line 1: invalid label name \"bad-label\"\n"
        )
    );
    // A valid name still goes through.
    let r = push_protobuf(&app, "PUT", "/metrics/job/p", &[("good_label", "v")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[actix_web::test]
async fn with_utf8_names_protobuf_label_names_need_only_be_non_empty() {
    let app = spawn_app(&["--push.enable-utf8-names"]).await;
    let r = push_protobuf(&app, "PUT", "/metrics/job/u", &[("bad-label", "v")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app
        .pushed()
        .await
        .contains("m{bad_label=\"v\",instance=\"\",job=\"u\"} 1\n"));
    let before = app.get("/api/v1/metrics").await.body;
    for (labels, message) in [
        (
            &[("", "v")][..],
            "invalid label name \"\" for metric \"m\" in protobuf body\n",
        ),
        (
            &[("__name__", "v")][..],
            "reserved label name \"__name__\" for metric \"m\" in protobuf body\n",
        ),
        (
            &[("a.b", "1"), ("a.b", "2")][..],
            "duplicate label names for metric \"m\" in protobuf body\n",
        ),
    ] {
        let r = push_protobuf(&app, "PUT", "/metrics/job/u", labels).await;
        assert_eq!((r.status, r.body.as_str()), (400, message), "{labels:?}");
    }
    assert_eq!(app.get("/api/v1/metrics").await.body, before);
}
