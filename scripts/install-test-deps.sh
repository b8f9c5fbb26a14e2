#!/usr/bin/env bash
# Installs what the tests need beyond cargo, from Debian's packages:
#   * chromium and its chromedriver (package chromium-driver), which the browser tests
#     (tests/api/browser.rs) drive over WebDriver;
#   * prometheus-pushgateway, the original Pushgateway, which writes the persistence files the
#     import tests read;
#   * prometheus, the real Prometheus server that scrapes the gateway in tests/api/prometheus.rs.
#   * prlimit (util-linux, part of every Debian system), with which the group-commit test
#     (tests/api/group_commit.rs) makes the database's COMMIT fail as on a full disk.
# Nothing comes from npm or any other registry. Idempotent and non-interactive; needs root for
# apt-get.
set -euo pipefail

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] \
    || [ ! -x /usr/bin/prometheus-pushgateway ] || [ ! -x /usr/bin/prometheus ]; then
    echo "install-test-deps: installing chromium, chromium-driver, prometheus-pushgateway and prometheus"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium chromium-driver prometheus-pushgateway \
        prometheus
fi

if [ ! -x /usr/bin/prlimit ]; then
    echo "install-test-deps: installing util-linux (prlimit)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends util-linux
fi

/usr/bin/chromium --version
/usr/bin/chromedriver --version
