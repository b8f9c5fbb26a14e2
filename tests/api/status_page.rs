//! The status page's HTML, its families fragment and its assets. See: upstream's handler/status.go and main.go.

use crate::helpers::{spawn_app, TestApp};

const GAUGE: &str = "\
# TYPE backup_bytes gauge
# HELP backup_bytes Size of the last backup.
backup_bytes{target=\"s3\"} 1e21
";

/// The `data-path` of every group row, in page order.
fn group_paths(html: &str) -> Vec<String> {
    html.split(" data-path=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The HTML of the first group row that contains `needle`, starting with its class list
/// after `group`.
fn group_row<'a>(html: &'a str, needle: &str) -> &'a str {
    html.split("<div class=\"group")
        .skip(1)
        .map(|row| row.split("</button></div></div>").next().unwrap_or(row))
        .find(|row| row.contains(needle))
        .unwrap_or_else(|| panic!("no group row contains {needle:?} in\n{html}"))
}

async fn page(app: &TestApp, path: &str) -> String {
    let r = app.get(path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    assert_eq!(
        r.headers["content-type"], "text/html; charset=utf-8",
        "GET {path}"
    );
    r.body
}

#[actix_web::test]
async fn the_page_lists_every_group_with_its_labels_job_first() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/backup/instance/db1/zone/eu", GAUGE)
        .await;
    app.put("/metrics/job/cleanup", "x 1\n").await;
    for path in ["/", "/status"] {
        let html = page(&app, path).await;
        assert!(html.contains("<title>Pushgateway</title>"));
        let row = group_row(&html, "backup");
        let job = row.find("job=<b>\"backup\"</b>").expect("job badge");
        let instance = row.find("instance=<b>\"db1\"</b>").expect("instance badge");
        let zone = row.find("zone=<b>\"eu\"</b>").expect("zone badge");
        assert!(job < instance && instance < zone, "{row}");
        assert!(row.contains("3 families"), "{row}");
        assert!(row.contains("pushed <time datetime=\""), "{row}");
        assert!(!row.contains("is-failed") && !row.contains("last push failed"));
        assert_eq!(group_paths(&html).len(), 2);
        assert!(html.contains("id=\"group-count\">2<"), "group counter");
    }
}

#[actix_web::test]
async fn a_failed_last_push_is_marked_and_a_later_success_clears_it() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/a", "shared 1\n").await;
    app.put("/metrics/job/b", "other 1\n").await;
    let r = app
        .post("/metrics/job/b", "# TYPE shared counter\nshared 2\n")
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let html = page(&app, "/").await;
    let failed = group_row(&html, "job=<b>\"b\"</b>");
    assert!(failed.starts_with(" is-failed\""), "{failed}");
    assert!(failed.contains("last push failed"), "{failed}");
    assert!(failed.contains("failed <time datetime=\""), "{failed}");
    let fine = group_row(&html, "job=<b>\"a\"</b>");
    assert!(!fine.contains("last push failed"), "{fine}");

    app.post("/metrics/job/b", "other 2\n").await;
    let html = page(&app, "/").await;
    let row = group_row(&html, "job=<b>\"b\"</b>");
    assert!(!row.contains("last push failed"), "{row}");
    assert!(
        row.contains("failed <time"),
        "the failure time stays: {row}"
    );
}

