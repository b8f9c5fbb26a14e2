//! Charts of pushed values on the status page (`static/charts.js`), in a real browser: the
//! sparkline of an opened group's series, its tooltip, the larger chart with its range
//! selector, the push strip, a narrow window, and a route prefix with basic auth. Screenshots
//! go to `target/screenshots/charts-*.png`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::rt::time;
use serde_json::Value;

use super::driver::{Browser, Sel};
use super::{bounded, group};
use crate::helpers::{spawn_app, TestApp};

/// The values the test pushes, one push each, in order.
const VALUES: [f64; 10] = [12.5, 30.0, 7.25, 18.0, 42.0, 3.5, 27.0, 33.25, 15.0, 21.75];

fn screenshot(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/screenshots")
        .join(name)
}

/// Pushes `backup_bytes{target="s3"}` ten times with [`VALUES`] (and a histogram whose count
/// and sum grow), and one rejected push after the sixth, to `job="charts"` under `prefix`.
async fn push_history(app: &TestApp, prefix: &str, auth: Option<(&str, &str)>) {
    let path = format!("{prefix}/metrics/job/charts/instance/web-1");
    let send = |body: String| {
        let mut req = app.client.put(app.url(&path)).body(body);
        if let Some((user, password)) = auth {
            req = req.basic_auth(user, Some(password));
        }
        req.send()
    };
    for (i, value) in VALUES.iter().enumerate() {
        let body = format!(
            "# TYPE backup_bytes gauge\n# HELP backup_bytes Bytes in the last backup.\n\
             backup_bytes{{target=\"s3\"}} {value}\n\
             # TYPE backup_seconds histogram\nbackup_seconds_bucket{{le=\"10\"}} {i}\n\
             backup_seconds_bucket{{le=\"+Inf\"}} {}\nbackup_seconds_sum {}\n\
             backup_seconds_count {}\n",
            i + 1,
            4.5 * (i + 1) as f64,
            i + 1
        );
        let response = send(body).await.expect("push");
        assert_eq!(response.status(), 200, "push {i}");
        if i == 5 {
            // Rejected: a pushed timestamp.
            let response = send("backup_bytes{target=\"s3\"} 1 1700000000000\n".into())
                .await
                .expect("push");
            assert_eq!(response.status(), 400, "the rejected push");
        }
        // Pushes some milliseconds apart, so the time axis has room.
        time::sleep(Duration::from_millis(40)).await;
    }
}

/// The gauge's sparkline in the opened group.
/// Waits until the chart tooltip says `needle`.
async fn wait_for_tip(browser: &Browser, what: &str, needle: &str) {
    browser
        .wait_until(what, || async {
            let text: String = browser
                .eval(
                    "return document.getElementById('chart-tip').textContent",
                    vec![],
                )
                .await;
            text.contains(needle).then_some(())
        })
        .await;
}

fn spark() -> Sel {
    group("charts").find(".spark[data-metric=\"backup_bytes\"]")
}

