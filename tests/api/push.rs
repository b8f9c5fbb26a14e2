//! PUT-replace, POST-merge and DELETE semantics, grouping keys, and bad input.
//! See: upstream's handler/push.go (grouping key, push semantics, bodies).

use crate::helpers::spawn_app;

#[actix_web::test]
async fn a_pushed_group_is_exposed_with_its_labels_and_timestamps() {
    let app = spawn_app(&[]).await;
    let r = app
        .put(
            "/metrics/job/backup/instance/db1",
            "# TYPE rows gauge\nrows{table=\"a\"} 42\n",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "");
    let m = app.get("/metrics").await.body;
    assert!(
        m.contains("# TYPE rows gauge\nrows{instance=\"db1\",job=\"backup\",table=\"a\"} 42\n"),
        "{m}"
    );
    assert!(m.contains("# HELP push_time_seconds Last Unix time when changing this group in the Pushgateway succeeded.\n"));
    assert!(m.contains("# HELP push_failure_time_seconds Last Unix time when changing this group in the Pushgateway failed.\n"));
    assert!(m.contains("push_failure_time_seconds{instance=\"db1\",job=\"backup\"} 0\n"));
    assert!(
        m.contains("push_time_seconds{instance=\"db1\",job=\"backup\"} 1."),
        "{m}"
    );
}

#[actix_web::test]
async fn put_replaces_the_group_and_post_replaces_only_same_named_families() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/j", "a 1\nb 2\n").await;
    app.post("/metrics/job/j", "b 3\nc 4\n").await;
    let m = app.pushed().await;
    assert!(m.contains("a{instance=\"\",job=\"j\"} 1\n"), "{m}");
    assert!(m.contains("b{instance=\"\",job=\"j\"} 3\n"), "{m}");
    assert!(m.contains("c{instance=\"\",job=\"j\"} 4\n"), "{m}");
    app.put("/metrics/job/j", "d 5\n").await;
    let m = app.pushed().await;
    assert!(
        !m.contains("a{") && !m.contains("b{") && !m.contains("c{"),
        "{m}"
    );
    assert!(m.contains("d{instance=\"\",job=\"j\"} 5\n"), "{m}");
}

#[actix_web::test]
async fn a_family_is_replaced_as_a_whole() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/j", "a{x=\"1\"} 1\na{x=\"2\"} 2\n")
        .await;
    app.post("/metrics/job/j", "a{x=\"3\"} 3\n").await;
    let m = app.pushed().await;
    assert!(!m.contains("x=\"1\"") && !m.contains("x=\"2\""), "{m}");
    assert!(m.contains("a{instance=\"\",job=\"j\",x=\"3\"} 3\n"), "{m}");
}

#[actix_web::test]
async fn empty_bodies_keep_the_group_with_a_fresh_push_time() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/j", "a 1\n").await;
    assert_eq!(app.post("/metrics/job/j", "").await.status, 200);
    assert!(app
        .pushed()
        .await
        .contains("a{instance=\"\",job=\"j\"} 1\n"));
    assert_eq!(app.put("/metrics/job/j", "").await.status, 200);
    let m = app.pushed().await;
    assert!(!m.contains("a{"), "{m}");
    assert!(
        m.contains("push_time_seconds{instance=\"\",job=\"j\"}"),
        "{m}"
    );
}

#[actix_web::test]
async fn delete_removes_exactly_the_named_group() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/j", "a 1\n").await;
    app.put("/metrics/job/j/instance/i", "a 2\n").await;
    let r = app.delete("/metrics/job/j").await;
    assert_eq!((r.status, r.body.as_str()), (202, ""));
    let m = app.pushed().await;
    assert!(!m.contains("a{instance=\"\",job=\"j\"}"), "{m}");
    assert!(m.contains("a{instance=\"i\",job=\"j\"} 2\n"), "{m}");
    assert_eq!(app.delete("/metrics/job/missing").await.status, 202);
}

