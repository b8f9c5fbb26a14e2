//! The container image with Docker: built by `scripts/build-image.sh --debug` (once per test
//! run; an unchanged binary reuses the image), run by the compose example and by the
//! original's typical compose file with only the image changed. Over TLS with basic auth,
//! nothing acknowledged is lost across `restart`, `kill -s KILL` and `down`/`up`.
//!
//! Docker is required: without it these tests fail. Published ports are on loopback only
//! (`127.0.0.1::9091`, a random port); every compose project has its own name and is taken
//! down with its volumes (`down -v`) when the test ends, passed or failed.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::helpers::pushed_part;
use crate::tls_auth::{basic, https_blocking, make_pki, Client, Pki};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const COMPOSE_EXAMPLE: &str = include_str!("../../contrib/compose/compose.yaml");
const EXAMPLE_WEB_YML: &str = include_str!("../../contrib/compose/config/web.yml");
const HASH_PLACEHOLDER: &str = "REPLACE-WITH-A-BCRYPT-HASH";

/// Runs a command to completion within `limit`, killing it when it takes longer.
fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what} (Docker is required): {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// `docker <args>`, which must succeed; its stdout.
fn docker(args: &[&str]) -> String {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    let out = run_bounded(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The image for this checkout, built once per test run in debug mode.
fn image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        // One tag per checkout: builds of other worktrees on the same daemon keep theirs.
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        ROOT.hash(&mut h);
        let tag = format!("pushgateway-sqlite:test-{:016x}", h.finish());
        let mut cmd = Command::new(Path::new(ROOT).join("scripts/build-image.sh"));
        cmd.args(["--debug", "--tag", &tag]).current_dir(ROOT);
        let started = Instant::now();
        let out = run_bounded(cmd, Duration::from_secs(1200));
        assert!(
            out.status.success(),
            "scripts/build-image.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("image {tag} ready in {:?}", started.elapsed());
        tag
    })
}

/// `docker compose` when the plugin is there, else `docker-compose`.
fn compose_program() -> &'static [&'static str] {
    static PROGRAM: OnceLock<&'static [&'static str]> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let plugin = Command::new("docker")
            .args(["compose", "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if plugin {
            &["docker", "compose"]
        } else {
            &["docker-compose"]
        }
    })
}

/// A compose project of its own, taken down with its volumes when dropped.
struct Project {
    name: String,
    dir: PathBuf,
}

