#!/usr/bin/env bash
# Runs every test. The browser tests need Debian's chromium and chromedriver, the
# high-availability drills Litestream and HAProxy; they are installed first when missing
# (needs root, see the scripts).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    scripts/install-test-deps.sh
fi
scripts/install-ha-deps.sh
cargo test --locked
