#!/usr/bin/env bash
# Installs what the browser tests (tests/api/browser.rs) need: Debian's chromium and its
# chromedriver (package chromium-driver), which cargo test drives over WebDriver. Nothing comes
# from npm or any other registry. Idempotent and non-interactive; needs root for apt-get.
set -euo pipefail

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "install-test-deps: installing chromium and chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium chromium-driver
fi

/usr/bin/chromium --version
/usr/bin/chromedriver --version
