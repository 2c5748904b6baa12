#!/usr/bin/env bash
# The project's test command (the README's second command, and what CI runs).
#
# 1. installs the reference peers and tools the interop tests drive, from
#    Debian packages, when any is missing;
# 2. checks formatting and lints (warnings are errors);
# 3. runs every test of the workspace, interop tests included;
# 4. runs each fuzz target for a short, fixed budget on the stable toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
/usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1 || missing+=(python3-libtorrent)
command -v mktorrent >/dev/null || missing+=(mktorrent)
command -v transmission-create >/dev/null || missing+=(transmission-cli)
command -v transmission-daemon >/dev/null || missing+=(transmission-daemon)
command -v aria2c >/dev/null || missing+=(aria2)
command -v opentracker >/dev/null || missing+=(opentracker)
# The IPv6 LSD test makes a network namespace (unshare/nsenter: util-linux).
command -v ip >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null || missing+=(util-linux)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if ((${#missing[@]})); then
  echo "==> installing test dependencies: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

# Build outside the clone so warm runs reuse it; a cold machine still works.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bitorrent/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Incremental compilation only pays off for edit-compile loops; in CI it
# costs a cold build time and gigabytes of cache.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked
echo "==> fuzz smoke run"
scripts/fuzz.sh smoke
