#!/usr/bin/env bash
# Announce throughput and latency of `btl tracker` against opentracker, on
# loopback, in the same run; then the memory of 100,000 torrents × 10 peers.
#
#   scripts/bench-tracker.sh            # 10 s per measurement
#   SECONDS_EACH=30 scripts/bench-tracker.sh
#
# Needs opentracker and wrk (Debian packages `opentracker`, `wrk`).
# Debian's opentracker is built in whitelist mode, so both trackers get the
# same whitelist of TORRENTS infohashes (and both check it). HTTP load: wrk
# with scripts/bench/tracker_announce.lua (random infohash, peer id and
# port per request, keep-alive where the server allows it). UDP load:
# crates/tracker/examples/udp_load.rs (THREADS threads, WINDOW announces in
# flight each). Results are JSON lines on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECONDS_EACH:-10}
TORRENTS=${TORRENTS:-10000}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
WINDOW=${WINDOW:-32}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/btl-target}
for t in opentracker wrk; do
  command -v $t >/dev/null || { echo "needs $t (apt-get install $t)"; exit 1; }
done
cargo build --release -q -p btl
cargo build --release -q -p btl-tracker --example udp_load
R=$CARGO_TARGET_DIR/release
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$R/examples/udp_load" hashes "$TORRENTS" > "$work/whitelist"
OT=17101 BT=17102

# opentracker chroots to its working directory and drops to `nobody`.
(cd "$work" && exec opentracker -i 127.0.0.1 -p $OT -P $OT -w "$work/whitelist") > "$work/ot.log" 2>&1 &
pids+=($!)
"$R/btl" tracker --http 127.0.0.1:$BT --udp 127.0.0.1:$BT --rate-limit 0 \
  --whitelist "$work/whitelist" --json > "$work/btl.log" 2>&1 &
pids+=($!)
btl_pid=$!
sleep 1

echo "{\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc),\"load_before\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"

http() { # name port [wrk flags]
  local out
  out=$(HASHES="$work/whitelist" wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "${@:3}" \
    -s scripts/bench/tracker_announce.lua "http://127.0.0.1:$2/" 2>&1)
  local rps p50 p90 p99 errs non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p90=$(awk '$1=="90%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(grep -o 'Socket errors.*' <<<"$out" || echo "Socket errors: none")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  local mode=keepalive; [ $# -gt 2 ] && mode=close
  echo "{\"tracker\":\"$1\",\"proto\":\"http-$mode\",\"per_sec\":$rps,\"p50\":\"$p50\",\"p90\":\"$p90\",\"p99\":\"$p99\",\"non2xx\":\"${non2xx:-0}\",\"errors\":\"$errs\"}"
}
udp() { # name port
  echo "{\"tracker\":\"$1\",\"proto\":\"udp\",\"result\":$("$R/examples/udp_load" bench "127.0.0.1:$2" "$SECS" "$THREADS" "$WINDOW" "$TORRENTS")}"
}

# Alternate, so that drifting background load hits both alike.
# opentracker closes every HTTP connection after one reply; "http-close"
# makes wrk do the same with both (one request per connection).
http opentracker $OT
http btl $BT
http opentracker $OT -H "Connection: close"
http btl $BT -H "Connection: close"
udp opentracker $OT
udp btl $BT
http opentracker $OT
http btl $BT
udp opentracker $OT
udp btl $BT

# Check that both answered with peers, not failures.
curl -s "http://127.0.0.1:$BT/stats"; echo

# Memory: a fresh btl tracker, 100,000 torrents × 10 peers.
kill "$btl_pid"
wait "$btl_pid" 2>/dev/null || true
"$R/btl" tracker --http 127.0.0.1:$BT --udp 127.0.0.1:$BT --rate-limit 0 --json > "$work/btl2.log" 2>&1 &
pids+=($!)
btl_pid=$!
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
before=$(rss $btl_pid)
fill=$("$R/examples/udp_load" fill 127.0.0.1:$BT 100000 10)
after=$(rss $btl_pid)
stats=$(curl -s "http://127.0.0.1:$BT/stats")
echo "{\"memory\":{\"torrents\":100000,\"peers_each\":10,\"rss_before_kib\":$before,\"rss_after_kib\":$after,\"fill\":$fill,\"stats\":$stats}}"
