//! A small harness for checking pages in a real browser: Debian's headless chromium, driven
//! through Debian's chromedriver over WebDriver (fantoccini, plain HTTP on loopback).
//!
//! Why it looks the way it does:
//! * Each [`Browser`] starts its own chromedriver, on a port chromedriver picks itself
//!   (`--port=0`, read back from its output), in a process group of its own. Dropping the
//!   `Browser` kills that group, so chromedriver and every chromium process go away when a
//!   check panics or a time bound drops the test's future, not only on success.
//! * Every wait is bounded by [`WAIT`], so a hung page fails the test instead of hanging CI.
//! * Elements are named with [`Sel`]: CSS selectors, optionally filtered by text like
//!   Playwright's `locator(..).filter({ hasText })`, resolved inside the page by one script,
//!   so a count, a visibility check and a text all see the same elements.
//! * WebDriver has no event stream, so page errors come from chromedriver's browser log
//!   (`goog:loggingPrefs`): uncaught exceptions, unhandled rejections, `console.error` and
//!   every response of 400 or more (chromium logs "Failed to load resource") are SEVERE
//!   entries there, and the log survives navigations and reloads. See [`Browser::problems`].

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::rt::time;
use base64::Engine;
use fantoccini::elements::{Element, ElementRef};
use fantoccini::key::Key;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long one wait for the page (an element to appear, a dialog to close, ...) may take.
pub const WAIT: Duration = Duration::from_secs(15);
/// Starting chromedriver and chromium: seconds on a busy 2-core machine, never this long.
const START: Duration = Duration::from_secs(30);
/// The viewport every page is checked (and screenshotted) at.
const VIEWPORT: (u32, u32) = (1280, 900);

/// Where WebDriver puts an element reference in JSON (W3C WebDriver, "web element identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Which elements to act on: a chain of CSS selectors, each searched inside the matches of the
/// one before, each optionally keeping only the elements whose `textContent` contains a text
/// (case-sensitive).
#[derive(Clone, Debug)]
pub struct Sel {
    steps: Vec<(String, Option<String>)>,
}

impl Sel {
    /// The elements matching `css` anywhere in the document.
    pub fn css(css: &str) -> Sel {
        Sel {
            steps: vec![(css.to_string(), None)],
        }
    }

    /// Only those of the last step's elements whose text contains `text`.
    pub fn with_text(mut self, text: &str) -> Sel {
        if let Some(step) = self.steps.last_mut() {
            step.1 = Some(text.to_string());
        }
        self
    }

    /// The elements matching `css` inside these ones.
    pub fn find(&self, css: &str) -> Sel {
        let mut inner = self.clone();
        inner.steps.push((css.to_string(), None));
        inner
    }

    fn to_json(&self) -> Value {
        Value::Array(
            self.steps
                .iter()
                .map(|(css, text)| json!({ "css": css, "text": text }))
                .collect(),
        )
    }
}

impl fmt::Display for Sel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (css, text)) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(" >> ")?;
            }
            f.write_str(css)?;
            if let Some(text) = text {
                write!(f, ":has-text({text:?})")?;
            }
        }
        Ok(())
    }
}

/// Resolves `arguments[0]` (a [`Sel`] as JSON) into `found`, the matching elements in document
/// order, and defines `visible(el)` as Playwright does: a non-empty box and not
/// `visibility: hidden` (a closed `<dialog>` or a `hidden` element has no box).
const RESOLVE: &str = r#"
    let found = [document];
    for (const { css, text } of arguments[0]) {
        const next = new Set();
        for (const root of found) {
            for (const el of root.querySelectorAll(css)) {
                if (text === null || el.textContent.includes(text)) next.add(el);
            }
        }
        found = [...next].sort((a, b) =>
            a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1);
    }
    const visible = (el) => {
        const box = el.getBoundingClientRect();
        return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
    };
"#;

