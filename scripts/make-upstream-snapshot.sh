#!/usr/bin/env bash
# Makes persistence files with the original Pushgateway (Debian's prometheus-pushgateway 1.5.1,
# installed by scripts/install-test-deps.sh), for the tests of src/import/.
#
#   scripts/make-upstream-snapshot.sh [OUT_DIR]     (default: tests/fixtures/upstream-1.5.1)
#
# Writes to OUT_DIR:
#   empty.bak             the file of a store that never saw a push
#   groups.bak            the file after the pushes below
#   api-v1-metrics.json   the original's GET /api/v1/metrics answer just before it quit
#   metrics.txt           the original's GET /metrics answer at the same moment
#
# The original listens on a free loopback port only, runs with TZ=UTC (so the JSON's time_stamp
# fields end in Z) and persists to a temporary file, never to Debian's default path. It is
# stopped with PUT /-/quit, which writes the file, and killed on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${PUSHGATEWAY_ORIGINAL:-/usr/bin/prometheus-pushgateway}
out=${1:-tests/fixtures/upstream-1.5.1}
[ -x "$bin" ] || { echo "make-upstream-snapshot: $bin not found (scripts/install-test-deps.sh installs it)" >&2; exit 1; }
command -v curl >/dev/null || { echo "make-upstream-snapshot: curl is required" >&2; exit 1; }

tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Starts the original persisting to $1; sets pid and base. The port is below Linux's
# ephemeral range (32768 and up), where tests that bind port 0 get theirs, and nothing answers
# on it before the start; a port taken anyway makes the original exit (with status 0, as
# upstream does), so it must still run once it answers, or another port is tried.
start() {
    local file=$1 port
    for _ in $(seq 1 20); do
        port=$((20000 + RANDOM % 12000))
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
            continue
        fi
        TZ=UTC "$bin" --web.listen-address="127.0.0.1:$port" --persistence.file="$file" \
            --persistence.interval=1s --web.enable-lifecycle --log.level=warn \
            >>"$tmp/original.log" 2>&1 &
        pid=$!
        base="http://127.0.0.1:$port"
        for _ in $(seq 1 50); do
            if curl -fsS -o /dev/null "$base/-/ready" 2>/dev/null; then
                sleep 0.2
                kill -0 "$pid" 2>/dev/null && return 0
                break
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
    done
    echo "make-upstream-snapshot: the original did not start; its log:" >&2
    cat "$tmp/original.log" >&2
    exit 1
}

# Quits the original through the lifecycle API and waits until it has written its file.
stop() {
    curl -fsS -o /dev/null -X PUT "$base/-/quit"
    wait "$pid"
    pid=
}

# push METHOD PATH EXPECTED_STATUS [BODY]: one push, its status checked.
push() {
    local status
    status=$(curl -sS -o "$tmp/answer" -w '%{http_code}' -X "$1" --data-binary "${4-}" "$base$2")
    if [ "$status" != "$3" ]; then
        echo "make-upstream-snapshot: $1 $2 answered $status, expected $3: $(cat "$tmp/answer")" >&2
        exit 1
    fi
}

b64() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_'; }

mkdir -p "$out"

start "$tmp/empty.bak"
stop
install -m 0644 "$tmp/empty.bak" "$out/empty.bak"

start "$tmp/groups.bak"

# Every metric type, HELP texts with escapes, awkward label values.
push PUT /metrics/job/all_types/instance/i1 200 '# HELP c_total A counter: "quoted", a backslash \\ and a newline \n here. Ünïcödé.
# TYPE c_total counter
c_total{path="C:\\dir\\file",quote="say \"hi\"",nl="line1\nline2",utf8="zürich 東京 🚀"} 42
c_total{path="plain"} 1e+21
# HELP g A gauge.
# TYPE g gauge
g -3.5
g{x="nan"} NaN
# TYPE u untyped
u{a="1"} +Inf
u{a="2"} -Inf
# HELP s A summary.
# TYPE s summary
s{quantile="0.5"} 1.5
s{quantile="0.9"} 2
s{quantile="0.99"} 2.75
s_sum 10
s_count 5
# HELP h A histogram.
# TYPE h histogram
h_bucket{le="0.5"} 1
h_bucket{le="1"} 3
h_bucket{le="+Inf"} 4
h_sum 2.5
h_count 4
'
# @base64 grouping key: a job name with a slash, a path, an empty value.
push PUT "/metrics/job@base64/$(b64 b64/job)/path@base64/$(b64 /var/tmp)/empty@base64/=" 200 'b64_metric 1
'
# Several grouping labels, one of them UTF-8 with a slash.
push PUT "/metrics/job/multi/instance/i2/dc/eu-west/rack@base64/$(b64 'zürich ö/7')" 200 '# TYPE m gauge
m{extra="body label"} 7
'
# POST merges: a keeps its first push time, b is replaced, c is added.
push PUT /metrics/job/merge 200 'a 1
b 1
'
sleep 0.2
push POST /metrics/job/merge 200 'b 2
c 3
'
# A rejected push into an existing group: f stays, push_failure_time_seconds is set.
push PUT /metrics/job/failing 200 'f 1
'
sleep 0.2
push POST /metrics/job/failing 400 'f 2 1234567890000
'
# A rejected push to a new grouping key still creates the group.
push PUT /metrics/job/failed_new 400 'x 1 1234567890000
'
# An empty PUT: a group with only the gateway's timestamps.
push PUT /metrics/job/empty_body 200 ''

curl -fsS -o "$out/api-v1-metrics.json" "$base/api/v1/metrics"
curl -fsS -o "$out/metrics.txt" "$base/metrics"
stop
install -m 0644 "$tmp/groups.bak" "$out/groups.bak"

echo "make-upstream-snapshot: wrote $out/{empty.bak,groups.bak,api-v1-metrics.json,metrics.txt}"
