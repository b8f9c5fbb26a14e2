#!/usr/bin/env bash
# Installs what the tests need beyond cargo, from Debian's packages:
#   * chromium and its chromedriver (package chromium-driver), which the browser tests
#     (tests/api/browser.rs) drive over WebDriver;
#   * prometheus-pushgateway, the original Pushgateway, which writes the persistence files the
#     import tests read;
#   * prometheus, the real Prometheus server that scrapes the gateway in tests/api/prometheus.rs.
#   * prlimit (util-linux, part of every Debian system), with which the group-commit test
#     (tests/api/group_commit.rs) makes the database's COMMIT fail as on a full disk.
#   * curl with HTTP/2 (Debian's is built with nghttp2), the client that saw refusals over
#     HTTP/2 as a framing error, and util-linux's unshare, which mounts a tiny tmpfs for the
#     full-disk test without root (tests/api/hostile.rs).
#   * sqlite3, the SQLite shell, with which tests/api/current_samples.rs reads the database
#     read-only while the gateway runs, as an operator would.
# Nothing comes from npm or any other registry. Idempotent and non-interactive; needs root for
# apt-get.
set -euo pipefail

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] \
    || [ ! -x /usr/bin/prometheus-pushgateway ] || [ ! -x /usr/bin/prometheus ] \
    || [ ! -x /usr/bin/curl ] || [ ! -x /usr/bin/unshare ] || [ ! -x /usr/bin/prlimit ] \
    || [ ! -x /usr/bin/sqlite3 ]; then
    echo "install-test-deps: installing chromium, chromium-driver, prometheus-pushgateway, prometheus, curl, util-linux and sqlite3"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium chromium-driver prometheus-pushgateway \
        prometheus curl ca-certificates util-linux sqlite3
fi

/usr/bin/chromium --version
/usr/bin/chromedriver --version
/usr/bin/curl --version | sed -n 1p
/usr/bin/sqlite3 --version
