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
    let r = app.put("/metrics/job/a%20b/c/d%2Be", "x 1\n").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app
        .pushed()
        .await
        .contains("x{c=\"d+e\",instance=\"\",job=\"a b\"} 1\n"));
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

/// What a push path with an encoded slash in its group part gets.
enum Answer {
    /// Upstream 1.5.1's 301 to this cleaned path.
    Redirect(&'static str),
    /// 400 whose text starts with this.
    Refused(&'static str),
}

// See: the issue "Drop-in defects found with a real Prometheus", point 2, and
// src/routing/encoded_slash.rs for what "as the original" means here.
#[actix_web::test]
async fn an_encoded_slash_in_the_group_part_never_files_a_request_under_another_group() {
    use Answer::{Redirect, Refused};
    let app = spawn_app(&[]).await;
    // The groups a split path would name, so that a wrong PUT, POST or DELETE would show.
    for path in [
        "/metrics/job/a/b/c",
        "/metrics/job/j1/path/",
        "/metrics/job/j/a/b/v/w",
        "/metrics/job/j/l/a/b/c",
        "/metrics/job/a",
    ] {
        assert_eq!(app.put(path, "kept 1\n").await.status, 200, "{path}");
    }
    let before = app.get("/api/v1/metrics").await.body;
    let cases = [
        // prom-client's encodeURIComponent("/srv/batch"): 1.5.1 redirects, 1.11.3 stores
        // {job="j1",path="",srv="batch"}.
        (
            "/metrics/job/j1/path/%2Fsrv%2Fbatch",
            Redirect("/metrics/job/j1/path/srv/batch"),
        ),
        (
            "/metrics/job/j1/path/%2Fsrv%2Fbatch?x=1",
            Redirect("/metrics/job/j1/path/srv/batch?x=1"),
        ),
        // In the job.
        (
            "/metrics/job/a%2Fb/c",
            Refused("job name \"a/b\" contains an encoded slash (%2F)"),
        ),
        ("/metrics/job/a%2Fb", Refused("job name \"a/b\" ")),
        ("/metrics/job/a%2F", Refused("job name \"a/\" ")),
        ("/metrics/job/%2Fa", Redirect("/metrics/job/a")),
        // In a label name.
        (
            "/metrics/job/j/a%2Fb/v/w",
            Refused("label name \"a/b\" contains an encoded slash (%2F)"),
        ),
        ("/metrics/job/j/a%2Fb/v", Refused("label name \"a/b\" ")),
        ("/metrics/job/j/%2Fa/v", Redirect("/metrics/job/j/a/v")),
        // In a label value: inside, at the start, at the end, mixed with literal slashes.
        (
            "/metrics/job/j/l/a%2Fb%2Fc",
            Refused("value \"a/b/c\" of label \"l\" contains an encoded slash (%2F)"),
        ),
        (
            "/metrics/job/j/l/a%2fb%2fc",
            Refused("value \"a/b/c\" of label \"l\" "),
        ),
        ("/metrics/job/j/l/%2Fv", Redirect("/metrics/job/j/l/v")),
        (
            "/metrics/job/j/l/v%2F",
            Refused("value \"v/\" of label \"l\" "),
        ),
        (
            "/metrics/job/j/l/a%2Fb/m/c",
            Refused("value \"a/b\" of label \"l\" "),
        ),
        (
            "/metrics/job/j/l/%2Fa/b/c",
            Redirect("/metrics/job/j/l/a/b/c"),
        ),
        (
            "/metrics/job/j/l/a%2F%2Fb",
            Redirect("/metrics/job/j/l/a/b"),
        ),
        // In @base64 segments, where "/" is not base64url anyway.
        (
            "/metrics/job@base64/YQ%2F",
            Refused("base64 job name \"YQ/\" "),
        ),
        (
            "/metrics/job@base64/YQ%2F/l/v",
            Redirect("/metrics/job@base64/YQ/l/v"),
        ),
        (
            "/metrics/job/j/l@base64/L3%2F",
            Refused("base64 value \"L3/\" of label \"l\" "),
        ),
    ];
    for (path, answer) in &cases {
        for method in ["PUT", "POST", "DELETE"] {
            let r = app.send(method, path, "x 1\n").await;
            match answer {
                Redirect(location) => {
                    assert_eq!(r.status, 301, "{method} {path}: {}", r.body);
                    assert_eq!(r.headers["location"], *location, "{method} {path}");
                    assert_eq!(r.body, "", "{method} {path}");
                }
                Refused(start) => {
                    assert_eq!(r.status, 400, "{method} {path}");
                    assert!(r.body.starts_with(start), "{method} {path}: {}", r.body);
                    // It says what to send instead.
                    assert!(
                        r.body.contains("base64") || r.body.contains("cannot contain"),
                        "{}",
                        r.body
                    );
                }
            }
        }
    }
    assert_eq!(
        app.get("/api/v1/metrics").await.body,
        before,
        "an encoded slash changed a group"
    );
    // The 400 says how to send the value instead; that form lands where the path names.
    let r = app.put("/metrics/job/j1/path/srv%2Fbatch", "x 1\n").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "value \"srv/batch\" of label \"path\" contains an encoded slash (%2F), which \
             would split the path and name another group: send values with slashes in base64, \
             as path@base64/c3J2L2JhdGNo\n"
        )
    );
    let r = app
        .put("/metrics/job/j1/path@base64/c3J2L2JhdGNo", "x 1\n")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app
        .pushed()
        .await
        .contains("x{instance=\"\",job=\"j1\",path=\"srv/batch\"} 1\n"));
}
