//! Starting real gateways for tests: in-process on port 0, or the real binary for restart and
//! crash tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::Parser;
use pushgateway::cli::Cli;
use pushgateway::config::Config;
use pushgateway::startup::Application;

/// A running in-process gateway and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
}

/// Starts a gateway in this test's runtime with extra flags (in-memory database by default).
pub async fn spawn_app(args: &[&str]) -> TestApp {
    let mut argv = vec![
        "pushgateway",
        "--web.listen-address=127.0.0.1:0",
        "--log.level=error",
    ];
    argv.extend_from_slice(args);
    let config = Config::try_from(Cli::try_parse_from(argv).expect("flags")).expect("config");
    let app = Application::build(config).expect("gateway starts");
    let addr = app.addrs()[0];
    // The cache warms in the background; tests start once every route is served.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !app.is_ready() && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(app.is_ready(), "gateway became ready");
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        addr,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            // Well under actix-web's 5 s keep-alive: a request sent on an idle connection just
            // as the server closes it fails (an HTTP/1.1 race, not a gateway fault), and
            // tests that pause for seconds, such as the browser tests, would hit it.
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .expect("client"),
    }
}

/// A response reduced to what tests compare.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn send(&self, method: &str, path: &str, body: &str) -> Reply {
        self.send_with(method, path, body.as_bytes().to_vec(), &[])
            .await
    }

    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.expect("body"),
        }
    }

    pub async fn put(&self, path: &str, body: &str) -> Reply {
        self.send("PUT", path, body).await
    }

    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.send("POST", path, body).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, "").await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, "").await
    }

    /// `/metrics` without the gateway's own families and without timestamp values, which
    /// change with every push: what the pushes stored.
    pub async fn pushed(&self) -> String {
        pushed_part(&self.get("/metrics").await.body)
    }
}

/// The lines of an exposition that come from pushes (the gateway's own `process_*` and
/// `pushgateway_*` families removed).
pub fn pushed_part(exposition: &str) -> String {
    exposition
        .lines()
        .filter(|l| {
            let name = l
                .trim_start_matches("# HELP ")
                .trim_start_matches("# TYPE ");
            !(name.starts_with("process_") || name.starts_with("pushgateway_"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Sends raw bytes (for paths an HTTP client library would normalise) and returns the
/// status and the whole response. Runs on a blocking thread: the server under test shares
/// this test's runtime.
pub async fn raw_request(addr: SocketAddr, request: &str) -> (u16, String) {
    let request = request.to_string();
    actix_web::rt::task::spawn_blocking(move || raw_request_blocking(addr, &request))
        .await
        .expect("raw request thread")
}

fn raw_request_blocking(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// The real binary, started on a free loopback port with a database file.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
    /// Every line it has written to stderr so far (its log).
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Process {
    /// Starts `pushgateway` and waits until its cache is warm (`/-/ready` answers 200).
    pub fn start(db: &Path, extra: &[&str]) -> Process {
        let process = Process::spawn(db, extra);
        assert!(
            process.wait_ready(Duration::from_secs(60)),
            "gateway became ready"
        );
        process
    }

    /// Starts `pushgateway` and waits only until it logs its listening address.
    pub fn spawn(db: &Path, extra: &[&str]) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pushgateway"));
        command
            .arg("--web.listen-address=127.0.0.1:0")
            .arg(format!("--persistence.file={}", db.display()))
            .args(extra);
        Process::spawn_command(command)
    }

    /// Runs `command`, which starts `pushgateway` on `127.0.0.1:0` (through a wrapper, say),
    /// and waits until it logs its listening address.
    pub fn spawn_command(mut command: Command) -> Process {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pushgateway");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line.clone());
                if !sent {
                    if let Some(addr) = line.split("msg=\"listening on ").nth(1) {
                        let addr = addr.trim_end_matches('"').to_string();
                        let _ = tx.send(addr);
                        sent = true;
                    }
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("gateway reported its address")
            .parse()
            .expect("address");
        Process { child, addr, log }
    }

    /// The lines it has logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Polls `/-/ready` until it answers 200; false when `timeout` passes first.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if get_status(self.addr, "/-/ready") == Some(200) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// SIGKILL: no chance to flush or close anything.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("wait")
    }

    pub fn client(&self) -> TestApp {
        TestApp {
            addr: self.addr,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of a plain GET on a blocking connection; `None` when nothing answers.
pub fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}
