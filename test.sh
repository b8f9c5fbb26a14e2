#!/usr/bin/env bash
# Runs every test. The browser test needs Debian's chromium and the npm packages of
# tests/browser/, the high-availability drills Litestream and HAProxy; they are installed
# first when missing (needs root, see the scripts).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ] || [ ! -d tests/browser/node_modules/playwright-core ]; then
    scripts/install-test-deps.sh
fi
scripts/install-ha-deps.sh
cargo test --locked
