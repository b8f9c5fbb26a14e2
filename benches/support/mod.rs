//! What the benches share: this gateway's binary started on a free loopback port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `binary` (this gateway) on a free loopback port with `db` as its database file and
/// `extra` flags, as a user runs it (without `MALLOC_ARENA_MAX`); returns the process and its
/// address once `/-/ready` answers 200.
pub fn start_gateway(binary: &str, db: &Path, extra: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(binary)
        .args(["--web.listen-address=127.0.0.1:0", "--log.level=info"])
        .arg(format!("--persistence.file={}", db.display()))
        .args(extra)
        .env_remove("MALLOC_ARENA_MAX")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    // The port it bound is in its start-up log line.
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("msg=\"listening on ").nth(1) {
                let _ = tx.send(addr.trim_end_matches('"').to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("gateway address")
        .parse()
        .expect("address");
    wait_ready(addr);
    (child, addr)
}

/// Waits until the gateway at `addr` answers `/-/ready` with 200 (a large store takes a while
/// to load).
pub fn wait_ready(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let status = std::net::TcpStream::connect(addr).ok().and_then(|mut s| {
            write!(s, "GET /-/ready HTTP/1.0\r\n\r\n").ok()?;
            let mut response = String::new();
            s.read_to_string(&mut response).ok()?;
            response.split_whitespace().nth(1).map(str::to_string)
        });
        if status.as_deref() == Some("200") {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("gateway at {addr} not ready");
}
