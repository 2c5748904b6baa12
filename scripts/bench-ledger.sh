#!/usr/bin/env bash
# Ledger benchmark: register-torrent transactions per second and finality
# latency (p50, p99), for one validator and for four validators on
# loopback, in one run. Prints one JSON line per setup.
#
#   scripts/bench-ledger.sh            # builds btl --release first
#   BTL_BIN=path/to/btl scripts/bench-ledger.sh
#   TXS=20000 scripts/bench-ledger.sh
#   RATE=3000 scripts/bench-ledger.sh  # paced submission (tx/s) instead of a flood
#   SETUPS=4 scripts/bench-ledger.sh   # only the four-validator setup
#
# After each setup it also prints (to stderr) the CPU time the validator
# processes used during the run, per transaction: on a shared machine that
# is a steadier figure than wall-clock rates.
set -euo pipefail
cd "$(dirname "$0")/.."
TXS=${TXS:-20000}
ACCOUNTS=${ACCOUNTS:-512}
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

cpu_ticks() { # user + system clock ticks of the running validators
  local t=0 p
  for p in "${pids[@]}"; do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}

wait_api() { # addr
  for _ in $(seq 1 300); do
    curl -sf "http://$1/status" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "node at $1 did not start" >&2; exit 1
}

run_setup() { # n base
  local n=$1 base=$2 dir="$work/n$1"
  "$BTL_BIN" ledger init --dir "$dir" --validators "$n" --base-port "$base" \
    --bench-accounts "$ACCOUNTS" --empty-block-ms 200 >/dev/null 2>&1
  local addrs=()
  for i in $(seq 0 $((n - 1))); do
    local d="$dir"; [[ $n -gt 1 ]] && d="$dir/node$i"
    "$BTL_BIN" ledger run --dir "$d" >"$work/n$n-$i.log" 2>&1 &
    pids+=($!)
    addrs+=("127.0.0.1:$((base + 2 * i + 1))")
  done
  for a in "${addrs[@]}"; do wait_api "$a"; done
  # Let the cluster connect and commit a few blocks first.
  local h=0
  for _ in $(seq 1 300); do
    h=$(curl -sf "http://${addrs[0]}/status" | sed -n 's/.*"height":\([0-9]*\).*/\1/p')
    [[ "${h:-0}" -ge 3 ]] && break
    sleep 0.1
  done
  local list; list=$(IFS=,; echo "${addrs[*]}")
  local before; before=$(cpu_ticks)
  "$BTL_BIN" ledger bench --http "$list" --txs "$TXS" --accounts "$ACCOUNTS" \
    ${RATE:+--rate "$RATE" --batch 100}
  local used=$(( $(cpu_ticks) - before )) hz; hz=$(getconf CLK_TCK)
  awk -v n="$n" -v t="$used" -v hz="$hz" -v txs="$TXS" 'BEGIN {
    printf "{\"nodes\":%d,\"validator_cpu_seconds\":%.2f,\"validator_cpu_us_per_tx\":%.0f}\n",
      n, t / hz, t / hz * 1e6 / txs }' >&2
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

echo "# btl ledger benchmark: $TXS register-torrent txs, $(nproc) cores" >&2
for n in ${SETUPS:-1 4}; do
  run_setup "$n" $((36000 + 100 * n))
done
