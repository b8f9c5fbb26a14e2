//! "Delete N matching groups" on the status page (admin API on): the filter narrows the
//! list, the button opens a confirmation listing the groups of a dry run, and confirming
//! deletes exactly those, in a real browser (the confirmation is saved as
//! `target/screenshots/status-page-delete-N-matching.png`). Also: an expiring group shows its
//! deadline.

use std::path::Path;

use serde_json::Value;

use super::driver::{Browser, Sel};
use super::{bounded, groups};
use crate::helpers::spawn_app;

#[actix_web::test]
async fn a_filtered_set_of_groups_is_deleted_through_the_confirmation() {
    let app = spawn_app(&["--web.enable-admin-api"]).await;
    for (path, body) in [
        ("/metrics/job/nightly-a/instance/h1", "x 1\n"),
        // Same job and instance as the first plus one more label: a selector that named only
        // the first group's labels would take it too.
        ("/metrics/job/nightly-a/instance/h1/env/prod", "x 2\n"),
        ("/metrics/job/nightly-b/instance/h\"2", "x 3\n"),
        ("/metrics/job/daily/instance/h1", "x 4\n"),
        ("/metrics/job/daily/instance/h1/env/prod", "x 5\n"),
    ] {
        assert_eq!(app.put(path, body).await.status, 200, "{path}");
    }
    assert_eq!(
        app.send_with(
            "PUT",
            "/metrics/job/expiring",
            b"y 1\n".to_vec(),
            &[("Pushgateway-Expire-After", "1h")],
        )
        .await
        .status,
        200
    );
    let url = app.url("/");
    bounded(async {
        let browser = Browser::start().await;
        browser.goto(&url).await;
        browser.wait_for(&groups()).await;
        let expiring = groups().with_text("job=\"expiring\"");
        let shown = browser.text(&expiring.find(".when.expires")).await;
        assert!(shown.starts_with("expires in"), "deadline shown: {shown}");

        let hidden = "return document.getElementById('delete-matching').hidden";
        assert!(
            browser.eval::<bool>(hidden, vec![]).await,
            "no button while every group is listed"
        );
        // The two nightly-a groups and nightly-b (whose instance has a quote).
        delete_filtered(
            &browser,
            &app,
            "nightly",
            &[
                "{env=\"prod\", instance=\"h1\", job=\"nightly-a\"}",
                "{instance=\"h1\", job=\"nightly-a\"}",
                "{instance=\"h\\\"2\", job=\"nightly-b\"}",
            ],
            &["daily", "daily", "expiring"],
        )
        .await;
        // Labels are listed job first, then by name: this term finds only the daily group
        // without env, whose labels the other daily group has too. Only it goes.
        delete_filtered(
            &browser,
            &app,
            "daily\"instance",
            &["{instance=\"h1\", job=\"daily\"}"],
            &["daily", "expiring"],
        )
        .await;
        let env: Value = serde_json::from_str(&app.get("/api/v1/metrics").await.body).unwrap();
        let daily = env["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["labels"]["job"] == "daily")
            .unwrap();
        assert_eq!(daily["labels"]["env"], "prod");

        let problems = browser.problems().await;
        assert!(problems.is_empty(), "the page went wrong: {problems:#?}");
        browser.close().await;
    })
    .await;
}

/// Filters the page by `term`, clicks "Delete N matching groups", checks that the
/// confirmation lists exactly `listed` (each group's labels, sorted) and that the dry run
/// changed nothing, confirms, and checks that the rows went and the store keeps the groups
/// of `kept` (their jobs, sorted).
async fn delete_filtered(
    browser: &Browser,
    app: &crate::helpers::TestApp,
    term: &str,
    listed: &[&str],
    kept: &[&str],
) {
    let before = browser.count(&groups()).await;
    let n = listed.len();
    browser.fill(&Sel::css("#filter"), term).await;
    let shown = "return [...document.querySelectorAll('#group-list > .group')]
        .filter((g) => !g.hidden).length";
    browser
        .wait_until(
            &format!("the filter {term:?} to list {n} groups"),
            || async { (browser.eval::<usize>(shown, vec![]).await == n).then_some(()) },
        )
        .await;
    let button = Sel::css("#delete-matching");
    browser.wait_for(&button).await;
    let plural = if n == 1 { "" } else { "s" };
    assert_eq!(
        browser.text(&button).await,
        format!("Delete {n} matching group{plural}")
    );

    browser.click(&button).await;
    let dialog = Sel::css("dialog#confirm-groups");
    browser.wait_for(&dialog).await;
    let mut shown_in_dialog: Vec<String> = browser
        .eval(
            "return [...document.querySelectorAll('#confirm-groups-list li')]
                .map((li) => li.textContent)",
            vec![],
        )
        .await;
    shown_in_dialog.sort();
    assert_eq!(
        shown_in_dialog, listed,
        "the confirmation lists the dry run's groups"
    );
    assert_eq!(
        browser.text(&Sel::css("#confirm-groups-title")).await,
        format!("Delete {n} matching group{plural}?")
    );
    assert_eq!(
        api_jobs(app).await.len(),
        before,
        "the dry run changed nothing"
    );
    let shot = format!("status-page-delete-{n}-matching.png");
    browser
        .screenshot(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/screenshots")
                .join(shot),
        )
        .await;

    browser.click(&Sel::css("#confirm-groups-ok")).await;
    browser.wait_hidden(&dialog).await;
    browser
        .wait_until("the deleted rows to go", || async {
            (browser.count(&groups()).await == before - n).then_some(())
        })
        .await;
    assert_eq!(
        browser.text(&Sel::css("#group-count")).await,
        (before - n).to_string()
    );
    let mut jobs = api_jobs(app).await;
    jobs.sort();
    assert_eq!(jobs, kept, "exactly the listed groups went");
    browser.fill(&Sel::css("#filter"), "").await;
}

/// The jobs of the groups `/api/v1/metrics` lists.
async fn api_jobs(app: &crate::helpers::TestApp) -> Vec<String> {
    let body: Value = serde_json::from_str(&app.get("/api/v1/metrics").await.body).unwrap();
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["labels"]["job"].as_str().unwrap().to_string())
        .collect()
}
