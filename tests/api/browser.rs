//! The status page in a real browser: Debian's headless chromium, driven by
//! `tests/browser/status_page.mjs` (playwright-core). Both are installed by
//! `scripts/install-test-deps.sh` (which `./test.sh` runs when they are missing); without them
//! these tests fail rather than skip. The screenshots are left in `target/screenshots/`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{spawn_app, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
/// One browser run takes a few seconds; the bound only stops a hung browser.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(180);

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

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Fails (never skips) when the browser or the node modules are missing.
fn require_browser_deps() {
    let hint = "run scripts/install-test-deps.sh (./test.sh does it when needed)";
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: {hint}"
    );
    assert!(
        repo_root()
            .join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "tests/browser/node_modules/playwright-core is missing: {hint}"
    );
}

/// Runs the browser script to completion (or kills it at the timeout); returns its exit
/// success and its output.
fn run_browser_script(url: String, screenshot: PathBuf) -> (bool, String) {
    let mut child = Command::new("node")
        .arg("tests/browser/status_page.mjs")
        .arg(&url)
        .arg(&screenshot)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (install it with scripts/install-test-deps.sh)");
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        std::thread::spawn(move || {
            let mut out = String::new();
            let _ = pipe.read_to_string(&mut out);
            out
        })
    })
    .collect();
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output: String = readers.into_iter().filter_map(|r| r.join().ok()).collect();
    match status {
        Some(status) => (status.success(), output),
        None => (
            false,
            format!("timed out after {BROWSER_TIMEOUT:?}\n{output}"),
        ),
    }
}

/// Pushes the two groups under `prefix`, runs the browser script against the page, then
/// checks that the group it deleted is gone from `/metrics` and the other one is not.
async fn browser_round_trip(app: &TestApp, prefix: &str, screenshot_name: &str) {
    require_browser_deps();
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

    let url = app.url(prefix);
    let screenshot = repo_root().join("target/screenshots").join(screenshot_name);
    let (ok, output) =
        actix_web::rt::task::spawn_blocking(move || run_browser_script(url, screenshot))
            .await
            .expect("browser thread");
    assert!(ok, "browser check failed:\n{output}");

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
