#!/usr/bin/env python3
"""Hostile requests against a Pushgateway binary: time, peak memory and answer sizes.

Usage: scripts/hostile-bench.py BINARY [ROW ...]

Each row starts the binary on a loopback port with a fresh database in a temporary directory,
sends one kind of hostile request (the rows of issue 12), and prints what happened: the
answer's status, size and time, the process's peak RSS, and how long a normal push and a
scrape sent while the hostile request is in flight took. Only 127.0.0.1 is used; every wait
is bounded. Needs python3, curl (HTTP/2 row), openssl and htpasswd (TLS and basic-auth rows),
sqlite3 (locked-database row).
"""

import atexit
import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HOST = "127.0.0.1"
STARTED = []  # every gateway started, killed at exit whatever happened


@atexit.register
def kill_all():
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, binary, flags=(), db=True, tls=None):
        self.dir = tempfile.mkdtemp(prefix="hostile-")
        self.port = free_port()
        self.db = os.path.join(self.dir, "pg.db") if db else ""
        self.log_path = os.path.join(self.dir, "log")
        self.tls = tls
        args = [binary, f"--web.listen-address={HOST}:{self.port}",
                f"--persistence.file={self.db}", *flags]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        STARTED.append(self.proc)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if self.tls:
                    r = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                                        f"https://{HOST}:{self.port}/-/ready"],
                                       capture_output=True, timeout=5)
                    if r.stdout in (b"200", b"401"):
                        return
                elif request(self.port, "GET", "/-/ready")[0] in (200, 401):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("gateway did not start")

    def rss_peak_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def longest_log_line(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return max((len(l) for l in f), default=0)

    def file_size(self, suffix=""):
        p = self.db + suffix
        return os.path.getsize(p) if os.path.exists(p) else 0

    def stop(self):
        self.proc.kill()  # SIGKILL: a graceful stop would wait for hostile work
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def request(port, method, path, body=b"", headers=None, timeout=120):
    """Returns (status, headers, body length, seconds, body prefix)."""
    started = time.time()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, len(data), time.time() - started, data[:300]
    finally:
        conn.close()


def in_flight(port, hostile, probes=("push", "scrape"), delay=0.3):
    """Runs `hostile()` in a thread; after `delay`, times a normal push and a scrape."""
    result = {}
    t = threading.Thread(target=lambda: result.update(hostile=hostile()))
    t.start()
    time.sleep(delay)
    times = {}
    for probe in probes:
        if probe == "push":
            r = request(port, "PUT", "/metrics/job/probe", b"probe_metric 1\n")
        else:
            r = request(port, "GET", "/metrics")
        times[probe] = (r[0], round(r[3], 3))
    t.join(300)
    return result.get("hostile"), times


def show(row, **figures):
    print(json.dumps({"row": row, **figures}), flush=True)


def row_duplicates(binary):
    g = Gateway(binary)
    body = b"some_metric 1\n" * 8000
    hostile, probes = in_flight(g.port, lambda: request(g.port, "PUT", "/metrics/job/dup", body))
    show("8000 identical lines", body_bytes=len(body), status=hostile[0], seconds=round(hostile[3], 3),
         answer_bytes=hostile[2], probes=probes)
    g.stop()


def row_many_labels(binary, label_count=100_000):
    g = Gateway(binary)
    labels = ",".join(f'l{i}="v"' for i in range(label_count))
    body = f"m{{{labels}}} 1\n".encode()
    hostile, probes = in_flight(g.port, lambda: request(g.port, "PUT", "/metrics/job/labels", body))
    show("100k labels on one line", body_bytes=len(body), status=hostile[0],
         seconds=round(hostile[3], 3), probes=probes)
    g.stop()


def row_url_labels(binary):
    path = "/metrics/job/j" + "".join(f"/l{i}/v" for i in range(3000))
    body = "".join(f'm{{s="{i}"}} 1\n' for i in range(800)).encode()
    for flags in ([], ["--push.max-grouping-labels=0"]):
        g = Gateway(binary, flags)
        hostile, probes = in_flight(g.port, lambda: request(g.port, "PUT", path, body))
        show("3000 URL labels x 800 series", flags=flags, path_bytes=len(path),
             body_bytes=len(body), status=hostile[0], seconds=round(hostile[3], 3),
             rss_peak_mb=round(g.rss_peak_mb()), probes=probes)
        g.stop()


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def empty_metrics_body(count):
    name = b"m"
    family = b"\x0a" + varint(len(name)) + name + b"\x18\x01" + b"\x22\x00" * count
    return varint(len(family)) + family


PROTOBUF = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"


def row_empty_metrics(binary, count=1_000_000):
    g = Gateway(binary)
    body = empty_metrics_body(count)
    hostile, probes = in_flight(g.port, lambda: request(
        g.port, "PUT", "/metrics/job/empty", body, {"Content-Type": PROTOBUF}))
    history = request(g.port, "GET", "/api/v1/history")
    status_group = request(g.port, "GET", "/status/group/job@base64/ZW1wdHk")
    show("1M empty protobuf metrics", body_bytes=len(body), status=hostile[0],
         seconds=round(hostile[3], 3), answer_bytes=hostile[2], history_bytes=history[2],
         status_fragment_bytes=status_group[2], status_fragment_status=status_group[0],
         longest_log_line=g.longest_log_line(), wal_bytes=g.file_size("-wal"),
         rss_peak_mb=round(g.rss_peak_mb()), probes=probes)
    g.stop()


def gzip_bomb(size=1 << 30):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    out = [c.compress(chunk) for _ in range(size >> 20)]
    out.append(c.flush())
    return b"".join(out)


def row_gzip_bomb(binary):
    bomb = gzip_bomb()
    for method, path in [("PUT", "/metrics/job/bomb"), ("GET", "/-/healthy"), ("GET", "/metrics"),
                         ("GET", "/no/such/path")]:
        g = Gateway(binary)
        r = request(g.port, method, path, bomb, {"Content-Encoding": "gzip"})
        show(f"1 GiB gzip bomb to {method} {path}", body_bytes=len(bomb), status=r[0],
             seconds=round(r[3], 3), rss_peak_mb=round(g.rss_peak_mb()))
        g.stop()
    g = Gateway(binary)

    def four():
        threads = [threading.Thread(target=lambda: request(
            g.port, "PUT", f"/metrics/job/bomb{i}", bomb, {"Content-Encoding": "gzip"}))
            for i in range(4)]
        started = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        return time.time() - started

    seconds, probes = in_flight(g.port, four, delay=0.5)
    show("four gzip bombs at once", seconds=round(seconds, 3), rss_peak_mb=round(g.rss_peak_mb()),
         probes=probes)
    g.stop()


def row_async_workers(binary):
    """Two hostile parses at once; a health check and a scrape meanwhile."""
    g = Gateway(binary)
    labels = ",".join(f'l{i}="v"' for i in range(100_000))
    body = f"m{{{labels}}} 1\n".encode()

    def two():
        threads = [threading.Thread(target=lambda i=i: request(g.port, "PUT", f"/metrics/job/w{i}", body))
                   for i in range(2)]
        started = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        return time.time() - started

    result = {}
    t = threading.Thread(target=lambda: result.update(s=two()))
    t.start()
    time.sleep(0.5)
    healthy = request(g.port, "GET", "/-/healthy")
    scrape = request(g.port, "GET", "/metrics")
    t.join(300)
    show("two hostile parses at once", seconds=round(result["s"], 3),
         healthy=(healthy[0], round(healthy[3], 3)), scrape=(scrape[0], round(scrape[3], 3)))
    g.stop()


def row_slow_body(binary, give_up=90):
    g = Gateway(binary)
    s = socket.create_connection((HOST, g.port))
    s.sendall(b"PUT /metrics/job/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    s.settimeout(1)
    started = time.time()
    answer = b""
    while time.time() - started < give_up:
        try:
            s.sendall(b"a")
        except OSError:
            break
        try:
            data = s.recv(4096)
            if not data:
                break
            answer += data
            if b"\r\n\r\n" in answer:
                break
        except socket.timeout:
            pass
    held = time.time() - started
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace") if answer else "(none)"
    show("body at 1 byte/s", held_seconds=round(held, 1), gave_up_after=give_up, answer=status)
    s.close()
    g.stop()


def htpasswd_hash(user, password, cost=10):
    out = subprocess.run(["htpasswd", "-nbB", "-C", str(cost), user, password],
                         capture_output=True, check=True).stdout.decode().strip()
    return out.split(":", 1)[1]


def self_signed(dir):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", os.path.join(dir, "key.pem"), "-out",
                    os.path.join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, check=True)


def row_basic_auth(binary):
    import base64
    cfg_dir = tempfile.mkdtemp(prefix="hostile-web-")
    with open(os.path.join(cfg_dir, "web.yml"), "w") as f:
        f.write(f"basic_auth_users:\n  alice: {htpasswd_hash('alice', 's3cret')}\n")
    g = Gateway(binary, [f"--web.config.file={os.path.join(cfg_dir, 'web.yml')}"])
    good = {"Authorization": "Basic " + base64.b64encode(b"alice:s3cret").decode()}
    bad = {"Authorization": "Basic " + base64.b64encode(b"alice:wrong").decode()}
    first = request(g.port, "GET", "/metrics", headers=good)
    statuses = {}
    lock = threading.Lock()

    def attack():
        def one():
            r = request(g.port, "GET", "/metrics", headers=bad)
            with lock:
                statuses[r[0]] = statuses.get(r[0], 0) + 1
        threads = [threading.Thread(target=one) for _ in range(96)]
        started = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        return time.time() - started

    result = {}
    t = threading.Thread(target=lambda: result.update(s=attack()))
    t.start()
    time.sleep(0.3)
    scrape = request(g.port, "GET", "/metrics", headers=good)
    push = request(g.port, "PUT", "/metrics/job/probe", b"probe 1\n", headers=good)
    t.join(300)
    show("96 wrong passwords at once", first_login=first[0], attack_seconds=round(result["s"], 3),
         attack_statuses=statuses, scrape=(scrape[0], round(scrape[3], 3)),
         push=(push[0], round(push[3], 3)))
    g.stop()
    shutil.rmtree(cfg_dir, ignore_errors=True)


def series_stored(port):
    body = request(port, "GET", "/api/v1/metrics")
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return sum(1 for l in text.splitlines()
               if l and not l.startswith("#") and l.split("{")[0].split(" ")[0]
               in ("push_time_seconds", "push_failure_time_seconds", "m"))


def row_series_total(binary):
    g = Gateway(binary, ["--push.max-series-total=10"])
    for i in range(20):
        request(g.port, "PUT", f"/metrics/job/bad{i}", b"m{__x=\"1\"} 1\n")
    stored = series_stored(g.port)
    legit = request(g.port, "PUT", "/metrics/job/legit", b"m 1\n")
    show("max-series-total=10, 20 invalid pushes", series_stored=stored,
         legitimate_push=(legit[0], legit[4].decode(errors="replace").strip()[:120]))
    g.stop()


def row_http2(binary):
    cfg_dir = tempfile.mkdtemp(prefix="hostile-web-")
    self_signed(cfg_dir)
    with open(os.path.join(cfg_dir, "web.yml"), "w") as f:
        f.write("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                f"basic_auth_users:\n  alice: {htpasswd_hash('alice', 's3cret', 4)}\n")
    g = Gateway(binary, [f"--web.config.file={os.path.join(cfg_dir, 'web.yml')}"], tls=True)
    for version, body_size in [("--http2", 100), ("--http2", 100_000), ("--http1.1", 100_000)]:
        body_file = os.path.join(cfg_dir, "body")
        with open(body_file, "wb") as f:
            f.write(b"m 1\n" * (body_size // 4))
        r = subprocess.run(["curl", "-sk", version, "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                            "-X", "PUT", "--data-binary", f"@{body_file}",
                            f"https://{HOST}:{g.port}/metrics/job/h2"],
                           capture_output=True, timeout=60)
        show(f"push over {version} without credentials", body_bytes=body_size,
             curl_exit=r.returncode, answer=r.stdout.decode(),
             error=r.stderr.decode().strip()[:200])
    g.stop()
    shutil.rmtree(cfg_dir, ignore_errors=True)


def row_locked(binary, hold=10):
    g = Gateway(binary)
    conn = sqlite3.connect(g.db, timeout=1, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    r = request(g.port, "PUT", "/metrics/job/locked", b"m 1\n")
    healthy = request(g.port, "GET", "/-/healthy")
    time.sleep(max(0, hold - r[3] - healthy[3]))
    conn.execute("ROLLBACK")
    conn.close()
    after = request(g.port, "PUT", "/metrics/job/locked", b"m 1\n")
    show("database locked by another process", status=r[0], seconds=round(r[3], 3),
         answer=r[4].decode(errors="replace").strip(), healthy=(healthy[0], healthy[4].decode(errors="replace").strip()),
         after_unlock=after[0])
    g.stop()


def row_disk_full(binary):
    mount = tempfile.mkdtemp(prefix="hostile-tmpfs-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount]).returncode != 0:
        show("disk full", skipped="cannot mount a tmpfs")
        return
    try:
        port = free_port()
        db = os.path.join(mount, "pg.db")
        log = open(os.path.join(mount, "..", "hostile-disk-full.log"), "wb")
        proc = subprocess.Popen([binary, f"--web.listen-address={HOST}:{port}",
                                 f"--persistence.file={db}", "--history.max-rows=0"],
                                stdout=log, stderr=log)
        STARTED.append(proc)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if request(port, "GET", "/-/ready")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        body = "".join(f'm{{i="{i}",pad="{"x" * 200}"}} 1\n' for i in range(2000)).encode()
        statuses = []
        answer = b""
        for i in range(40):
            r = request(port, "PUT", f"/metrics/job/full{i}", body)
            statuses.append(r[0])
            if r[0] >= 500:
                answer = r[4]
                break
        healthy = request(port, "GET", "/-/healthy")
        show("disk full", statuses=statuses[-3:], answer=answer.decode(errors="replace").strip(),
             healthy=(healthy[0], healthy[4].decode(errors="replace").strip()))
        proc.kill()
        proc.wait()
        log.close()
    finally:
        subprocess.run(["umount", mount])
        os.rmdir(mount)


def row_redirect(binary):
    g = Gateway(binary, db=False)
    s = socket.create_connection((HOST, g.port))
    s.sendall(b"GET /\\evil.com/./ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = b""
    s.settimeout(5)
    while True:
        data = s.recv(4096)
        if not data:
            break
        answer += data
    s.close()
    location = [l for l in answer.split(b"\r\n") if l.lower().startswith(b"location:")]
    show("GET /\\evil.com/./", status=answer.split(b"\r\n", 1)[0].decode(),
         location=location[0].decode() if location else None)
    g.stop()


def row_cors(binary):
    g = Gateway(binary)
    r = request(g.port, "GET", "/api/v1/history", headers={"Origin": "http://evil.example"})
    show("/api/v1/history CORS", status=r[0],
         allow_origin=r[1].get("access-control-allow-origin"))
    g.stop()


ROWS = {
    "duplicates": row_duplicates,
    "labels": row_many_labels,
    "url-labels": row_url_labels,
    "empty-metrics": row_empty_metrics,
    "gzip-bomb": row_gzip_bomb,
    "workers": row_async_workers,
    "slow-body": row_slow_body,
    "basic-auth": row_basic_auth,
    "series-total": row_series_total,
    "http2": row_http2,
    "locked": row_locked,
    "disk-full": row_disk_full,
    "redirect": row_redirect,
    "cors": row_cors,
}

if __name__ == "__main__":
    binary = sys.argv[1]
    for name in sys.argv[2:] or ROWS:
        ROWS[name](binary)
