#!/usr/bin/env bash
# Publish benchmark: the time from `btl publish` (sign, upload, register,
# wait for finality, fetch the cosigned receipt, write the .prov) to a
# receipt, on one validator and on four validators on loopback. Publishes
# RUNS torrents per setup and prints one JSON line per setup: the p50/max
# wall time of the whole command (it exits only after the receipt came, or
# --wait ran out), the p50 inside btl publish from the upload to the final
# commit and to the receipt (its JSON "seconds_to_commit" and "seconds"),
# and how many runs got a receipt (a run without one is a failure of the
# benchmark, not a fast run: the script exits 1).
#
#   scripts/bench-publish.sh            # builds btl --release first
#   BTL_BIN=path/to/btl RUNS=20 scripts/bench-publish.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
if [[ -z "${BTL_BIN:-}" ]]; then
  cargo build --release -p btl >&2
  BTL_BIN=${CARGO_TARGET_DIR:-target}/release/btl
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export BTL_KEYS_DIR="$work/keys"
"$BTL_BIN" key new bench --unencrypted >/dev/null
pk=$("$BTL_BIN" key show bench --json | sed -n 's/.*"public_key": *"\([0-9a-f]*\)".*/\1/p')

median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }

wait_height() { # addr height
  for _ in $(seq 1 600); do
    h=$(curl -sf "http://$1/status" | sed -n 's/.*"height":\([0-9]*\).*/\1/p' || true)
    [[ "${h:-0}" -ge "$2" ]] && return 0
    sleep 0.1
  done
  echo "node at $1 did not reach height $2" >&2; exit 1
}

run_setup() { # n base
  local n=$1 base=$2 dir="$work/n$1"
  "$BTL_BIN" ledger init --dir "$dir" --validators "$n" --base-port "$base" \
    --fund "$pk:100000000" --empty-block-ms 200 >/dev/null 2>&1
  local addrs=()
  for i in $(seq 0 $((n - 1))); do
    local d="$dir"; [[ $n -gt 1 ]] && d="$dir/node$i"
    "$BTL_BIN" ledger run --dir "$d" >"$work/n$n-$i.log" 2>&1 &
    pids+=($!)
    addrs+=("127.0.0.1:$((base + 2 * i + 1))")
  done
  wait_height "${addrs[0]}" 3
  local times=() commits=() inner=() receipts=0
  for r in $(seq 1 "$RUNS"); do
    local t="$work/n$n-t$r"
    mkdir -p "$t/data/item$r"
    head -c 262144 /dev/urandom >"$t/data/item$r/payload.bin"
    "$BTL_BIN" create --piece-size 16K -o "$t/item$r.torrent" "$t/data/item$r" >/dev/null
    local s e out
    s=$(date +%s.%N)
    out=$("$BTL_BIN" publish "$t/item$r.torrent" --key bench --license CC0-1.0 \
      --ledger "http://${addrs[0]}" --wait 30 --json)
    e=$(date +%s.%N)
    times+=("$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }')")
    grep -q '"receipt": true' <<<"$out" && receipts=$((receipts + 1))
    commits+=("$(sed -n 's/.*"seconds_to_commit": *\([0-9.e-]*\).*/\1/p' <<<"$out")")
    inner+=("$(sed -n 's/.*"seconds": *\([0-9.e-]*\).*/\1/p' <<<"$out")")
  done
  local p50 max c50 r50
  p50=$(median "${times[@]}")
  max=$(printf '%s\n' "${times[@]}" | sort -g | tail -1)
  c50=$(median "${commits[@]}")
  r50=$(median "${inner[@]}")
  printf '{"validators":%d,"runs":%d,"with_receipt":%d,"publish_s_p50":%s,"publish_s_max":%s,"to_commit_s_p50":%.3f,"to_receipt_s_p50":%.3f}\n' \
    "$n" "$RUNS" "$receipts" "$p50" "$max" "$c50" "$r50"
  [[ $receipts -eq $RUNS ]] || { echo "only $receipts of $RUNS runs got a receipt" >&2; failed=1; }
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

echo "# btl publish benchmark: $RUNS publishes per setup, $(nproc) cores" >&2
failed=0
run_setup 1 36300
run_setup 4 36400
exit $failed
