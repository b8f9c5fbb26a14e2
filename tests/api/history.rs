//! Pushed history: every documented query of docs/sql.md runs against a database the real
//! server wrote and returns the expected rows; retention pruning removes exactly what it should.

use rusqlite::{Connection, OpenFlags};

use crate::helpers::spawn_app;

/// The ```sql blocks of docs/sql.md, in order.
fn documented_queries() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/sql.md")).unwrap();
    doc.split("```sql\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_string())
        .collect()
}

fn rows(conn: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
    let columns = stmt.column_count();
    stmt.query_map([], |row| {
        (0..columns)
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Real(f) => f.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(_) => "<blob>".to_string(),
                })
            })
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[actix_web::test]
async fn every_documented_query_answers_its_question() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let app = spawn_app(&[&format!("--persistence.file={}", db.display())]).await;
    for v in [100, 200, 300] {
        let body = format!("# TYPE backup_bytes gauge\nbackup_bytes{{target=\"s3\"}} {v}\n");
        assert_eq!(
            app.put("/metrics/job/backup/instance/db1", &body)
                .await
                .status,
            200
        );
    }
    let body = "# TYPE backup_bytes gauge\nbackup_bytes{target=\"disk\"} 1000\n";
    assert_eq!(
        app.put("/metrics/job/backup/instance/db2", body)
            .await
            .status,
        200
    );
    assert_eq!(
        app.put("/metrics/job/cleanup", "files 3\n").await.status,
        200
    );
    // Rejected: a timestamp (reaches the store), a body that does not parse, a bad key.
    assert_eq!(
        app.put("/metrics/job/backup/instance/db1", "backup_bytes 1 5\n")
            .await
            .status,
        400
    );
    assert_eq!(
        app.post("/metrics/job/cleanup", "not valid\n").await.status,
        400
    );
    assert_eq!(
        app.put("/metrics/job/cleanup/only-a-name", "x 1\n")
            .await
            .status,
        400
    );
    assert_eq!(app.delete("/metrics/job/cleanup").await.status, 202);

    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let queries = documented_queries();
    assert_eq!(queries.len(), 8, "docs/sql.md changed: update this test");

    // Which job last pushed successfully: backup after cleanup? cleanup was pushed last.
    let last = rows(&conn, &queries[0]);
    assert_eq!(
        last.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        ["cleanup", "backup"]
    );

    // Failed in the last hour: three, newest first, each with its reason.
    let failed = rows(&conn, &queries[1]);
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert_eq!(failed[0][2], "NULL"); // the bad key named no group
    assert!(
        failed[0][4].starts_with("odd number of components"),
        "{failed:?}"
    );
    assert!(
        failed[1][4].starts_with("text format parsing error in line 1"),
        "{failed:?}"
    );
    assert_eq!(failed[2][2], "{instance=\"db1\",job=\"backup\"}");
    assert!(
        failed[2][4].ends_with("pushed metrics must not have timestamps"),
        "{failed:?}"
    );
    assert_eq!(failed[2][5], "127.0.0.1");

    // Who pushed the group: four requests from loopback.
    let who = rows(&conn, &queries[2]);
    assert_eq!(who.len(), 4);
    assert!(who.iter().all(|r| r[3] == "127.0.0.1" && r[4] == "NULL"));
    assert_eq!(who[0][2], "400");

    // The metric's values over the last pushes, newest first.
    let values = rows(&conn, &queries[3]);
    let v: Vec<&str> = values.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(v, ["300", "200", "100"]);
    assert_eq!(
        values[0][1],
        r#"{"instance":"db1","job":"backup","target":"s3"}"#
    );

    // Groups whose last push failed: the backup group.
    let failing = rows(&conn, &queries[4]);
    assert_eq!(failing.len(), 1);
    assert_eq!(failing[0][0], "backup");

    // Every group's current backup_bytes, largest first.
    let current = rows(&conn, &queries[5]);
    let current: Vec<(&str, &str)> = current
        .iter()
        .map(|r| (r[0].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        current,
        [
            ("{instance=\"db2\",job=\"backup\"}", "1000"),
            ("{instance=\"db1\",job=\"backup\"}", "300")
        ]
    );

    // Every series of the group db1, as /metrics shows it.
    let series = rows(&conn, &queries[6]);
    let names: Vec<&str> = series.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "backup_bytes",
            "push_failure_time_seconds",
            "push_time_seconds"
        ]
    );
    assert_eq!(
        series[0][1],
        r#"{"instance":"db1","job":"backup","target":"s3"}"#
    );
    assert_eq!(series[0][2], "300");
    assert_ne!(series[1][2], "0", "its last push failed");

    // Jobs whose last successful push is more than a day old: none, all pushed just now.
    assert!(rows(&conn, &queries[7]).is_empty());
}