impl Project {
    fn new(dir: &Path, label: &str) -> Project {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Project {
            name: format!(
                "pgtest-{}-{label}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
            dir: dir.to_path_buf(),
        }
    }

    fn output(&self, args: &[&str]) -> Output {
        let program = compose_program();
        let mut cmd = Command::new(program[0]);
        cmd.args(&program[1..])
            .args(["--project-name", &self.name, "--file", "compose.yaml"])
            .args(args)
            .current_dir(&self.dir)
            .env("PUSHGATEWAY_IMAGE", image())
            .env("PUSHGATEWAY_PUBLISH", "127.0.0.1:");
        run_bounded(cmd, Duration::from_secs(120))
    }

    /// Runs a compose command that must succeed; its stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "compose {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The running gateway container, found by the labels compose (v1 and v2) puts on it:
    /// quicker than asking compose.
    fn container(&self) -> String {
        let id = docker(&[
            "ps",
            "--quiet",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--filter",
            "label=com.docker.compose.service=pushgateway",
        ]);
        assert!(!id.is_empty(), "no running pushgateway container");
        id
    }

    /// The loopback address the gateway's port is published on (it changes on each start).
    fn addr(&self) -> SocketAddr {
        let port = docker(&["port", &self.container(), "9091/tcp"]);
        port.lines()
            .find_map(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("published address {port:?}"))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let out = self.output(&["down", "--volumes", "--remove-orphans", "--timeout", "5"]);
        if !out.status.success() {
            eprintln!(
                "compose down of {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A client for a gateway behind TLS with basic auth.
struct Gateway {
    ca: String,
    authorization: String,
}

impl Gateway {
    /// One request; the status and the (de-chunked) body, or why it failed.
    fn request(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<(u16, String), String> {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.authorization,
            body.len()
        );
        let client = Client {
            trusted_ca: self.ca.clone(),
            identity: None,
        };
        let response = https_blocking(addr, &client, &request)?;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no header end in {response:?}"))?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status in {head:?}"))?;
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        Ok((status, if chunked { dechunk(body) } else { body.into() }))
    }

    fn put(&self, addr: SocketAddr, path: &str, body: &str) {
        let r = self.request(addr, "PUT", path, body);
        assert!(matches!(r, Ok((200, _))), "PUT {path}: {r:?}");
    }

    /// What the pushes stored, as `/metrics` shows it.
    fn pushed(&self, addr: SocketAddr) -> String {
        match self.request(addr, "GET", "/metrics", "") {
            Ok((200, body)) => pushed_part(&body),
            other => panic!("GET /metrics: {other:?}"),
        }
    }

    /// Waits until `/-/ready` answers 200 at the project's (current) published address.
    fn wait_ready(&self, project: &Project) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = String::new();
        while Instant::now() < deadline {
            // Asked again now and then: the port changes when the container starts anew.
            let addr = project.addr();
            let again = Instant::now() + Duration::from_secs(2);
            while Instant::now() < again.min(deadline) {
                match self.request(addr, "GET", "/-/ready", "") {
                    Ok((200, _)) => return addr,
                    other => last = format!("{other:?}"),
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let logs = project.output(&["logs", "--tail", "20"]);
        panic!(
            "gateway not ready within 60 s: {last}\n{}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        );
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Writes a file the container's user (65534) can read.
fn write_readable(path: &Path, content: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The certificate names `localhost` and `127.0.0.1`: the tests reach the published port.
fn write_tls(dir: &Path, pki: &Pki) {
    write_readable(&dir.join("server.crt"), &pki.server_cert);
    write_readable(&dir.join("server.key"), &pki.server_key);
}

fn health(container: &str) -> String {
    docker(&[
        "inspect",
        "--format",
        "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
        container,
    ])
}

#[test]
fn the_compose_example_keeps_every_acknowledged_push_and_reports_healthy() {
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    std::fs::write(dir.path().join("compose.yaml"), COMPOSE_EXAMPLE).unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    set_mode(&config, 0o755);
    let pki = make_pki("compose");
    write_tls(&config, &pki);
    let password = "correct horse battery staple";
    let hash = bcrypt::hash(password, 4).unwrap();
    assert!(EXAMPLE_WEB_YML.contains(HASH_PLACEHOLDER));
    write_readable(
        &config.join("web.yml"),
        &EXAMPLE_WEB_YML.replace(HASH_PLACEHOLDER, &hash),
    );
    write_readable(
        &config.join("healthcheck.password"),
        &format!("{password}\n"),
    );
    let gw = Gateway {
        ca: pki.ca.clone(),
        authorization: basic("prometheus", password),
    };

    let project = Project::new(dir.path(), "example");
    project.run(&["up", "--detach"]);
    let addr = gw.wait_ready(&project);
    // Basic auth is on: a wrong password gets no metrics.
    let guessing = Gateway {
        ca: pki.ca.clone(),
        authorization: basic("prometheus", "guess"),
    };
    assert!(matches!(
        guessing.request(addr, "GET", "/metrics", ""),
        Ok((401, _))
    ));
    gw.put(
        addr,
        "/metrics/job/backup/instance/db1",
        "# TYPE backup_bytes gauge\nbackup_bytes{target=\"s3\"} 1.2e9\n",
    );
    gw.put(addr, "/metrics/job/cron", "cron_last_success 1700000000\n");
    let before = gw.pushed(addr);
    assert!(
        before.contains("backup_bytes{instance=\"db1\",job=\"backup\",target=\"s3\"} 1.2e+09\n"),
        "{before}"
    );

    // A graceful restart.
    project.run(&["restart", "--timeout", "35"]);
    let addr = gw.wait_ready(&project);
    assert_eq!(gw.pushed(addr), before, "after restart");

    // SIGKILL right after the last acknowledged push.
    let acknowledged: Vec<String> = (0..40)
        .map(|i| {
            gw.put(
                addr,
                &format!("/metrics/job/killed/instance/n{i}"),
                &format!("killed_value {i}\n"),
            );
            format!("killed_value{{instance=\"n{i}\",job=\"killed\"}} {i}\n")
        })
        .collect();
    let container = project.container();
    docker(&["kill", "--signal", "KILL", &container]);
    // restart: unless-stopped may already have started it again; start is a no-op then.
    project.run(&["start"]);
    let addr = gw.wait_ready(&project);
    let after_kill = gw.pushed(addr);
    for line in acknowledged
        .iter()
        .map(String::as_str)
        .chain(before.lines())
    {
        assert!(after_kill.contains(line), "lost {line}");
    }

    // A new container on the same volume.
    project.run(&["down", "--timeout", "35"]);
    project.run(&["up", "--detach"]);
    let addr = gw.wait_ready(&project);
    assert_eq!(gw.pushed(addr), after_kill, "after down and up");

    // The health check probes over TLS as web.yml's only user.
    let container = project.container();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut status = health(&container);
    while status != "healthy" && Instant::now() < deadline {
        assert_ne!(status, "unhealthy", "{}", docker(&["inspect", &container]));
        std::thread::sleep(Duration::from_millis(250));
        status = health(&container);
    }
    assert_eq!(status, "healthy");
    let log = docker(&[
        "inspect",
        "--format",
        "{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}",
        &container,
    ]);
    assert!(
        log.starts_with("0 https://127.0.0.1:9091/-/healthy: 200 OK"),
        "{log}"
    );
}

/// The original's typical compose file: only `image:` differs, apart from what the tests
/// need on a shared machine (a unique container name, the port on loopback only).
const UPSTREAM_COMPOSE: &str = "services:
  pushgateway:
    container_name: CONTAINER_NAME
    image: IMAGE
    restart: unless-stopped
    command:
      - --web.config.file=web.yml
      - --persistence.file=metrics.bak
    ports:
      - 127.0.0.1::9091
    volumes:
      - .:/pushgateway
";

#[test]
fn the_originals_compose_file_works_with_only_the_image_changed() {
    let dir = tempfile::tempdir().unwrap();
    // The gateway writes its database into the bind-mounted directory as uid 65534, as the
    // original does.
    set_mode(dir.path(), 0o777);
    let pki = make_pki("drop-in");
    write_tls(dir.path(), &pki);
    let hash = bcrypt::hash("pushpush", 4).unwrap();
    write_readable(
        &dir.path().join("web.yml"),
        &format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             basic_auth_users:\n  pusher: {hash}\n"
        ),
    );
    let project = Project::new(dir.path(), "dropin");
    std::fs::write(
        dir.path().join("compose.yaml"),
        UPSTREAM_COMPOSE
            .replace("CONTAINER_NAME", &project.name)
            .replace("IMAGE", image()),
    )
    .unwrap();
    let gw = Gateway {
        ca: pki.ca.clone(),
        authorization: basic("pusher", "pushpush"),
    };
    // The file the original left there (it runs as nobody and writes its file 0600).
    let original = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upstream-1.5.1/groups.bak"
    ))
    .unwrap();
    let file = dir.path().join("metrics.bak");
    std::fs::write(&file, &original).unwrap();
    set_mode(&file, 0o600);
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();

    project.run(&["up", "--detach"]);
    let addr = gw.wait_ready(&project);
    gw.put(addr, "/metrics/job/nightly", "nightly_rows_total 42\n");
    let before = gw.pushed(addr);
    assert!(
        before.contains("nightly_rows_total{instance=\"\",job=\"nightly\"} 42\n")
            && before.contains("c_total{instance=\"i1\",job=\"all_types\",path=\"plain\"} 1e+21\n"),
        "the original's groups and the new push: {before}"
    );
    // The relative --persistence.file is in the working directory, the mounted directory.
    let header = std::fs::read(&file).expect("metrics.bak written");
    assert!(header.starts_with(b"SQLite format 3\0"));
    assert_eq!(
        std::fs::read(dir.path().join("metrics.bak.original")).unwrap(),
        original,
        "the original file is kept"
    );

    project.run(&["restart", "--timeout", "35"]);
    let addr = gw.wait_ready(&project);
    assert_eq!(gw.pushed(addr), before);
}

/// Removes the container when dropped.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let mut cmd = Command::new("docker");
        cmd.args(["rm", "--force", "--volumes", &self.0]);
        let _ = run_bounded(cmd, Duration::from_secs(60));
    }
}

#[test]
fn the_image_has_the_originals_shape_and_resolves_names_in_scratch() {
    let image = image();
    let config = docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.User}}|{{.Config.WorkingDir}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|\
         {{json .Config.ExposedPorts}}",
        image,
    ]);
    assert_eq!(
        config,
        "65534|/pushgateway|[\"/bin/pushgateway\"]|null|{\"9091/tcp\":{}}"
    );
    let label = |name: &str| {
        docker(&[
            "image",
            "inspect",
            "--format",
            &format!("{{{{index .Config.Labels \"org.opencontainers.image.{name}\"}}}}"),
            image,
        ])
    };
    assert_eq!(label("version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(label("licenses"), "Apache-2.0");
    assert_eq!(label("title"), "pushgateway-sqlite");
    assert_eq!(
        docker(&["run", "--rm", image, "--version"]),
        format!("pushgateway {}", env!("CARGO_PKG_VERSION"))
    );

    // glibc linked statically still resolves names from /etc/hosts inside scratch (no
    // nsswitch.conf, no libnss): the server binds `localhost:9091` and the probe finds it.
    let name = format!("pgtest-{}-shape", std::process::id());
    let container = Container(docker(&[
        "run",
        "--detach",
        "--name",
        &name,
        image,
        "--web.listen-address=localhost:9091",
    ]));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last;
    loop {
        let mut cmd = Command::new("docker");
        cmd.args([
            "exec",
            &container.0,
            "/bin/pushgateway",
            "healthcheck",
            "--web.listen-address=localhost:9091",
            "--ready",
        ]);
        let out = run_bounded(cmd, Duration::from_secs(30));
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(last.trim(), "http://127.0.0.1:9091/-/ready: 200 OK");
}

/// `contrib/helm/values.yaml` for the prometheus-community chart: the database inside the
/// volume the chart mounts, the temporary files too (read-only root), the image's user, and
/// this version's image. (The key names were checked against the chart's own values.yaml.)
#[test]
fn the_helm_values_keep_the_database_on_the_charts_volume() {
    let values: serde_norway::Value =
        serde_norway::from_str(include_str!("../../contrib/helm/values.yaml")).unwrap();
    let get = |path: &str| {
        path.split('.')
            .try_fold(&values, |v, key| v.get(key))
            .unwrap_or_else(|| panic!("{path} missing"))
    };
    assert_eq!(get("image.tag").as_str(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(get("persistentVolume.enabled").as_bool(), Some(true));
    let mount = get("persistentVolume.mountPath").as_str().unwrap();
    let args: Vec<&str> = get("extraArgs")
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let file = args
        .iter()
        .find_map(|a| a.strip_prefix("--persistence.file="))
        .expect("--persistence.file in extraArgs");
    assert!(
        file.starts_with(&format!("{mount}/")),
        "{file} not in {mount}"
    );
    let tmpdir = get("extraVars")
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v.get("name").and_then(|n| n.as_str()) == Some("SQLITE_TMPDIR"))
        .and_then(|v| v.get("value"))
        .and_then(|v| v.as_str());
    assert_eq!(tmpdir, Some(mount));
    assert_eq!(get("replicaCount").as_u64(), Some(1));
    assert_eq!(get("strategy.type").as_str(), Some("Recreate"));
    assert_eq!(get("securityContext.runAsUser").as_u64(), Some(65534));
    assert_eq!(get("securityContext.fsGroup").as_u64(), Some(65534));
    assert_eq!(
        get("containerSecurityContext.readOnlyRootFilesystem").as_bool(),
        Some(true)
    );
    assert_eq!(
        get("containerSecurityContext.allowPrivilegeEscalation").as_bool(),
        Some(false)
    );
}
