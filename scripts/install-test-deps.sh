#!/usr/bin/env bash
# Installs what the browser test needs: Debian's chromium and playwright-core (from the npm
# registry, pinned by tests/browser/package-lock.json). Idempotent and non-interactive; run as
# root. Playwright's own browser download is never used: the test drives /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/prometheus-pushgateway ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends chromium prometheus-pushgateway
fi

# Node.js 20+ and npm come with the development and CI machines (Debian's nodejs is too old
# for playwright-core).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "install-test-deps: node (20 or newer) and npm are required" >&2
    exit 1
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core downloads nothing, but say so anyway.
    (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
