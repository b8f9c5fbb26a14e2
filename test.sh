#!/usr/bin/env bash
# Runs every test. The browser tests need Debian's chromium and chromedriver, the import tests
# the original Pushgateway, the high-availability drills Litestream and HAProxy; the scripts
# install what is missing (needs root, see them) and do nothing when all is there.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-test-deps.sh
scripts/install-ha-deps.sh
cargo test --locked