/// A headless chromium session on its own chromedriver. Killed (chromedriver, chromium and the
/// temporary profile) when dropped; call [`Browser::close`] to end the session cleanly first.
pub struct Browser {
    client: Client,
    /// The SEVERE browser-log entries read so far (reading the log empties it).
    problems: RefCell<Vec<String>>,
    /// Dropped after `client`: nothing talks to chromedriver once it is killed.
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and a headless chromium (TZ=UTC, a temporary profile, a 1280x900
    /// viewport). Fails, naming the install script, when chromium or chromedriver is missing.
    pub async fn start() -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing (Debian package {package}): run scripts/install-test-deps.sh \
                 (./test.sh does it when needed)"
            );
        }
        let driver = Driver::spawn();
        let port = driver.port().await;
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities(driver.dir.path()));
        let url = format!("http://127.0.0.1:{port}");
        let connect = builder.connect(&url);
        let client = match time::timeout(START, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("chromedriver started no chromium: {e}\n{}", driver.log()),
            Err(_) => panic!("chromium did not start within {START:?}\n{}", driver.log()),
        };
        let browser = Browser {
            client,
            problems: RefCell::new(Vec::new()),
            driver,
        };
        browser.set_viewport(VIEWPORT).await;
        let zone: String = browser
            .eval(
                "return Intl.DateTimeFormat().resolvedOptions().timeZone",
                vec![],
            )
            .await;
        assert_eq!(zone, "UTC", "the browser's time zone");
        browser
    }

    /// Headless chromium has no visible window frame but its window is still larger than the
    /// viewport; size the window so that the viewport (what the page sees) is exact.
    async fn set_viewport(&self, (width, height): (u32, u32)) {
        let (extra_w, extra_h): (u32, u32) = self
            .eval(
                "return [outerWidth - innerWidth, outerHeight - innerHeight]",
                vec![],
            )
            .await;
        self.client
            .set_window_size(width + extra_w, height + extra_h)
            .await
            .expect("set the window size");
        let inner: (u32, u32) = self.eval("return [innerWidth, innerHeight]", vec![]).await;
        assert_eq!(inner, (width, height), "viewport size");
    }

    /// Opens `url` and waits for it to load; fails unless the document answered 2xx.
    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            panic!("open {url}: {e}");
        }
        self.assert_document_ok().await;
    }

    /// Reloads the page and waits for it to load; fails unless the document answered 2xx.
    pub async fn reload(&self) {
        self.client.refresh().await.expect("reload");
        self.assert_document_ok().await;
    }

    /// WebDriver does not report the status of a navigation; the page's own Navigation
    /// Timing entry does.
    async fn assert_document_ok(&self) {
        let (url, status): (String, u16) = self
            .eval(
                "const nav = performance.getEntriesByType('navigation')[0];
                 return [location.href, nav ? nav.responseStatus : 0]",
                vec![],
            )
            .await;
        assert!((200..300).contains(&status), "GET {url} answered {status}");
    }

    /// The document's title.
    pub async fn title(&self) -> String {
        self.client.title().await.expect("title")
    }

    /// Runs `script` as a function body (`arguments[i]` are `args`) and converts what it
    /// returns.
    pub async fn eval<T: DeserializeOwned>(&self, script: &str, args: Vec<Value>) -> T {
        let value = match self.client.execute(script, args).await {
            Ok(value) => value,
            Err(e) => panic!("script failed: {e}\n{script}"),
        };
        match serde_json::from_value(value.clone()) {
            Ok(v) => v,
            Err(e) => panic!("script returned {value} ({e})\n{script}"),
        }
    }

    /// Runs `body` with `found` and `visible` (see [`RESOLVE`]) defined for `sel`.
    async fn query<T: DeserializeOwned>(&self, sel: &Sel, body: &str) -> T {
        self.eval(&format!("{RESOLVE}\n{body}"), vec![sel.to_json()])
            .await
    }

    /// How many elements `sel` matches now (no waiting).
    pub async fn count(&self, sel: &Sel) -> usize {
        self.query(sel, "return found.length").await
    }

    /// Polls `probe` (every 50 ms, at most [`WAIT`]) until it returns something; on timeout
    /// fails with `what` and the page problems seen so far.
    pub async fn wait_until<T, F, Fut>(&self, what: &str, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            if Instant::now() > deadline {
                let problems = self.problems().await;
                panic!("timed out after {WAIT:?} waiting for {what}; page problems: {problems:?}");
            }
            time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `sel` matches a visible element and returns the first one.
    pub async fn wait_for(&self, sel: &Sel) -> Element {
        let element: Value = self
            .wait_until(&format!("{sel} to be visible"), || async {
                let first: Value = self.query(sel, "return found.find(visible) ?? null").await;
                (!first.is_null()).then_some(first)
            })
            .await;
        self.element(element)
    }

    /// Waits until no element `sel` matches is visible (hidden or gone).
    pub async fn wait_hidden(&self, sel: &Sel) {
        self.wait_until(&format!("{sel} to be hidden"), || async {
            let shown: bool = self.query(sel, "return found.some(visible)").await;
            (!shown).then_some(())
        })
        .await
    }

    /// Waits until `sel` matches nothing (removed from the document).
    pub async fn wait_gone(&self, sel: &Sel) {
        self.wait_until(&format!("{sel} to be removed"), || async {
            (self.count(sel).await == 0).then_some(())
        })
        .await
    }

    /// Clicks the one element `sel` matches, once it is visible, as a user would (scrolled
    /// into view; fails if something covers it). Matching several elements is an error, as
    /// in Playwright: the test would not know which one it clicked.
    pub async fn click(&self, sel: &Sel) {
        let element = self.wait_for(sel).await;
        self.assert_unique(sel).await;
        if let Err(e) = element.click().await {
            panic!("click {sel}: {e}");
        }
    }

    /// Replaces the text in the one input `sel` matches with `text`, with keystrokes as a user
    /// would: select all, delete, type. Each keystroke fires the page's `input` handlers.
    pub async fn fill(&self, sel: &Sel, text: &str) {
        let element = self.wait_for(sel).await;
        self.assert_unique(sel).await;
        for keys in [
            Key::Control + "a",
            Key::Backspace.to_string(),
            text.to_string(),
        ] {
            if keys.is_empty() {
                continue;
            }
            if let Err(e) = element.send_keys(&keys).await {
                panic!("type into {sel}: {e}");
            }
        }
    }

    /// The `textContent` of the one element `sel` matches, once it exists.
    pub async fn text(&self, sel: &Sel) -> String {
        self.wait_until(&format!("{sel} to exist"), || async {
            (self.count(sel).await > 0).then_some(())
        })
        .await;
        self.assert_unique(sel).await;
        self.query(sel, "return found[0].textContent").await
    }

    async fn assert_unique(&self, sel: &Sel) {
        let n = self.count(sel).await;
        assert_eq!(n, 1, "{sel} matches {n} elements, expected exactly one");
    }

    /// A WebDriver element from the reference a script returned.
    fn element(&self, reference: Value) -> Element {
        let id = reference
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("not an element reference: {reference}"));
        Element::from_element_id(self.client.clone(), ElementRef::from(id.to_string()))
    }

    /// Saves a PNG of the whole page (not only the viewport) to `path`, creating its
    /// directory. WebDriver's own screenshot stops at the viewport, so this asks chromium
    /// directly (DevTools `Page.captureScreenshot`).
    pub async fn screenshot(&self, path: &Path) {
        let shot = self
            .chromium(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// Everything that went wrong in the pages so far: uncaught exceptions and rejections,
    /// `console.error` calls and responses of 400 or more, one line each. Empty when all is
    /// well; the list only grows.
    pub async fn problems(&self) -> Vec<String> {
        let entries = self
            .client
            .issue_cmd(ChromeCommand::BrowserLog)
            .await
            .expect("read the browser log");
        let severe = entries
            .as_array()
            .expect("browser log entries")
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string());
        let mut problems = self.problems.borrow_mut();
        problems.extend(severe);
        problems.clone()
    }

    /// A DevTools protocol command, for what WebDriver cannot do.
    async fn chromium(&self, cmd: &'static str, params: Value) -> Value {
        match self
            .client
            .issue_cmd(ChromeCommand::DevTools { cmd, params })
            .await
        {
            Ok(value) => value,
            Err(e) => panic!("{cmd}: {e}"),
        }
    }

    /// Moves the mouse onto the first visible element `sel` matches (its centre, scrolled into
    /// view), as a user pointing at it: the page sees `pointermove` and `mouseover` there.
    pub async fn hover(&self, sel: &Sel) {
        self.wait_for(sel).await;
        let (x, y): (f64, f64) = self
            .query(
                sel,
                "const el = found.find(visible);
                 el.scrollIntoView({ block: 'center', inline: 'center' });
                 const box = el.getBoundingClientRect();
                 return [box.left + box.width / 2, box.top + box.height / 2]",
            )
            .await;
        for (dx, dy) in [(-3.0, 0.0), (0.0, 0.0)] {
            self.chromium(
                "Input.dispatchMouseEvent",
                json!({ "type": "mouseMoved", "x": x + dx, "y": y + dy }),
            )
            .await;
        }
    }

    /// Sends basic auth credentials with every request from now on, as a browser does once
    /// its user has answered the login prompt for the site.
    pub async fn basic_auth(&self, user: &str, password: &str) {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.chromium("Network.enable", json!({})).await;
        self.chromium(
            "Network.setExtraHTTPHeaders",
            json!({ "headers": { "Authorization": format!("Basic {token}") } }),
        )
        .await;
    }

    /// Resizes the viewport (as a narrow window would), to `width` x `height` CSS pixels.
    pub async fn resize(&self, width: u32, height: u32) {
        self.set_viewport((width, height)).await;
    }

    /// Ends the session cleanly (chromium exits); dropping the result kills what is left.
    pub async fn close(self) {
        let Browser { client, driver, .. } = self;
        if let Err(e) = client.close().await {
            panic!("close the browser: {e}");
        }
        drop(driver);
    }
}