#[actix_web::test]
async fn a_push_rejected_for_inconsistency_leaves_a_history_row_and_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let app = spawn_app(&[&format!("--persistence.file={}", db.display())]).await;
    app.put("/metrics/job/a", "# TYPE m gauge\nm 1\n").await;
    let before = app.pushed().await;
    let r = app
        .put("/metrics/job/a/instance/x", "# TYPE m counter\nm 2\n")
        .await;
    assert_eq!(r.status, 400);
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let rec = rows(
        &conn,
        "SELECT status, outcome, error, families, series FROM push_history ORDER BY id DESC LIMIT 1",
    );
    assert_eq!(rec[0][0], "400");
    assert_eq!(rec[0][1], "rejected");
    assert_eq!(format!("{}\n", rec[0][2]), r.body);
    assert_eq!((rec[0][3].as_str(), rec[0][4].as_str()), ("1", "1"));
    let samples = rows(
        &conn,
        "SELECT count(*) FROM push_history WHERE status = 400 AND samples IS NOT NULL",
    );
    assert_eq!(samples[0][0], "0");
    // The group {job="a"} is unchanged; {job="a",instance="x"} only has its timestamps.
    let after = app.pushed().await;
    assert!(after.contains("m{instance=\"\",job=\"a\"} 1\n"));
    assert!(!after.contains("m{instance=\"x\""));
    assert!(before
        .lines()
        .filter(|l| !l.starts_with("push_"))
        .all(|l| after.contains(l)));
}

#[actix_web::test]
async fn pruning_removes_exactly_the_oldest_values_beyond_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let app = spawn_app(&[
        &format!("--persistence.file={}", db.display()),
        "--history.max-rows=5",
    ])
    .await;
    for i in 0..4 {
        // Two samples per push: 8 in all.
        app.put("/metrics/job/p", &format!("a {i}\nb {i}\n")).await;
    }
    let mut conn = Connection::open(&db).unwrap();
    let pruned = pushgateway::store::prune::prune(&mut conn, 0, 5, 0).unwrap();
    // Whole pushes keep their values: the newest two (4 values) fit in 5, the third would not.
    assert_eq!(pruned.samples, 4);
    assert_eq!(pruned.records, 0);
    let left = rows(
        &conn,
        "SELECT metric, value FROM sample_history ORDER BY push_id, metric",
    );
    assert_eq!(
        left,
        [["a", "2"], ["b", "2"], ["a", "3"], ["b", "3"]].map(|r| r.map(String::from).to_vec())
    );
    // The records of the pruned values stay, without values.
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*), sum(samples IS NULL) FROM push_history"
        ),
        [["4".to_string(), "2".to_string()]]
    );
    // Age: everything older than a cutoff after the pushes goes, records and values.
    let now = i64::MAX;
    let pruned = pushgateway::store::prune::prune(&mut conn, now, 5, 0).unwrap();
    assert_eq!((pruned.records, pruned.samples), (4, 4));
    assert_eq!(rows(&conn, "SELECT count(*) FROM push_history")[0][0], "0");
    // The current state is untouched by pruning.
    assert!(app
        .pushed()
        .await
        .contains("a{instance=\"\",job=\"p\"} 3\n"));
}

