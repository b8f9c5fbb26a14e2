//! The status page in a real browser: Debian's headless chromium, driven through Debian's
//! chromedriver by [`driver::Browser`]. Both are installed by `scripts/install-test-deps.sh`
//! (which `./test.sh` runs when they are missing); without them these tests fail rather than
//! skip. The screenshots are left in `target/screenshots/`.

mod charts;
mod delete_groups;
mod driver;

use std::path::Path;
use std::time::Duration;

use actix_web::rt::time;
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};
use driver::{Browser, Sel};

/// A whole browser check takes a few seconds; the bound only stops a hung browser (each wait
/// inside is bounded by [`driver::WAIT`] too).
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

const GROUP_A: &str = "\
# TYPE browser_test_gauge gauge
# HELP browser_test_gauge A gauge pushed by the browser test.
browser_test_gauge{kind=\"x\"} 42.5
";

const GROUP_B: &str = "\
# TYPE browser_latency_seconds histogram
# HELP browser_latency_seconds Request latency.
browser_latency_seconds_bucket{le=\"0.1\"} 3
browser_latency_seconds_bucket{le=\"0.5\"} 7
browser_latency_seconds_bucket{le=\"+Inf\"} 9
browser_latency_seconds_sum 2.75
browser_latency_seconds_count 9
# TYPE browser_rpc_seconds summary
browser_rpc_seconds{quantile=\"0.5\"} 0.12
browser_rpc_seconds{quantile=\"0.99\"} 0.9
browser_rpc_seconds_sum 14.2
browser_rpc_seconds_count 61
";

/// Runs `checks` within [`BROWSER_TIMEOUT`]. On timeout the checks' future is dropped, and
/// with it their [`Browser`], which kills chromedriver and chromium.
async fn bounded(checks: impl std::future::Future<Output = ()>) {
    if time::timeout(BROWSER_TIMEOUT, checks).await.is_err() {
        panic!("the browser checks took longer than {BROWSER_TIMEOUT:?}");
    }
}

/// The rows of the group list.
fn groups() -> Sel {
    Sel::css("#group-list > .group")
}

/// The row of the group whose labels show `job="<job>"`, as a user finds it.
fn group(job: &str) -> Sel {
    groups().with_text(&format!("job=\"{job}\""))
}

/// Types `term` into the filter box and waits until exactly the groups of `jobs` are listed
/// (in page order), each naming `matched` (the metric names the term found in it) under its
/// row; an empty `matched` means the term matched labels only, so no names are listed. The
/// filter runs 120 ms after the last keystroke: the check starts after that and polls until
/// the list settles.
async fn filter_by(browser: &Browser, term: &str, jobs: &[&str], matched: &[&str]) {
    browser.fill(&Sel::css("#filter"), term).await;
    time::sleep(Duration::from_millis(300)).await;
    let script = "return [...document.querySelectorAll('#group-list > .group')]
        .filter((g) => !g.hidden)
        .map((g) => [
            g.querySelector('.badge.job b').textContent,
            [...g.querySelectorAll('.matched-names code')].map((c) => c.textContent),
        ])";
    let expected: Vec<(String, Vec<String>)> = jobs
        .iter()
        .map(|j| {
            let names = matched.iter().map(|n| n.to_string()).collect();
            (format!("\"{j}\""), names)
        })
        .collect();
    let what = format!("filter {term:?} to list exactly {expected:?}");
    let expected = &expected;
    browser
        .wait_until(&what, || async move {
            let shown: Vec<(String, Vec<String>)> = browser.eval(script, vec![]).await;
            (shown == *expected).then_some(())
        })
        .await;
}

/// Answers the page's confirmation dialog (`dialog#confirm`, which every delete button opens)
/// with its Delete button (`ok`) or Cancel, and waits until it has closed. Returns the text
/// the dialog showed.
async fn answer_confirmation(browser: &Browser, ok: bool) -> String {
    let dialog = Sel::css("dialog#confirm");
    browser.wait_for(&dialog).await;
    let text = browser.text(&dialog).await;
    let button = if ok { "#confirm-ok" } else { "#confirm-cancel" };
    browser.click(&Sel::css(button)).await;
    browser.wait_hidden(&dialog).await;
    text
}

/// Drives the page at `base` (the gateway's URL with the route prefix, if any) holding exactly
/// the groups [`browser_round_trip`] pushes: job="browser_a" (a gauge) and job="browser_b" (a
/// histogram and a summary, and a rejected push). Opens both, checks their metrics, saves a
/// screenshot, deletes browser_a with its button and the confirmation dialog, and checks that
/// it is gone, also after a reload. Nothing on the page may go wrong on the way.
async fn check_status_page(base: &str, screenshot: &Path) {
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/")).await;
    assert_eq!(browser.title().await, "Pushgateway", "page title");

    // The stylesheet loaded (its relative link resolved under the prefix); the script did if
    // the groups open below.
    let position: String = browser
        .eval(
            "return getComputedStyle(document.querySelector('.topbar')).position",
            vec![],
        )
        .await;
    assert_eq!(
        position, "sticky",
        "stylesheet not applied (topbar position)"
    );

    browser.wait_for(&groups()).await;
    assert_eq!(browser.count(&groups()).await, 2, "groups listed");
    assert_eq!(
        browser.text(&Sel::css("#group-count")).await,
        "2",
        "group counter"
    );
    let (group_a, group_b) = (group("browser_a"), group("browser_b"));
    assert_eq!(browser.count(&group_a).await, 1, "browser_a is listed");
    assert_eq!(browser.count(&group_b).await, 1, "browser_b is listed");
    let labels = browser.text(&group_a.find(".labels")).await;
    assert!(
        labels.contains("instance=\"one\""),
        "browser_a shows its instance: {labels}"
    );

    // The push rejected before the page loaded marks browser_b, and only it.
    let failed = Sel::css("#group-list > .group.is-failed");
    assert_eq!(browser.count(&failed).await, 1, "one group marked failed");
    assert_eq!(
        browser.count(&failed.with_text("job=\"browser_b\"")).await,
        1,
        "browser_b is the failed group"
    );
    assert_eq!(
        browser.text(&group_b.find(".pill-bad")).await,
        "last push failed"
    );
    assert_eq!(
        browser.text(&Sel::css("#stat-failing")).await,
        "1",
        "failed counter"
    );

    // Opening a group loads its families.
    browser.click(&group_a.find("button.toggle")).await;
    browser.wait_for(&group_a.find(".family")).await;
    let families = browser.text(&group_a.find(".families")).await;
    for (text, what) in [
        ("browser_test_gauge", "its gauge"),
        ("42.5", "the gauge's value"),
        ("push_time_seconds", "push_time_seconds"),
    ] {
        assert!(
            families.contains(text),
            "browser_a shows {what}: {families}"
        );
    }

    browser.click(&group_b.find("button.toggle")).await;
    browser.wait_for(&group_b.find(".family")).await;
    let families = browser.text(&group_b.find(".families")).await;
    for (text, what) in [
        ("browser_latency_seconds", "its histogram"),
        ("≤ 0.5", "the histogram's bucket rows"),
        ("browser_rpc_seconds", "its summary"),
        ("quantile 0.99", "the summary's quantile rows"),
    ] {
        assert!(
            families.contains(text),
            "browser_b shows {what}: {families}"
        );
    }

    browser.screenshot(screenshot).await;

    // The filter finds groups by the metric names they push, without opening them: the
    // names come from the page's index, not from the families loaded above.
    browser.reload().await;
    browser.wait_for(&groups()).await;
    filter_by(
        &browser,
        "browser_rpc",
        &["browser_b"],
        &["browser_rpc_seconds"],
    )
    .await;
    filter_by(
        &browser,
        "browser_test_gauge",
        &["browser_a"],
        &["browser_test_gauge"],
    )
    .await;
    // Every group has push_time_seconds; only pushed names count.
    filter_by(
        &browser,
        "seconds",
        &["browser_b"],
        &["browser_latency_seconds", "browser_rpc_seconds"],
    )
    .await;
    let stem = screenshot
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("status-page");
    browser
        .screenshot(&screenshot.with_file_name(format!("{stem}-metric-filter.png")))
        .await;
    // Upper case matches too; several terms must all match, labels or names.
    filter_by(
        &browser,
        "BROWSER_LATENCY",
        &["browser_b"],
        &["browser_latency_seconds"],
    )
    .await;
    filter_by(
        &browser,
        "instance=\"one\" gauge",
        &["browser_a"],
        &["browser_test_gauge"],
    )
    .await;
    filter_by(&browser, "nothing_pushes_this", &[], &[]).await;
    browser.wait_for(&Sel::css("#no-match")).await;
    // Labels alone list no names.
    filter_by(&browser, "instance=\"one\"", &["browser_a"], &[]).await;
    filter_by(&browser, "job=\"browser_b\" gauge", &[], &[]).await;
    // An empty filter shows every group again.
    filter_by(&browser, "", &["browser_a", "browser_b"], &[]).await;
    browser.wait_hidden(&Sel::css("#no-match")).await;

    // Delete browser_a with its button; cancel first, then confirm.
    browser.click(&group_a.find("button.delete")).await;
    answer_confirmation(&browser, false).await;
    assert_eq!(
        browser.count(&groups()).await,
        2,
        "cancelling keeps the group"
    );

    browser.click(&group_a.find("button.delete")).await;
    let question = answer_confirmation(&browser, true).await;
    assert!(
        question.contains("browser_a"),
        "the dialog names the group: {question}"
    );
    browser.wait_gone(&group_a).await;
    assert_eq!(browser.count(&groups()).await, 1, "one group left");
    assert_eq!(
        browser.text(&Sel::css("#group-count")).await,
        "1",
        "group counter after the delete"
    );

    browser.reload().await;
    browser.wait_for(&groups()).await;
    assert_eq!(
        browser.count(&groups()).await,
        1,
        "one group after a reload"
    );
    assert_eq!(
        browser.count(&group_a).await,
        0,
        "browser_a gone after a reload"
    );
    assert_eq!(browser.count(&group_b).await, 1, "browser_b still there");

    let problems = browser.problems().await;
    assert!(problems.is_empty(), "the page went wrong: {problems:#?}");
    browser.close().await;
}

/// Pushes the two groups under `prefix`, checks the page in the browser, then checks that the
/// group deleted there is gone from `/metrics` and the other one is not.
async fn browser_round_trip(app: &TestApp, prefix: &str, screenshot_name: &str) {
    let r = app
        .put(
            &format!("{prefix}/metrics/job/browser_a/instance/one"),
            GROUP_A,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .put(&format!("{prefix}/metrics/job/browser_b"), GROUP_B)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A rejected push (type conflict with browser_a), so the page shows a failed group.
    let r = app
        .post(
            &format!("{prefix}/metrics/job/browser_b"),
            "# TYPE browser_test_gauge counter\nbrowser_test_gauge 1\n",
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    let screenshot = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/screenshots")
        .join(screenshot_name);
    bounded(check_status_page(&app.url(prefix), &screenshot)).await;

    let metrics = app.get(&format!("{prefix}/metrics")).await.body;
    assert!(!metrics.contains("job=\"browser_a\""), "{metrics}");
    assert!(!metrics.contains("browser_test_gauge"), "{metrics}");
    assert!(
        metrics.contains(
            "browser_latency_seconds_bucket{instance=\"\",job=\"browser_b\",le=\"0.5\"} 7"
        ),
        "{metrics}"
    );
}

#[actix_web::test]
async fn a_group_is_shown_and_deleted_in_a_real_browser() {
    let app = spawn_app(&[]).await;
    browser_round_trip(&app, "", "status-page.png").await;
}

#[actix_web::test]
async fn a_group_is_shown_and_deleted_in_a_real_browser_under_a_route_prefix() {
    let app = spawn_app(&["--web.route-prefix=/pg"]).await;
    browser_round_trip(&app, "/pg", "status-page-route-prefix.png").await;
}

/// The tests above pass only if [`Browser::problems`] stays empty, which proves something only
/// if it does see what goes wrong in a page: each kind the checks rely on is reported, also
/// after a reload.
#[actix_web::test]
async fn the_browser_reports_script_errors_console_errors_and_failed_requests() {
    let app = spawn_app(&[]).await;
    let base = app.url("");
    bounded(async {
        let browser = Browser::start().await;
        browser.goto(&format!("{base}/")).await;
        assert_eq!(
            browser.problems().await,
            Vec::<String>::new(),
            "a clean page"
        );

        browser
            .eval::<Value>(
                "console.error('console error 1');
                 setTimeout(() => { throw new Error('uncaught error 2'); });
                 Promise.reject(new Error('unhandled rejection 3'));
                 fetch('static/missing-4.js');
                 return null",
                vec![],
            )
            .await;
        let problems = browser
            .wait_until("four page problems", || async {
                let problems = browser.problems().await;
                (problems.len() >= 4).then_some(problems)
            })
            .await;
        for expected in [
            "console error 1",
            "uncaught error 2",
            "unhandled rejection 3",
            "missing-4.js - Failed to load resource: the server responded with a status of 404",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{expected:?} not reported: {problems:#?}"
            );
        }

        browser
            .eval::<Value>("console.error('before the reload 5'); return null", vec![])
            .await;
        browser.reload().await;
        let problems = browser.problems().await;
        assert!(
            problems.iter().any(|p| p.contains("before the reload 5")),
            "{problems:#?}"
        );
        browser.close().await;
    })
    .await;
}
