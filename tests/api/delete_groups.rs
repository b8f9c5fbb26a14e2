//! `POST /api/v1/admin/delete_groups` (with `--web.enable-admin-api`): series selectors over
//! grouping labels; a dry run lists and changes nothing; the real call deletes exactly the
//! matching groups in one transaction, each recorded with the selector; refusals; and without
//! the admin flag, the answers of the original's admin wipe.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::helpers::{spawn_app, Reply, TestApp};

const PATH: &str = "/api/v1/admin/delete_groups";

/// `application/x-www-form-urlencoded` of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The parameters in the query string.
async fn call(app: &TestApp, pairs: &[(&str, &str)]) -> Reply {
    app.post(&format!("{PATH}?{}", form(pairs)), "").await
}

fn json(r: &Reply) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

/// The `job`/`instance` of each listed group, sorted.
fn listed(answer: &Value) -> Vec<String> {
    let mut listed: Vec<String> = answer["data"]["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{}/{}",
                g["labels"]["job"].as_str().unwrap(),
                g["labels"]["instance"].as_str().unwrap_or("")
            )
        })
        .collect();
    listed.sort();
    listed
}

async fn push_fleet(app: &TestApp) {
    for (path, body) in [
        ("/metrics/job/nightly-a/instance/h1", "x 1\n"),
        ("/metrics/job/nightly-b/instance/h2", "x 2\n"),
        ("/metrics/job/nightly-c/instance/h3/env/prod", "x 3\n"),
        ("/metrics/job/daily/instance/h1", "x 4\n"),
    ] {
        assert_eq!(app.put(path, body).await.status, 200, "{path}");
    }
}

