#!/usr/bin/env bash
# Builds the container image: a statically linked binary (glibc with crt-static), then the
# top-level Dockerfile FROM scratch around it. Nothing is pulled, so no registry is needed.
#
#   scripts/build-image.sh              optimised build, tagged pushgateway-sqlite:<version>
#                                       and pushgateway-sqlite:latest
#   scripts/build-image.sh --debug      unoptimised build (quicker to compile; what the tests
#                                       use), tagged pushgateway-sqlite:debug
#   --tag NAME:TAG                      tag with this instead of the defaults (repeatable)
#
# PUSHGATEWAY_IMAGE_PROFILE=debug does what --debug does. The binary is built in its own
# target directory, target/static, so the usual builds in target/ stay as they are; an
# unchanged binary leaves docker's layer cache, and so the image, as it was. The last line
# printed is the image ID.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,16s/^# \{0,1\}//p' "$0"; }

profile=${PUSHGATEWAY_IMAGE_PROFILE:-release}
tags=()
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) profile=debug ;;
        --release) profile=release ;;
        --tag) [ $# -ge 2 ] || { echo "build-image.sh: --tag needs a value" >&2; exit 2; }
               tags+=("$2"); shift ;;
        --tag=*) tags+=("${1#--tag=}") ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$profile" in
    release) cargo_profile=(--release) ;;
    debug) cargo_profile=() ;;
    *) echo "build-image.sh: PUSHGATEWAY_IMAGE_PROFILE must be release or debug" >&2; exit 2 ;;
esac

version=$(sed -n '/^version = "/{s/^version = "\(.*\)"$/\1/p;q}' Cargo.toml)
if [ ${#tags[@]} -eq 0 ]; then
    if [ "$profile" = release ]; then
        tags=("pushgateway-sqlite:$version" "pushgateway-sqlite:latest")
    else
        tags=("pushgateway-sqlite:debug")
    fi
fi

target=x86_64-unknown-linux-gnu
target_dir=target/static
mkdir -p "$target_dir"
# One build at a time per checkout (tests may start this concurrently).
if command -v flock >/dev/null; then
    exec 9>"$target_dir/build-image.lock"
    flock 9
fi

# With an explicit --target, RUSTFLAGS apply to the target only: the binary links glibc
# statically while build scripts and proc macros stay ordinary dynamic executables. The
# binary is stripped; the debug build also skips debug info, which only slows its link.
unset CARGO_ENCODED_RUSTFLAGS
RUSTFLAGS="-C target-feature=+crt-static" \
CARGO_PROFILE_RELEASE_STRIP=symbols \
CARGO_PROFILE_DEV_DEBUG=0 \
CARGO_PROFILE_DEV_STRIP=symbols \
    cargo build --locked "${cargo_profile[@]}" --bin pushgateway \
    --target "$target" --target-dir "$target_dir"

binary="$target_dir/$target/$profile/pushgateway"
if ldd "$binary" >/dev/null 2>&1 && ! ldd "$binary" 2>&1 | grep -q 'statically linked'; then
    echo "build-image.sh: $binary is dynamically linked:" >&2
    ldd "$binary" >&2
    exit 1
fi

# The build context: only what the Dockerfile copies.
context="$target_dir/image-context-$profile"
rm -rf "$context"
mkdir -p "$context/workdir" "$context/rootfs/tmp" "$context/rootfs/etc"
chmod 0755 "$context/workdir" "$context/rootfs" "$context/rootfs/etc"
chmod 1777 "$context/rootfs/tmp"
# Host names from /etc/hosts (which Docker writes), then DNS: glibc's own default since 2.35,
# stated for binaries linked against an older one. The static binary has both sources built in
# (glibc 2.34 and later) and can load no other.
printf 'hosts: files dns\n' > "$context/rootfs/etc/nsswitch.conf"
chmod 0644 "$context/rootfs/etc/nsswitch.conf"
cp "$binary" "$context/pushgateway"
chmod 0755 "$context/pushgateway"

source_url=${PUSHGATEWAY_IMAGE_SOURCE:-$(git config --get remote.origin.url 2>/dev/null || true)}
revision=$(git rev-parse HEAD 2>/dev/null || true)
tag_args=()
for t in "${tags[@]}"; do
    tag_args+=(--tag "$t")
done
previous=$(docker image inspect --format '{{.Id}}' "${tags[0]}" 2>/dev/null || true)
docker build --file Dockerfile \
    --build-arg "VERSION=$version" \
    --build-arg "SOURCE=$source_url" \
    --build-arg "REVISION=$revision" \
    "${tag_args[@]}" "$context" >&2
current=$(docker image inspect --format '{{.Id}}' "${tags[0]}")
# The image this build replaced under the same tag, unless something still uses or names it.
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    docker image rm "$previous" >/dev/null 2>&1 || true
fi
echo "$current"
