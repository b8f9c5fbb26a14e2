//! A refused push logs exactly one line at error level saying who pushed what and why, in
//! logfmt and in JSON. Runs the real binary to read what it writes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use crate::helpers::TestApp;

struct Gateway {
    child: Child,
    lines: Receiver<String>,
    app: TestApp,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with these flags and waits until it logs that it is ready.
fn start(args: &[&str]) -> Gateway {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushgateway"))
        .arg("--web.listen-address=127.0.0.1:0")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pushgateway");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let addr = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("gateway reported its address");
        if let Some(rest) = line.split("listening on ").nth(1) {
            // logfmt ends the message with its quote, JSON continues after it.
            break rest
                .split('"')
                .next()
                .unwrap_or(rest)
                .parse()
                .expect("address");
        }
    };
    // Pushes are answered 503 until the cache is warm, which the gateway logs as "ready".
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("gateway reported that it is ready");
        if line.contains("msg=ready") || line.contains("\"msg\":\"ready\"") {
            break;
        }
    }
    let app = TestApp {
        addr,
        client: reqwest::Client::new(),
    };
    Gateway { child, lines, app }
}

/// The lines logged until nothing more comes for a moment.
fn drain(lines: &Receiver<String>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
        out.push(line);
    }
    out
}

const INCONSISTENT: &str = "# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n";

#[actix_web::test]
async fn a_rejected_push_is_one_logfmt_line_at_error_level() {
    let gw = start(&["--log.format=logfmt"]);
    let r = gw
        .app
        .put("/metrics/job/bad/instance/i", INCONSISTENT)
        .await;
    assert_eq!(r.status, 400);
    let lines = drain(&gw.lines);
    let rejected: Vec<_> = lines.iter().filter(|l| l.contains("rejected")).collect();
    assert_eq!(rejected.len(), 1, "{lines:#?}");
    let line = rejected[0];
    assert!(line.contains("level=error"), "{line}");
    assert!(line.contains("client=127.0.0.1:"), "{line}");
    assert!(line.contains("method=PUT"), "{line}");
    assert!(
        line.contains(r#"group={instance=\"i\",job=\"bad\"}"#),
        "{line}"
    );
    assert!(
        line.contains("was collected before with the same name"),
        "{line}"
    );
}

#[actix_web::test]
async fn a_rejected_push_is_one_json_line_at_error_level() {
    let gw = start(&["--log.format=json"]);
    // Two errors: the message has several lines, the log record must not.
    let r = gw
        .app
        .put(
            "/metrics/job/bad",
            "# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\nx{a=\"2\"} 1\nx{a=\"2\"} 2\n",
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("2 error(s) occurred"), "{}", r.body);
    let lines = drain(&gw.lines);
    let rejected: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l.contains("rejected"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(rejected.len(), 1, "{lines:#?}");
    assert_eq!(rejected[0]["level"], "error");
    let msg = rejected[0]["msg"].as_str().unwrap();
    assert!(msg.starts_with("push rejected: client=127.0.0.1:"), "{msg}");
    assert!(
        msg.contains(r#"method=PUT group={job="bad"} reason="#),
        "{msg}"
    );
    assert!(msg.contains("2 error(s) occurred"), "{msg}");
}

#[actix_web::test]
async fn a_body_over_the_limit_is_one_error_line_naming_the_client_and_path() {
    let gw = start(&["--push.max-body-bytes=8"]);
    let r = gw.app.put("/metrics/job/big", "a 1\nb 2\nc 3\n").await;
    assert_eq!(r.status, 413);
    let lines = drain(&gw.lines);
    let refused: Vec<_> = lines.iter().filter(|l| l.contains("refused")).collect();
    assert_eq!(refused.len(), 1, "{lines:#?}");
    assert!(refused[0].contains("level=error"), "{}", refused[0]);
    assert!(
        refused[0].contains("method=PUT path=/metrics/job/big"),
        "{}",
        refused[0]
    );
}
