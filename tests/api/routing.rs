//! Upstream's routing answers, health, readiness and quit. See: upstream's main.go and httprouter v1.3.0.

use crate::helpers::{raw_request, spawn_app};

#[actix_web::test]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let app = spawn_app(&[]).await;
    let r = app.get("/nope").await;
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"));
    let r = app.get("/metrics/job/x").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "DELETE, OPTIONS, POST, PUT");
    assert_eq!(r.body, "Method Not Allowed\n");
    let r = app.post("/metrics", "").await;
    assert_eq!(
        (r.status, r.headers["allow"].to_str().unwrap()),
        (405, "GET, OPTIONS")
    );
    let r = app.send("HEAD", "/metrics", "").await;
    assert_eq!(r.status, 405);
}

#[actix_web::test]
async fn options_answers_the_allowed_methods() {
    let app = spawn_app(&[]).await;
    let r = app.send("OPTIONS", "/metrics/job/x", "").await;
    assert_eq!(
        (r.status, r.headers["allow"].to_str().unwrap()),
        (200, "DELETE, OPTIONS, POST, PUT")
    );
}

#[actix_web::test]
async fn trailing_slashes_and_case_are_redirected() {
    let app = spawn_app(&[]).await;
    let r = app.get("/metrics/").await;
    assert_eq!(
        (r.status, r.headers["location"].to_str().unwrap()),
        (301, "/metrics")
    );
    let r = app.get("/METRICS").await;
    assert_eq!(
        (r.status, r.headers["location"].to_str().unwrap()),
        (301, "/metrics")
    );
    let r = app.put("/Metrics/job/x", "").await;
    assert_eq!(
        (r.status, r.headers["location"].to_str().unwrap()),
        (307, "/metrics/job/x")
    );
}

#[actix_web::test]
async fn unclean_paths_are_redirected_to_their_clean_form() {
    let app = spawn_app(&[]).await;
    let (status, response) = raw_request(
        app.addr,
        "PUT /metrics/job//a/b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        matches!(status, 301 | 307 | 308),
        "status {status}: {response:?}"
    );
    assert!(
        response
            .to_ascii_lowercase()
            .contains("location: /metrics/job/a/b\r\n"),
        "{response}"
    );
}

#[actix_web::test]
async fn percent_decoding_happens_before_routing() {
    let app = spawn_app(&[]).await;
    let r = app.put("/metrics/job/a%2Fb/c", "x 1\n").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app
        .pushed()
        .await
        .contains("x{b=\"c\",instance=\"\",job=\"a\"} 1\n"));
    let r = app.put("/metrics/job%40base64/ZG90MQ", "x 1\n").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app.pushed().await.contains("job=\"dot1\""));
    let (status, _) = raw_request(app.addr, "PUT /metrics/job/x/l/% HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn health_and_readiness_answer_ok() {
    let app = spawn_app(&[]).await;
    for path in ["/-/healthy", "/-/ready"] {
        let r = app.get(path).await;
        assert_eq!((r.status, r.body.as_str()), (200, "OK"));
    }
}

#[actix_web::test]
async fn quit_needs_the_lifecycle_flag() {
    let app = spawn_app(&[]).await;
    let r = app.put("/-/quit", "").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "Lifecycle API is not enabled.")
    );
    let r = app.get("/-/quit").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (405, "Only POST or PUT requests allowed.")
    );
    assert!(r.headers.get("allow").is_none());
}

#[actix_web::test]
async fn quit_with_the_lifecycle_flag_stops_the_server() {
    let app = spawn_app(&["--web.enable-lifecycle"]).await;
    let r = app.post("/-/quit", "").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "Requesting termination... Goodbye!")
    );
    let mut stopped = false;
    for _ in 0..50 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        if app.client.get(app.url("/-/healthy")).send().await.is_err() {
            stopped = true;
            break;
        }
    }
    assert!(stopped, "server still answering after /-/quit");
}

#[actix_web::test]
async fn a_route_prefix_moves_every_route() {
    let app = spawn_app(&["--web.route-prefix=/pg/"]).await;
    assert_eq!(app.put("/pg/metrics/job/p", "a 1\n").await.status, 200);
    assert!(app
        .get("/pg/metrics")
        .await
        .body
        .contains("a{instance=\"\",job=\"p\"} 1\n"));
    assert_eq!(app.get("/pg/-/healthy").await.status, 200);
    assert_eq!(app.get("/metrics").await.status, 404);
    assert_eq!(app.put("/metrics/job/p", "a 1\n").await.status, 404);
    // GET /-/quit stays unprefixed.
    assert_eq!(app.get("/-/quit").await.status, 405);
}

#[actix_web::test]
async fn the_admin_wipe_needs_its_flag_and_deletes_every_group() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.put("/api/v1/admin/wipe", "").await.status, 404);
    let app = spawn_app(&["--web.enable-admin-api"]).await;
    app.put("/metrics/job/a", "x 1\n").await;
    app.put("/metrics/job/b", "y 1\n").await;
    assert_eq!(app.put("/api/v1/admin/wipe", "").await.status, 202);
    assert_eq!(app.pushed().await, "");
    let r = app.post("/api/v1/admin/wipe", "").await;
    assert_eq!(
        (r.status, r.headers["allow"].to_str().unwrap()),
        (405, "OPTIONS, PUT")
    );
}