/// A dry run answers the groups it would delete and changes nothing, not even the history.
#[actix_web::test]
async fn a_dry_run_lists_the_matching_groups_and_changes_nothing() {
    let app = spawn_app(&["--web.enable-admin-api"]).await;
    push_fleet(&app).await;
    let before = app.get("/api/v1/metrics").await.body;
    let history_before = app.get("/api/v1/history").await.body;
    let r = call(
        &app,
        &[
            ("match[]", "{job=~\"nightly-.*\",env!=\"prod\"}"),
            ("dry_run", "true"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
    let answer = json(&r);
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["data"]["dry_run"], true);
    assert_eq!(listed(&answer), ["nightly-a/h1", "nightly-b/h2"]);
    let first = &answer["data"]["deleted"][0];
    assert_eq!(
        first["labels"],
        serde_json::json!({"instance": "h1", "job": "nightly-a"})
    );
    assert!(first["last_push"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .is_ok());
    assert!(first.get("expires_at").is_none());
    assert_eq!(app.get("/api/v1/metrics").await.body, before);
    assert_eq!(app.get("/api/v1/history").await.body, history_before);
}

/// The real call deletes exactly the matching groups, in one transaction: a reader holding a
/// snapshot sees all of them, a reader polling all along sees all or none, never some.
#[actix_web::test]
async fn the_real_call_deletes_exactly_the_matching_groups_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let app = spawn_app(&[
        "--web.enable-admin-api",
        &format!("--persistence.file={}", db.display()),
    ])
    .await;
    const MATCHING: i64 = 60;
    for i in 0..MATCHING {
        let path = format!("/metrics/job/retired/instance/host-{i}");
        assert_eq!(app.put(&path, &format!("x {i}\n")).await.status, 200);
    }
    push_fleet(&app).await;
    let count_sql = "SELECT count(*) FROM metric_groups WHERE job = 'retired'";

    // A reader that holds its snapshot across the delete.
    let held = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    held.execute_batch("BEGIN").unwrap();
    let count = |c: &Connection| -> i64 { c.query_row(count_sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count(&held), MATCHING);
    // A reader that polls in fresh transactions while the delete runs.
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(Ordering::SeqCst) {
                seen.insert(
                    conn.query_row(count_sql, [], |r| r.get::<_, i64>(0))
                        .unwrap(),
                );
            }
            seen
        })
    };

    let r = app
        .send_with(
            "POST",
            PATH,
            form(&[("match[]", "{job=\"retired\"}")]).into_bytes(),
            &[("Content-Type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = json(&r);
    assert_eq!(answer["data"]["dry_run"], false);
    assert_eq!(listed(&answer).len() as i64, MATCHING);

    stop.store(true, Ordering::SeqCst);
    let seen = poller.join().unwrap();
    assert!(
        seen.iter().all(|&n| n == MATCHING || n == 0),
        "a reader saw some of the groups gone: {seen:?}"
    );
    assert_eq!(
        count(&held),
        MATCHING,
        "the held snapshot still has them all"
    );
    held.execute_batch("COMMIT").unwrap();
    assert_eq!(count(&held), 0, "after the snapshot: all gone");

    // Exactly the matching ones: the fleet is untouched.
    let pushed = app.pushed().await;
    assert!(!pushed.contains("retired"), "{pushed}");
    for job in ["nightly-a", "nightly-b", "nightly-c", "daily"] {
        assert!(pushed.contains(&format!("job=\"{job}\"")), "{job} kept");
    }
    // One history record per group, with the selector, the client, one time (one change).
    let rows: Vec<(String, String, i64, String, i64)> = held
        .prepare(
            "SELECT method, selector, time_ns, client_address, status FROM push_history
             WHERE method = 'DELETE_GROUPS' ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len() as i64, MATCHING);
    assert!(rows.iter().all(|r| r.0 == "DELETE_GROUPS"
        && r.1 == "{job=\"retired\"}"
        && r.2 == rows[0].2
        && r.3 == "127.0.0.1"
        && r.4 == 200));
}

/// `pushed_before` keeps the groups pushed since; several `match[]` are OR-ed; query and
/// form parameters add up.
#[actix_web::test]
async fn pushed_before_and_several_selectors_narrow_or_widen_the_selection() {
    let app = spawn_app(&["--web.enable-admin-api"]).await;
    push_fleet(&app).await;
    let cut = jiff::Timestamp::now();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(
        app.put("/metrics/job/nightly-a/instance/h1", "x 9\n")
            .await
            .status,
        200
    );
    let r = call(
        &app,
        &[
            ("match[]", "{job=~\"nightly-.*\"}"),
            ("pushed_before", &cut.to_string()),
            ("dry_run", "true"),
        ],
    )
    .await;
    assert_eq!(listed(&json(&r)), ["nightly-b/h2", "nightly-c/h3"]);
    // Unix seconds: 2001, before every push.
    let r = call(
        &app,
        &[
            ("match[]", "{job=\"daily\"}"),
            ("pushed_before", "1000000000"),
            ("dry_run", "1"),
        ],
    )
    .await;
    assert!(listed(&json(&r)).is_empty());
    let r = app
        .send_with(
            "POST",
            &format!("{PATH}?{}", form(&[("match[]", "{job=\"daily\"}")])),
            form(&[("match[]", "{env=\"prod\"}")]).into_bytes(),
            &[("Content-Type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(listed(&json(&r)), ["daily/h1", "nightly-c/h3"]);
    let pushed = app.pushed().await;
    assert!(!pushed.contains("daily") && !pushed.contains("nightly-c"));
    // The history lists each deleted group with the selector; other records have none.
    let history: Value = serde_json::from_str(&app.get("/api/v1/history").await.body).unwrap();
    let records = history["data"]["pushes"].as_array().unwrap();
    for newest in &records[..2] {
        assert_eq!(newest["method"], "DELETE_GROUPS");
        assert_eq!(newest["selector"], "{job=\"daily\"} or {env=\"prod\"}");
    }
    assert_eq!(records[2]["method"], "PUT");
    assert!(records[2].get("selector").is_none());
    assert!(pushed.contains("nightly-a") && pushed.contains("nightly-b"));
}

/// Refused with 400 and Prometheus's error document, changing nothing: no selector, an empty
/// or unparsable one (the parser's reason), one that names a metric, an unknown parameter, and
/// one that matches every group without `all=true`.
#[actix_web::test]
async fn empty_bad_and_match_all_selectors_are_refused() {
    let app = spawn_app(&["--web.enable-admin-api"]).await;
    push_fleet(&app).await;
    let before = app.get("/api/v1/metrics").await.body;
    let every = "{job=~\".+\"}";
    for (pairs, reason) in [
        (vec![], "no match[]"),
        (vec![("match[]", "{}")], "non-empty matcher"),
        (
            vec![("match[]", "{}"), ("all", "true")],
            "non-empty matcher",
        ),
        (
            vec![("match[]", "{job=~\".*\"}"), ("all", "true")],
            "non-empty matcher",
        ),
        (
            vec![("match[]", "{job=\"a\"")],
            "match[] \"{job=\\\"a\\\"\"",
        ),
        (vec![("match[]", "up{job=\"a\"}")], "names a metric"),
        (
            vec![("match[]", "{job=\"a\"}"), ("dryrun", "true")],
            "unknown parameter",
        ),
        (vec![("match[]", every)], "matches every group (4)"),
        (
            vec![("match[]", every), ("dry_run", "true")],
            "matches every group (4)",
        ),
        (
            vec![
                ("match[]", "{instance=~\"h.*\"}"),
                ("match[]", "{job=\"daily\"}"),
            ],
            "all=true",
        ),
    ] {
        let r = call(&app, &pairs).await;
        assert_eq!(r.status, 400, "{pairs:?}: {}", r.body);
        let answer = json(&r);
        assert_eq!(answer["status"], "error");
        assert_eq!(answer["errorType"], "bad_data");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(reason), "{pairs:?}: {error}");
    }
    assert_eq!(app.get("/api/v1/metrics").await.body, before);
    // Refused real calls are in the history as rejected.
    let history: Value =
        serde_json::from_str(&app.get("/api/v1/history?outcome=rejected").await.body).unwrap();
    let methods: Vec<&str> = history["data"]["pushes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["method"].as_str().unwrap())
        .collect();
    assert!(!methods.is_empty() && methods.iter().all(|m| *m == "DELETE_GROUPS"));

    // With all=true every group goes.
    let r = call(&app, &[("match[]", every), ("all", "true")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(listed(&json(&r)).len(), 4);
    assert_eq!(
        app.get("/api/v1/metrics").await.body,
        r#"{"status":"success","data":[]}"#
    );
    // Nothing left: selecting nothing is no refusal.
    let r = call(&app, &[("match[]", every)]).await;
    assert_eq!((r.status, listed(&json(&r)).len()), (200, 0));
}

/// Without `--web.enable-admin-api` the route does not exist (404, as the original's wipe);
/// with it, other methods are the router's 405.
#[actix_web::test]
async fn without_the_admin_flag_it_is_404_like_the_wipe() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/a", "x 1\n").await;
    let r = call(&app, &[("match[]", "{job=\"a\"}")]).await;
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"));
    assert_eq!(app.get(PATH).await.status, 404);
    assert!(app.pushed().await.contains("x{instance=\"\",job=\"a\"} 1"));

    let app = spawn_app(&["--web.enable-admin-api"]).await;
    let r = app.get(PATH).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers.get("allow").unwrap(), "OPTIONS, POST");
    let r = app.put(PATH, "").await;
    assert_eq!(r.status, 405);
}