/// WebDriver capabilities: chromium's flags (headless; no sandbox, GPU, background traffic or
/// first-run screens; no scrollbars, so full-page screenshots are the viewport's width; the
/// temporary profile and the window size), the browser log, and time limits for page loads
/// and scripts.
fn capabilities(profile: &Path) -> Capabilities {
    let (width, height) = VIEWPORT;
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars",
                format!("--user-data-dir={}", profile.join("profile").display()),
                format!("--window-size={width},{height}"),
            ],
        },
        "goog:loggingPrefs": { "browser": "ALL" },
        "timeouts": { "pageLoad": WAIT.as_millis() as u64, "script": WAIT.as_millis() as u64 },
    });
    match caps {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

/// chromedriver's commands beyond the W3C standard, which fantoccini does not wrap.
#[derive(Debug)]
enum ChromeCommand {
    /// Reads and empties the browser log (`goog:loggingPrefs`).
    BrowserLog,
    /// Runs a DevTools protocol command in the page's target.
    DevTools { cmd: &'static str, params: Value },
}

impl WebDriverCompatibleCommand for ChromeCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.expect("a WebDriver session");
        let path = match self {
            ChromeCommand::BrowserLog => "se/log",
            ChromeCommand::DevTools { .. } => "goog/cdp/execute",
        };
        base_url.join(&format!("session/{session}/{path}"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = match self {
            ChromeCommand::BrowserLog => json!({ "type": "browser" }),
            ChromeCommand::DevTools { cmd, params } => json!({ "cmd": cmd, "params": params }),
        };
        (http::Method::POST, Some(body.to_string()))
    }
}

/// The chromedriver process, leader of a process group that chromium joins, with its output
/// in a log file next to chromium's temporary profile.
struct Driver {
    child: Child,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Driver {
    fn spawn() -> Driver {
        let dir = tempfile::Builder::new()
            .prefix("pushgateway-chromium-")
            .tempdir()
            .expect("temporary directory");
        let log = dir.path().join("chromedriver.log");
        let out = File::create(&log).expect("chromedriver log file");
        let child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            // chromium inherits it: dates in the page and the screenshots do not depend on
            // the machine's time zone.
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("chromedriver log file"))
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        Driver { child, log, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The port chromedriver chose, from its "started successfully on port N." line.
    async fn port(&self) -> u16 {
        let deadline = Instant::now() + START;
        loop {
            let log = self.log();
            let port = log
                .split("started successfully on port ")
                .nth(1)
                .and_then(|rest| rest.split('.').next())
                .and_then(|port| port.parse().ok());
            if let Some(port) = port {
                return port;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start within {START:?}:\n{log}"
            );
            time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Driver {
    /// `kill -9` of the whole group, then a bounded wait until its processes are gone, so
    /// that none outlives the test or still writes into the profile being removed.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let alive = Command::new("kill")
                .args(["-0", "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
