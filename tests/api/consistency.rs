//! The cross-group consistency check. See: upstream's storage/diskmetricstore.go.

use crate::helpers::spawn_app;

const PREFIX: &str = "pushed metrics are invalid or inconsistent with existing metrics: ";

#[actix_web::test]
async fn a_type_clash_across_groups_is_400_and_recorded_as_failed() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/a", "# TYPE m gauge\nm 1\n").await;
    let r = app.put("/metrics/job/b", "# TYPE m counter\nm 2\n").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .starts_with(&format!("{PREFIX}collected metric \"m\" {{")),
        "{}",
        r.body
    );
    assert!(r.body.ends_with("is not a GAUGE\n"), "{}", r.body);
    let m = app.pushed().await;
    assert!(!m.contains("m{instance=\"\",job=\"b\"}"), "{m}");
    assert!(
        m.contains("push_time_seconds{instance=\"\",job=\"b\"} 0\n"),
        "{m}"
    );
    // The group may change its own family's type.
    assert_eq!(
        app.put("/metrics/job/a", "# TYPE m counter\nm 3\n")
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn a_series_pushed_by_two_groups_is_a_duplicate() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/d", "m{instance=\"x\"} 1\n").await;
    let r = app.put("/metrics/job/d/instance/x", "m 2\n").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .ends_with("was collected before with the same name and label values\n"),
        "{}",
        r.body
    );
}

#[actix_web::test]
async fn a_duplicate_series_within_one_push_is_rejected() {
    let app = spawn_app(&[]).await;
    let r = app
        .put("/metrics/job/d", "m{a=\"1\"} 1\nm{a=\"1\"} 2\n")
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[actix_web::test]
async fn clashes_with_the_gateways_own_metrics_are_rejected() {
    let app = spawn_app(&[]).await;
    let r = app
        .put(
            "/metrics/job/o",
            "# TYPE process_start_time_seconds counter\nprocess_start_time_seconds 1\n",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        format!("{PREFIX}gathered metric family process_start_time_seconds has type COUNTER but should have GAUGE\n")
    );
    // Same type and other labels are fine; the gateway's HELP wins.
    let r = app.put("/metrics/job/o", "# HELP process_start_time_seconds mine\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1\n").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = app.get("/metrics").await.body;
    assert!(m.contains("# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"));
    assert!(!m.contains("HELP process_start_time_seconds mine"));
    assert!(
        m.contains("process_start_time_seconds{instance=\"\",job=\"o\"} 1\n"),
        "{m}"
    );
}

#[actix_web::test]
async fn summary_and_suffix_names_collide() {
    let app = spawn_app(&[]).await;
    app.put(
        "/metrics/job/s",
        "# TYPE rt summary\nrt_sum 1\nrt_count 2\n",
    )
    .await;
    let r = app.put("/metrics/job/t", "rt_count 5\n").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        format!("{PREFIX}collected metric named \"rt_count\" collides with previously collected summary named \"rt\"\n")
    );
}

#[actix_web::test]
async fn reserved_label_names_are_rejected_by_the_check() {
    let app = spawn_app(&[]).await;
    let r = app.put("/metrics/job/r", "m{__x=\"1\"} 1\n").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.ends_with("has a label with an invalid name: __x\n"),
        "{}",
        r.body
    );
}

#[actix_web::test]
async fn the_help_text_across_groups_is_deterministic() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/b", "# HELP m from b\nm 1\n").await;
    app.put("/metrics/job/a", "# HELP m from a\nm 2\n").await;
    for _ in 0..5 {
        let m = app.get("/metrics").await.body;
        assert!(m.contains("# HELP m from a\n"), "{m}");
    }
}

#[actix_web::test]
async fn an_empty_instance_key_next_to_a_missing_one_never_breaks_scrapes() {
    // Upstream poisons its store here (its failed push still creates the group, whose
    // timestamp series clash with the other group's); we refuse without creating it.
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/inst", "a 1\n").await;
    let r = app
        .put("/metrics/job/inst/instance@base64/=", "a 2\n")
        .await;
    assert_eq!(r.status, 400);
    let scrape = app.get("/metrics").await;
    assert_eq!(scrape.status, 200);
    assert_eq!(
        scrape
            .body
            .matches("push_time_seconds{instance=\"\",job=\"inst\"}")
            .count(),
        1
    );
    assert_eq!(app.put("/metrics/job/other", "b 1\n").await.status, 200);
}