/// Opens the group, checks its charts, hovers, opens the larger chart; saves screenshots as
/// `charts-<stem>-*.png`.
async fn check_charts(browser: &Browser, url: &str, stem: &str) {
    browser.goto(url).await;
    browser.click(&group("charts").find("button.toggle")).await;
    let drawn = spark().find("svg.spark-svg");
    browser.wait_for(&drawn).await;

    // Ten points with the pushed values, in push order, from the data the chart drew.
    let values: Vec<String> = browser
        .eval(
            "return [...document.querySelectorAll(
                '.spark[data-metric=\"backup_bytes\"] svg circle.pt')].map((c) => c.dataset.value)",
            vec![],
        )
        .await;
    let values: Vec<f64> = values.iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!(values, VALUES, "the sparkline's points");
    // The drawn positions follow the values: the highest value is the highest point.
    let heights: Vec<f64> = browser
        .eval(
            "return [...document.querySelectorAll(
                '.spark[data-metric=\"backup_bytes\"] svg circle.pt')].map((c) => Number(c.getAttribute('cy')))",
            vec![],
        )
        .await;
    let top = heights.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(heights[4], top, "42 is drawn highest: {heights:?}");
    // The line breaks where the push failed: two pieces.
    let d: String = browser
        .eval(
            "return document.querySelector('.spark[data-metric=\"backup_bytes\"] svg path.line').getAttribute('d')",
            vec![],
        )
        .await;
    assert_eq!(d.matches('M').count(), 2, "one gap in {d}");
    let stats = browser.text(&spark().find(".spark-stats")).await;
    for text in ["latest", "21.75", "min", "3.5", "max", "42"] {
        assert!(stats.contains(text), "{text} in the stats: {stats}");
    }
    // A histogram's count and sum are charted too.
    for metric in ["backup_seconds_count", "backup_seconds_sum"] {
        let sel = group("charts").find(&format!(".spark[data-metric=\"{metric}\"] circle.pt"));
        assert_eq!(browser.count(&sel).await, 10, "{metric}");
    }
    // The gateway's own timestamps have no recorded values: no chart for them.
    let none = group("charts").find(".spark[data-metric^=\"push_\"]");
    assert_eq!(browser.count(&none).await, 0);

    // The push strip in the header: ten accepted pushes and one rejected, by shape and colour.
    let strip = group("charts").find(".row .push-strip");
    browser.wait_for(&strip.find("svg")).await;
    assert_eq!(browser.count(&strip.find(".mark.kind-accepted")).await, 10);
    assert_eq!(
        browser.count(&strip.find("path.mark.kind-rejected")).await,
        1
    );

    // The tooltip of a point: exact value, push time, outcome.
    browser
        .hover(&spark().find("circle.pt:nth-of-type(5)"))
        .await;
    let tip = Sel::css("#chart-tip");
    browser.wait_for(&tip).await;
    let text = browser.text(&tip).await;
    assert!(text.contains("42"), "tooltip value: {text}");
    assert!(
        text.contains("accepted") && text.contains("PUT"),
        "tooltip outcome: {text}"
    );
    let year = jiff::Timestamp::now().to_string()[..4].to_string();
    assert!(text.contains(&year), "tooltip time: {text}");
    browser
        .screenshot(&screenshot(&format!("charts-{stem}-sparkline.png")))
        .await;

    // The larger chart: ten points, the rejected push marked on the time axis.
    browser.click(&spark()).await;
    let dialog = Sel::css("dialog#chart-dialog");
    browser.wait_for(&dialog).await;
    let big = Sel::css("#chart-dialog .chart-big[data-state=\"drawn\"] svg.big-svg");
    browser.wait_for(&big).await;
    assert_eq!(browser.count(&big.find("circle.pt")).await, 10);
    assert_eq!(browser.count(&big.find(".events .kind-rejected")).await, 1);
    let title = browser.text(&Sel::css("#chart-title")).await;
    assert_eq!(title, "backup_bytes");
    let labels = browser.text(&Sel::css("#chart-dialog .chart-labels")).await;
    assert!(labels.contains("target=\"s3\""), "{labels}");
    // Hover the rejected push's marker: its reason.
    browser.hover(&big.find(".events .kind-rejected")).await;
    wait_for_tip(browser, "the rejected push's tooltip", "rejected").await;
    browser.hover(&big.find("circle.pt:nth-of-type(8)")).await;
    wait_for_tip(browser, "a point's tooltip in the larger chart", "33.25").await;
    browser
        .screenshot(&screenshot(&format!("charts-{stem}-large.png")))
        .await;
    // The range selector: the last hour holds every push.
    browser
        .click(&Sel::css("#chart-dialog .chart-ranges button").with_text("Last hour"))
        .await;
    browser
        .wait_for(
            &Sel::css("#chart-dialog .chart-ranges button[aria-pressed=\"true\"]")
                .with_text("Last hour"),
        )
        .await;
    browser.wait_for(&big).await;
    assert_eq!(browser.count(&big.find("circle.pt")).await, 10);
    browser.click(&Sel::css("#chart-dialog .chart-close")).await;
    browser.wait_hidden(&dialog).await;

    let problems = browser.problems().await;
    assert!(problems.is_empty(), "the page went wrong: {problems:#?}");
}