#[actix_web::test]
async fn grouping_labels_override_body_labels() {
    let app = spawn_app(&[]).await;
    app.put(
        "/metrics/job/j/instance/i",
        "a{job=\"other\",instance=\"x\",z=\"1\"} 1\n",
    )
    .await;
    assert!(app
        .pushed()
        .await
        .contains("a{instance=\"i\",job=\"j\",z=\"1\"} 1\n"));
}

#[actix_web::test]
async fn base64_keys_carry_slashes_and_empty_values() {
    let app = spawn_app(&[]).await;
    // job "test/job", instance "" (=), path "/var/tmp"
    let r = app
        .put(
            "/metrics/job@base64/dGVzdC9qb2I=/instance@base64/=/path@base64/L3Zhci90bXA",
            "a 1\n",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app
        .pushed()
        .await
        .contains("a{instance=\"\",job=\"test/job\",path=\"/var/tmp\"} 1\n"));
}

#[actix_web::test]
async fn malformed_grouping_keys_are_400_with_upstream_messages_and_change_nothing() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/keep", "a 1\n").await;
    let before = app.pushed().await;
    let cases = [
        (
            "/metrics/job@base64/YWJj!!!",
            "invalid base64 encoding in job name \"abc\": illegal base64 data at input byte 4\n",
        ),
        ("/metrics/job@base64/=", "job name is required\n"),
        (
            "/metrics/job/a/b",
            "odd number of components in label string \"/b\"\n",
        ),
        ("/metrics/job/a/__x/1", "improper label name \"__x\"\n"),
        ("/metrics/job/a/a-b/1", "improper label name \"a-b\"\n"),
        (
            "/metrics/job/a/d@base64/YQ=x",
            "invalid base64 encoding for label d=\"YQ=x\": illegal base64 data at input byte 2\n",
        ),
    ];
    for (path, message) in cases {
        for method in ["PUT", "POST", "DELETE"] {
            let r = app.send(method, path, "a 1\n").await;
            assert_eq!(
                (r.status, r.body.as_str()),
                (400, message),
                "{method} {path}"
            );
            assert_eq!(r.headers["content-type"], "text/plain; charset=utf-8");
        }
    }
    assert_eq!(app.pushed().await, before);
    // An invalid base64 job leaves the route working (upstream 1.5.1 deadlocked it).
    assert_eq!(
        app.put("/metrics/job@base64/b2s", "a 1\n").await.status,
        200
    );
}

#[actix_web::test]
async fn non_utf8_label_values_are_refused_before_anything_is_stored() {
    let app = spawn_app(&[]).await;
    let r = app.put("/metrics/job/%FF", "a 1\n").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(app.pushed().await, "");
    assert_eq!(app.get("/metrics").await.status, 200);
}

#[actix_web::test]
async fn malformed_bodies_are_400_naming_the_line_and_change_nothing() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/j", "a 1\n").await;
    let before = app.pushed().await;
    let cases = [
        ("a 1\r\n", "text format parsing error in line 1: expected float as value, got \"1\\r\"\n"),
        ("a 1", "text format parsing error in line 1: unexpected end of input stream\n"),
        ("blablabla\n", "text format parsing error in line 1: expected float as value, got \"\"\n"),
        ("a 1\n# TYPE a gauge\n", "text format parsing error in line 2: second TYPE line for metric name \"a\", or TYPE reported after samples\n"),
        ("a{x=\"1\",x=\"2\"} 1\n", "text format parsing error in line 1: duplicate label names for metric \"a\"\n"),
        ("a 1.2.3\n", "text format parsing error in line 1: expected float as value, got \"1.2.3\"\n"),
        ("-x 1\n", "text format parsing error in line 1: invalid metric name\n"),
    ];
    for (body, message) in cases {
        for method in ["PUT", "POST"] {
            let r = app.send(method, "/metrics/job/j", body).await;
            assert_eq!(
                (r.status, r.body.as_str()),
                (400, message),
                "{method} {body:?}"
            );
        }
        // Parse errors create no group either.
        assert_eq!(app.put("/metrics/job/new", body).await.status, 400);
    }
    assert_eq!(app.pushed().await, before);
}