#[actix_web::test]
async fn pruning_keeps_only_the_newest_records_beyond_the_record_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let app = spawn_app(&[&format!("--persistence.file={}", db.display())]).await;
    for i in 0..5 {
        app.put("/metrics/job/p", &format!("a {i}\n")).await;
    }
    app.put("/metrics/job/p", "not valid\n").await;
    let mut conn = Connection::open(&db).unwrap();
    let pruned = pushgateway::store::prune::prune(&mut conn, 0, 1_000, 3).unwrap();
    // The oldest three go, with their values; rejected records count like accepted ones.
    assert_eq!((pruned.records, pruned.samples), (3, 3));
    assert_eq!(
        rows(&conn, "SELECT status FROM push_history ORDER BY id"),
        [["200"], ["200"], ["400"]].map(|r| r.map(String::from).to_vec())
    );
    // At the limit nothing goes; 0 means no limit.
    let pruned = pushgateway::store::prune::prune(&mut conn, 0, 1_000, 3).unwrap();
    assert_eq!((pruned.records, pruned.samples), (0, 0));
    let pruned = pushgateway::store::prune::prune(&mut conn, 0, 1_000, 0).unwrap();
    assert_eq!(pruned.records, 0);
}

#[actix_web::test]
async fn max_rows_zero_records_no_values() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let app = spawn_app(&[
        &format!("--persistence.file={}", db.display()),
        "--history.max-rows=0",
    ])
    .await;
    app.put("/metrics/job/p", "a 1\n").await;
    let conn = Connection::open(&db).unwrap();
    assert_eq!(rows(&conn, "SELECT count(*) FROM push_history")[0][0], "1");
    assert_eq!(
        rows(
            &conn,
            "SELECT count(*) FROM push_history WHERE samples IS NOT NULL"
        )[0][0],
        "0"
    );
}

#[actix_web::test]
async fn the_basic_auth_user_is_recorded_as_the_pusher() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let web_config = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(
        &web_config,
        format!("basic_auth_users:\n  alice: '{hash}'\n"),
    )
    .unwrap();
    let app = spawn_app(&[
        &format!("--persistence.file={}", db.display()),
        &format!("--web.config.file={}", web_config.display()),
    ])
    .await;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
    );
    let r = app
        .send_with(
            "PUT",
            "/metrics/job/authed",
            b"a 1\n".to_vec(),
            &[("Authorization", &auth)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let who = rows(
        &conn,
        "SELECT user, client_address FROM push_history WHERE job = 'authed'",
    );
    assert_eq!(who, [["alice".to_string(), "127.0.0.1".to_string()]]);
}

#[actix_web::test]
async fn the_history_api_filters_and_pages() {
    let app = spawn_app(&[]).await;
    for v in 0..3 {
        app.put("/metrics/job/backup/instance/db1", &format!("x {v}\n"))
            .await;
    }
    app.put("/metrics/job/other", "y 1 5\n").await;
    let get = |q: &str| {
        let url = format!("/api/v1/history{q}");
        let app = &app;
        async move {
            let r = app.get(&url).await;
            (
                r.status,
                serde_json::from_str::<serde_json::Value>(&r.body).unwrap(),
            )
        }
    };
    let (status, page1) = get("?job=backup&limit=2").await;
    assert_eq!(status, 200);
    let pushes = page1["data"]["pushes"].as_array().unwrap();
    assert_eq!(pushes.len(), 2);
    assert_eq!(
        pushes[0]["labels"],
        serde_json::json!({"instance": "db1", "job": "backup"})
    );
    assert_eq!(pushes[0]["method"], "PUT");
    assert_eq!(pushes[0]["outcome"], "accepted");
    assert!(pushes[0]["id"].as_i64() > pushes[1]["id"].as_i64());
    let next = page1["data"]["next_before_id"].as_i64().unwrap();
    let (_, page2) = get(&format!("?job=backup&limit=2&before_id={next}")).await;
    assert_eq!(page2["data"]["pushes"].as_array().unwrap().len(), 1);
    assert_eq!(page2["data"]["next_before_id"], serde_json::Value::Null);

    let (_, rejected) = get("?outcome=rejected").await;
    let rejected = rejected["data"]["pushes"].as_array().unwrap().clone();
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        rejected[0]["grouping_key"],
        "{instance=\"\",job=\"other\"}".replace("instance=\"\",", "")
    );
    assert!(rejected[0]["error"]
        .as_str()
        .unwrap()
        .ends_with("must not have timestamps"));

    let (_, future) = get("?from=2999-01-01T00:00:00Z").await;
    assert!(future["data"]["pushes"].as_array().unwrap().is_empty());
    let (status, bad) = get("?limit=0").await;
    assert_eq!(status, 400);
    assert_eq!(bad["status"], "error");
}