#[actix_web::test]
async fn an_opened_group_charts_its_pushed_values() {
    let app = spawn_app(&[]).await;
    push_history(&app, "", None).await;
    bounded(async {
        let browser = Browser::start().await;
        check_charts(&browser, &format!("{}/", app.url("")), "wide").await;

        // A narrow window: the charts fit, nothing is cut off sideways.
        browser.resize(400, 860).await;
        browser.goto(&format!("{}/", app.url(""))).await;
        browser.click(&group("charts").find("button.toggle")).await;
        browser.wait_for(&spark().find("svg.spark-svg")).await;
        let overflow: Value = browser
            .eval(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                vec![],
            )
            .await;
        assert_eq!(overflow, 0, "no sideways scrolling in a narrow window");
        browser.screenshot(&screenshot("charts-narrow.png")).await;
        browser.click(&spark()).await;
        browser
            .wait_for(&Sel::css("#chart-dialog .chart-big[data-state=\"drawn\"] svg"))
            .await;
        browser.screenshot(&screenshot("charts-narrow-large.png")).await;
        browser.close().await;
    })
    .await;
}

#[actix_web::test]
async fn charts_work_under_a_route_prefix_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("web.yml");
    let hash = bcrypt::hash("wonderland", 4).unwrap();
    std::fs::write(&config, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
    let flag = format!("--web.config.file={}", config.display());
    let app = spawn_app(&["--web.route-prefix=/pg", &flag]).await;
    push_history(&app, "/pg", Some(("alice", "wonderland"))).await;
    // Without credentials, nothing (the page, the history) is served.
    assert_eq!(app.get("/pg/").await.status, 401);
    assert_eq!(
        app.get("/pg/api/v1/history/series?job=charts&metric=backup_bytes")
            .await
            .status,
        401
    );
    let url = app.url("/pg/");
    bounded(async {
        let browser = Browser::start().await;
        browser.basic_auth("alice", "wonderland").await;
        check_charts(&browser, &url, "prefix-auth").await;
        browser.close().await;
    })
    .await;
}

