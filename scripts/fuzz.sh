#!/usr/bin/env bash
# Fuzz bitorrent's parsers with libFuzzer (cargo-fuzz).
#
#   scripts/fuzz.sh smoke            every target for $FUZZ_SECONDS (default 10) s
#   scripts/fuzz.sh run TARGET [S]   one target for S seconds (default 600)
#   scripts/fuzz.sh list             the targets (every [[bin]] in
#                                    fuzz/Cargo.toml, e.g. wire, wire_prov)
#
# Targets that need a cargo feature (HEAVY below: the consensus codec pulls
# in Malachite and libp2p, a long sanitizer build) run in the smoke job only
# with FUZZ_HEAVY=1; `run` enables their feature itself.
#
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its
# sanitizer flags. Crashes are saved under fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

CARGO_FUZZ_VERSION=0.13.1
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "==> installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --locked --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/bitorrent/fuzz-target}"

# target:feature pairs.
HEAVY="consensus_codec:consensus relay_frames:consensus"

feature_of() {
  local pair
  for pair in $HEAVY; do
    if [ "${pair%%:*}" = "$1" ]; then echo "${pair#*:}"; return; fi
  done
}

# Extra flags of `cargo fuzz build/run`: none for `run` (release, with
# AddressSanitizer); the smoke run builds without optimizations or ASAN
# (our code forbids `unsafe`; a debug build keeps overflow checks and debug
# assertions), which builds about 4x faster from cold (2.5 min, not 10.5, on
# 2 cores) and still runs ~30,000 inputs a second.
mode=()

run_one() {
  local target=$1 secs=$2 feature features=()
  feature=$(feature_of "$target")
  if [ -n "$feature" ]; then features=(--features "$feature"); fi
  mkdir -p "corpus/$target"
  # Seed the corpus with the committed examples, if any.
  if [ -d "seeds/$target" ]; then cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true; fi
  echo "==> fuzz $target for ${secs}s"
  cargo fuzz run "${mode[@]}" "${features[@]}" "$target" "corpus/$target" -- -max_total_time="$secs" -rss_limit_mb=1024 \
    -max_len=65536 -print_final_stats=1 2>&1 | grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY|thread)" || true
  # cargo fuzz exits non-zero on a crash; PIPESTATUS keeps that.
  return "${PIPESTATUS[0]}"
}

case "${1:-smoke}" in
  list) cargo fuzz list ;;
  run)
    run_one "${2:?target name}" "${3:-600}" ;;
  smoke)
    secs="${FUZZ_SECONDS:-10}"
    mode=(--dev -s none)
    build=(cargo fuzz build "${mode[@]}")
    if [ "${FUZZ_HEAVY:-0}" = 1 ]; then build+=(--all-features); fi
    "${build[@]}" >/dev/null
    for t in $(cargo fuzz list); do
      if [ -n "$(feature_of "$t")" ] && [ "${FUZZ_HEAVY:-0}" != 1 ]; then
        echo "==> $t: needs FUZZ_HEAVY=1 (its feature's build is long); not in this run"
        continue
      fi
      run_one "$t" "$secs"
    done
    echo "fuzz smoke: every target ran ${secs}s without a crash" ;;
  *) sed -n '2,10p' "$0"; exit 2 ;;
esac