#[actix_web::test]
async fn label_values_are_html_escaped_in_the_page_and_the_fragment() {
    let app = spawn_app(&[]).await;
    // job `<job>` and x = `<>&"` (base64url in the path).
    let r = app
        .put(
            "/metrics/job@base64/PGpvYj4/x@base64/PD4mIg",
            "m{y=\"<b>&\\\"\"} 1\n",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let html = page(&app, "/").await;
    assert!(!html.contains("<job>") && !html.contains("<>&\""), "{html}");
    assert!(html.contains("job=<b>\"&#60;job&#62;\"</b>"), "{html}");
    assert!(html.contains("x=<b>\"&#60;&#62;&#38;&#34;\"</b>"), "{html}");

    let path = &group_paths(&html)[0];
    let fragment = page(&app, &format!("/status/group{path}")).await;
    assert!(
        fragment.contains("y=<b>\"&#60;b&#62;&#38;&#34;\"</b>"),
        "{fragment}"
    );
    assert!(!fragment.contains("<b>&"), "{fragment}");
}

#[actix_web::test]
async fn the_fragment_shows_a_groups_families_and_their_values() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/backup/instance/db1", GAUGE).await;
    let hist = "\
# TYPE lat histogram
lat_bucket{le=\"0.25\"} 2
lat_bucket{le=\"+Inf\"} 5
lat_sum 1.5
lat_count 5
# TYPE rpc summary
rpc{quantile=\"0.9\"} 0.3
rpc_sum 8
rpc_count 20
";
    app.put("/metrics/job/api", hist).await;
    let html = page(&app, "/").await;
    let paths = group_paths(&html);
    assert_eq!(paths.len(), 2);
    let backup = paths.iter().find(|p| p.contains("instance")).unwrap();
    let api = paths.iter().find(|p| !p.contains("instance")).unwrap();

    let fragment = page(&app, &format!("/status/group{backup}")).await;
    assert!(fragment.contains(">backup_bytes<"), "{fragment}");
    assert!(fragment.contains("Size of the last backup."), "{fragment}");
    assert!(fragment.contains(">GAUGE<"), "{fragment}");
    assert!(fragment.contains(">1000000000000000000000<"), "{fragment}");
    assert!(fragment.contains("target=<b>\"s3\"</b>"), "{fragment}");
    assert!(fragment.contains(">push_time_seconds<"), "{fragment}");
    assert!(!fragment.contains("<html"), "a fragment, not a page");

    let fragment = page(&app, &format!("/status/group{api}")).await;
    for needle in [
        ">HISTOGRAM<",
        "≤ 0.25</th><td class=\"num\">2<",
        "≤ +Inf</th><td class=\"num\">5<",
        "count</th><td class=\"num\">5<",
        "sum</th><td class=\"num\">1.5<",
        ">SUMMARY<",
        "quantile 0.9</th><td class=\"num\">0.3<",
        "count</th><td class=\"num\">20<",
    ] {
        assert!(fragment.contains(needle), "{needle:?} in {fragment}");
    }

    assert_eq!(app.delete(&format!("/metrics{api}")).await.status, 202);
    let r = app.get(&format!("/status/group{api}")).await;
    assert_eq!(r.status, 404, "a deleted group: {}", r.body);
    let r = app.get("/status/group/job/api").await;
    assert_eq!(r.status, 400, "not a base64 path: {}", r.body);
    let r = app.get("/status/group/job@base64/!!").await;
    assert_eq!(r.status, 400, "not base64: {}", r.body);
}

#[actix_web::test]
async fn links_are_relative_without_an_external_url() {
    let app = spawn_app(&["--web.route-prefix=/pg"]).await;
    app.put("/pg/metrics/job/a", "x 1\n").await;
    let html = page(&app, "/pg/").await;
    assert!(html.contains("href=\"./static/status.css?v="), "{html}");
    assert!(html.contains("src=\"./static/status.js?v="), "{html}");
    assert!(html.contains("data-base=\".\""), "{html}");
    assert!(html.contains("href=\"./metrics\""), "{html}");
    page(&app, "/pg/status").await;
    assert_eq!(app.get("/").await.status, 404);
    assert_eq!(app.get("/status").await.status, 404);
    let r = app.get("/pg").await;
    assert_eq!(
        (r.status, r.headers["location"].to_str().unwrap()),
        (301, "/pg/")
    );
    let path = &group_paths(&html)[0];
    page(&app, &format!("/pg/status/group{path}")).await;
    assert_eq!(app.get(&format!("/status/group{path}")).await.status, 404);
}

#[actix_web::test]
async fn links_use_the_external_url_path() {
    let app = spawn_app(&["--web.external-url=http://example.com/ext/"]).await;
    let html = page(&app, "/ext/").await;
    assert!(html.contains("href=\"/ext/static/status.css?v="), "{html}");
    assert!(html.contains("data-base=\"/ext\""), "{html}");
    assert!(html.contains("href=\"/ext/metrics\""), "{html}");

    // Behind a proxy that strips /ext: routes at the root, links still under /ext.
    let app = spawn_app(&[
        "--web.external-url=http://example.com/ext/",
        "--web.route-prefix=/",
    ])
    .await;
    let html = page(&app, "/").await;
    assert!(html.contains("href=\"/ext/static/status.css?v="), "{html}");
}

#[actix_web::test]
async fn the_page_shows_build_information_and_startup_flags() {
    let app = spawn_app(&["--web.route-prefix=/pg", "--web.enable-openmetrics"]).await;
    let html = page(&app, "/pg/").await;
    assert!(html.contains(env!("CARGO_PKG_VERSION")), "{html}");
    assert!(
        html.contains("<th>web.enable-openmetrics</th><td>true</td>"),
        "{html}"
    );
    assert!(
        html.contains("<th>web.route-prefix</th><td>/pg</td>"),
        "{html}"
    );
    assert!(
        html.contains("<th>persistence.interval</th><td>5m0s</td>"),
        "{html}"
    );
    assert!(html.contains("Startup flags") && html.contains("Build information"));
    assert!(
        html.contains("id=\"empty\">"),
        "the empty state is shown: {html}"
    );
}

#[actix_web::test]
async fn the_delete_all_button_needs_the_admin_api() {
    let app = spawn_app(&[]).await;
    assert!(!page(&app, "/").await.contains("id=\"delete-all\""));
    let app = spawn_app(&["--web.enable-admin-api"]).await;
    app.put("/metrics/job/a", "x 1\n").await;
    let html = page(&app, "/").await;
    assert!(html.contains("id=\"delete-all\">"), "{html}");
}

#[actix_web::test]
async fn the_page_is_gzipped_when_the_browser_accepts_it() {
    let app = spawn_app(&[]).await;
    let r = app
        .send_with("GET", "/", Vec::new(), &[("Accept-Encoding", "gzip")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert!(app.get("/").await.headers.get("content-encoding").is_none());
}

#[actix_web::test]
async fn static_assets_are_served_with_their_types() {
    let app = spawn_app(&[]).await;
    for (path, content_type, needle) in [
        ("/static/status.css", "text/css; charset=utf-8", ".topbar"),
        (
            "/static/status.js",
            "application/javascript; charset=utf-8",
            "loadFamilies",
        ),
        ("/static/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.headers["content-type"], content_type, "{path}");
        assert!(r.body.contains(needle), "{path}");
    }
    let r = app.get("/static/nope.css").await;
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"));
    assert_eq!(app.get("/static/").await.status, 404);
    assert_eq!(app.send("HEAD", "/static/status.css", "").await.status, 405);

    let app = spawn_app(&["--web.route-prefix=/pg"]).await;
    assert_eq!(app.get("/pg/static/status.css").await.status, 200);
    assert_eq!(app.get("/static/status.css").await.status, 404);
}

#[actix_web::test]
async fn an_opened_group_shows_its_recent_pushes_and_why_they_failed() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/recent", "a 1\n").await;
    app.put("/metrics/job/recent", "a 2 123\n").await;
    let key = pushgateway::grouping_key::GroupingKey::from_labels([(
        "job".to_string(),
        "recent".to_string(),
    )])
    .unwrap();
    let fragment = page(&app, &format!("/status/group{}", key.to_base64_path())).await;
    assert!(fragment.contains("Recent pushes"), "{fragment}");
    assert_eq!(
        fragment.matches("<tr class=\"push-ok\">").count(),
        1,
        "{fragment}"
    );
    assert_eq!(
        fragment.matches("<tr class=\"push-failed\">").count(),
        1,
        "{fragment}"
    );
    assert!(fragment.contains("400 rejected"), "{fragment}");
    assert!(
        fragment.contains("pushed metrics must not have timestamps"),
        "{fragment}"
    );
    assert!(fragment.contains("127.0.0.1"), "{fragment}");
}