/// Measures (prints; asserts nothing about speed) the page's time to show an opened group's
/// charts with 10,000 groups, and 1,000 pushes of history for the opened group: the page's
/// load, the group's families, its sparklines and strip, and the larger chart. Meant for a
/// release build of the gateway:
/// `PUSHGATEWAY_BIN=target/release/pushgateway cargo test --locked --test api \
///  browser::charts::time_to_show_charts -- --ignored --nocapture`; with a build without
/// the charts as `PUSHGATEWAY_BIN`, it times the families alone, to compare.
#[actix_web::test]
#[ignore = "a measurement: run it on a release build"]
async fn time_to_show_charts_with_10k_groups_and_1000_pushes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use crate::helpers::Process;

    const GROUPS: usize = 10_000;
    const PUSHES: usize = 1_000;
    const RUNS: usize = 5;
    let binary = std::env::var("PUSHGATEWAY_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_pushgateway").to_string());
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(&binary);
    command.arg("--web.listen-address=127.0.0.1:0").arg(format!(
        "--persistence.file={}",
        dir.path().join("pg.db").display()
    ));
    let gateway = Process::spawn_command(command);
    assert!(gateway.wait_ready(Duration::from_secs(60)));
    let app = gateway.client();

    let started = std::time::Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (client, next, base) = (app.client.clone(), next.clone(), app.url(""));
        tasks.push(actix_web::rt::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= GROUPS {
                    return;
                }
                let body = format!(
                    "# TYPE load_bytes gauge\nload_bytes{{target=\"a\"}} {i}\n\
                     load_bytes{{target=\"b\"}} {}\n# TYPE load_runs_total counter\n\
                     load_runs_total {i}\n",
                    i * 2
                );
                let url = format!("{base}/metrics/job/load{}/instance/i{i}", i % 100);
                let r = client.put(url).body(body).send().await.expect("push");
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let prefill = started.elapsed();
    let started = std::time::Instant::now();
    for i in 0..PUSHES {
        let body = format!(
            "# TYPE backup_bytes gauge\nbackup_bytes{{target=\"s3\"}} {}\n\
             backup_bytes{{target=\"disk\"}} {}\n# TYPE backup_seconds histogram\n\
             backup_seconds_bucket{{le=\"10\"}} {i}\nbackup_seconds_sum {}\n\
             backup_seconds_count {i}\n",
            1e9 + (i * 7919 % 1000) as f64 * 1e6,
            i % 50,
            i * 3
        );
        assert_eq!(
            app.put("/metrics/job/charts_big/instance/x", &body)
                .await
                .status,
            200
        );
    }
    println!(
        "prefill: {GROUPS} groups in {:.1} s, {PUSHES} pushes of one group in {:.1} s",
        prefill.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    let url = app.url("/");
    let open_group = "
        const item = [...document.querySelectorAll('#group-list > .group')]
            .find((g) => g.querySelector('.badge.job b').textContent === '\"charts_big\"');
        item.scrollIntoView();
        const t0 = performance.now();
        let families = null;
        item.querySelector('button.toggle').click();
        return new Promise((resolve) => {
            const check = () => {
                const now = performance.now();
                if (families === null && item.querySelector('.families[data-state=\"loaded\"]')) {
                    families = now - t0;
                }
                const sparks = [...item.querySelectorAll('.spark')];
                // A build without charts (to compare): done when the families are.
                const without = families !== null && !sparks.length;
                if (without || (sparks.length && sparks.every((s) => s.dataset.state === 'drawn')
                    && item.querySelector('.push-strip svg'))) {
                    const fetched = (part) => performance.getEntriesByType('resource')
                        .filter((e) => e.name.includes(part)).map((e) => e.duration).pop();
                    resolve([families, now - t0, sparks.length,
                        performance.getEntriesByType('navigation')[0].duration,
                        fetched('/status/group/'), fetched('/api/v1/history/series')]);
                } else {
                    setTimeout(check, 2);
                }
            };
            check();
        });";
    let open_big = "
        const spark = document.querySelector('.group.open .spark[data-metric=\"backup_bytes\"]');
        const t0 = performance.now();
        spark.click();
        return new Promise((resolve) => {
            const check = () => {
                const box = document.querySelector('#chart-dialog .chart-big');
                if (box && box.dataset.state === 'drawn') {
                    resolve([performance.now() - t0, box.querySelectorAll('circle.pt').length]);
                } else {
                    setTimeout(check, 2);
                }
            };
            check();
        });";
    let mut page = Vec::new();
    let mut families = Vec::new();
    let mut charts = Vec::new();
    let mut big = Vec::new();
    let browser = Browser::start().await;
    for run in 0..RUNS {
        browser.goto(&url).await;
        let (f, c, sparks, nav, fragment, series): (f64, f64, usize, f64, f64, Option<f64>) =
            browser.eval(open_group, vec![]).await;
        let series = series.unwrap_or(0.0);
        let (b, points): (f64, usize) = match sparks {
            0 => (0.0, 0),
            _ => browser.eval(open_big, vec![]).await,
        };
        println!(
            "run {run}: page {nav:.0} ms; opened group: families {f:.0} ms, {sparks} charts and \
             the push strip {c:.0} ms (requests: families {fragment:.0} ms, series \
             {series:.0} ms); larger chart ({points} points) {b:.0} ms"
        );
        assert!(
            matches!(sparks, 0 | 4),
            "backup_bytes x2, backup_seconds count and sum (none without charts)"
        );
        page.push(nav);
        families.push(f);
        charts.push(c);
        big.push(b);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    println!(
        "median of {RUNS}: page with {GROUPS} groups {:.0} ms; opened group's families {:.0} ms, \
         its charts {:.0} ms; larger chart {:.0} ms",
        median(page),
        median(families),
        median(charts),
        median(big)
    );
    let problems = browser.problems().await;
    assert!(problems.is_empty(), "the page went wrong: {problems:#?}");
    browser.close().await;
}