#[actix_web::test]
async fn timestamps_are_rejected_and_recorded_as_a_failed_push() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/j", "a 1\n").await;
    let r = app.put("/metrics/job/j", "a 2 1000\n").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        "pushed metrics are invalid or inconsistent with existing metrics: pushed metrics must not have timestamps\n"
    );
    let m = app.pushed().await;
    assert!(m.contains("a{instance=\"\",job=\"j\"} 1\n"), "{m}");
    let failure = m
        .lines()
        .find(|l| l.starts_with("push_failure_time_seconds{"))
        .unwrap();
    assert!(!failure.ends_with(" 0"), "{failure}");
}

#[actix_web::test]
async fn a_rejected_push_to_a_new_key_creates_the_group_with_only_timestamps() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.put("/metrics/job/fresh", "a 1 5\n").await.status, 400);
    let m = app.pushed().await;
    assert!(
        m.contains("push_time_seconds{instance=\"\",job=\"fresh\"} 0\n"),
        "{m}"
    );
    assert!(!m.contains("a{"), "{m}");
}

#[actix_web::test]
async fn concurrent_pushes_from_many_clients_lose_nothing() {
    let app = std::sync::Arc::new(spawn_app(&[]).await);
    let mut tasks = Vec::new();
    for client in 0..16 {
        let app = app.clone();
        tasks.push(actix_web::rt::spawn(async move {
            for i in 0..25 {
                let path = format!("/metrics/job/c{client}/instance/i{i}");
                let r = app.put(&path, &format!("v{{k=\"x\"}} {i}\n")).await;
                assert_eq!(r.status, 200, "{}", r.body);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let m = app.pushed().await;
    for client in 0..16 {
        for i in 0..25 {
            let line = format!("v{{instance=\"i{i}\",job=\"c{client}\",k=\"x\"}} {i}\n");
            assert!(m.contains(&line), "missing {line}");
        }
    }
}

#[actix_web::test]
async fn delete_then_put_keep_their_order() {
    let app = spawn_app(&[]).await;
    for round in 0..20 {
        app.put("/metrics/job/o", &format!("a {round}\n")).await;
        assert_eq!(app.delete("/metrics/job/o").await.status, 202);
        assert!(!app.pushed().await.contains("job=\"o\""));
        app.put("/metrics/job/o", &format!("a {round}\n")).await;
        assert!(app
            .pushed()
            .await
            .contains(&format!("a{{instance=\"\",job=\"o\"}} {round}\n")));
    }
}

#[actix_web::test]
async fn disabling_the_consistency_check_answers_202() {
    let app = spawn_app(&["--push.disable-consistency-check"]).await;
    let r = app.put("/metrics/job/j", "a 1\n").await;
    assert_eq!(r.status, 202);
    assert!(app
        .pushed()
        .await
        .contains("a{instance=\"\",job=\"j\"} 1\n"));
}

#[actix_web::test]
async fn gzip_request_bodies_are_decoded_and_bad_ones_rejected() {
    use std::io::Write;
    let app = spawn_app(&[]).await;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(b"z 7\n").unwrap();
    let body = enc.finish().unwrap();
    let r = app
        .send_with(
            "PUT",
            "/metrics/job/gz",
            body,
            &[("Content-Encoding", "GZIP")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app
        .pushed()
        .await
        .contains("z{instance=\"\",job=\"gz\"} 7\n"));
    let r = app
        .send_with(
            "PUT",
            "/metrics/job/gz",
            b"not gzip at all".to_vec(),
            &[("Content-Encoding", "gzip")],
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (400, "gzip: invalid header\n"));
}
