#!/usr/bin/env bash
# Benchmark peer transfers on loopback: libtorrent 2.0.8 (scripts/interop/
# lt_peer.py) and btl as seeder and as leecher, in all four pairings, for a
# v1 and a v2 torrent (512 KiB pieces, made once with `btl create --no-date`)
# of the same ~1 GiB payload of random data, in one run. Every transfer is one
# seeder and one fresh leecher (empty data and state directories); the
# seeder's data is in the page cache. Results (median transfer time,
# throughput, the leecher's CPU seconds per GB and peak RSS, ratios) replace
# the "## Peer transfer" section of BENCHMARKS.md at the repository root.
#
# Environment:
#   BENCH_DIR     where the payload lives (default /tmp/btl-bench); it is
#                 generated once and reused (the 1 GiB one is the payload of
#                 scripts/bench-create.sh)
#   BENCH_SIZE_MB payload size in MiB (default 1024; at least 16)
#   RUNS          timed runs per pairing and kind (default 3), interleaved,
#                 after one warm-up round (WARMUP=0 to skip it)
#   DEADLINE      seconds a leecher gets before it counts as failed (default 300)
#   LT_ENCRYPTION passed to lt_peer.py (default there: enabled); unless it
#                 is "disabled", btl -> libtorrent is also measured with a
#                 libtorrent leecher that does not offer MSE (a diagnostic row)
#   CARGO_TARGET_DIR  as usual (default ~/.cache/bitorrent/target)
#
# Needs: /usr/bin/python3 with python3-libtorrent, /usr/bin/time (Debian
# packages python3-libtorrent, time). Listens on 127.0.0.1 only; every
# process it starts is killed (by process group id) when it ends.
set -euo pipefail

LOAD_AT_START=$(cut -d' ' -f1 /proc/loadavg)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/btl-bench}
SIZE_MB=${BENCH_SIZE_MB:-1024}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
DEADLINE=${DEADLINE:-300}
PIECE_LENGTH=524288
# lt_peer.py throttles when LT_UPLOAD_LIMIT / LT_DOWNLOAD_LIMIT are set, and
# LT_LISTEN_IP moves it off 127.0.0.1: never here.
unset LT_UPLOAD_LIMIT LT_DOWNLOAD_LIMIT LT_LISTEN_IP
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/bitorrent/target}

missing=()
[ -x /usr/bin/time ] || missing+=(time)
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || missing+=(python3-libtorrent)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench-transfer: missing Debian packages: ${missing[*]}" >&2
    echo "install them with: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
if [ "$SIZE_MB" -lt 16 ]; then
    echo "bench-transfer: BENCH_SIZE_MB must be at least 16" >&2
    exit 1
fi

# The payload: one file of 7/8 of the size and 32 files of just under
# 1/256 of it each (odd sizes): for 1 GiB, one 896 MiB file and 32 files of
# just under 4 MiB, as in scripts/bench-create.sh.
if [ "$SIZE_MB" -eq 1024 ]; then
    PAYLOAD=$BENCH_DIR/payload-1g
else
    PAYLOAD=$BENCH_DIR/payload-${SIZE_MB}m
fi
if [ ! -f "$PAYLOAD.complete" ]; then
    echo "generating payload in $PAYLOAD" >&2
    rm -rf "$PAYLOAD"
    mkdir -p "$PAYLOAD/small"
    head -c $(((SIZE_MB << 20) / 8 * 7)) /dev/urandom > "$PAYLOAD/big.bin"
    for i in $(seq -w 1 32); do
        head -c $(((SIZE_MB << 12) - 10#$i * 1000)) /dev/urandom > "$PAYLOAD/small/file-$i.bin"
    done
    touch "$PAYLOAD.complete"
fi

cd "$ROOT"
# What is built: the working tree, which may differ from the last commit.
BUILT_FROM="commit $(git log -1 --format='%h, %cs')"
if [ -n "$(git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    BUILT_FROM="$BUILT_FROM, plus uncommitted changes in the working tree"
fi
cargo build --release -q -p btl
BTL=$CARGO_TARGET_DIR/release/btl

# Scratch space: torrents, seeder state, leecher data and logs. Logs stay
# after the run (for a failed transfer); leecher data is removed.
WORK=$BENCH_DIR/transfer-work
rm -rf "$WORK"
mkdir -p "$WORK"
for kind in v1 v2; do
    "$BTL" create "$PAYLOAD" "--$kind" --no-date --piece-size "$PIECE_LENGTH" \
        -o "$WORK/$kind.torrent" --force >/dev/null
done

# Every process the helper starts is in its own process group, whose id
# the helper keeps in $WORK/pgids while it runs; kill what is left there
# however the helper ends.
PIDS_FILE=$WORK/pgids
HELPER=""
cleanup() {
    if [ -n "$HELPER" ]; then kill "$HELPER" 2>/dev/null || true; wait "$HELPER" 2>/dev/null || true; fi
    if [ -f "$PIDS_FILE" ]; then
        while read -r pg; do
            [ -n "$pg" ] && kill -- "-$pg" 2>/dev/null || true
        done < "$PIDS_FILE"
        rm -f "$PIDS_FILE"
    fi
    rm -rf "$WORK/leech" "$WORK/leech-state"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Warm the page cache (twice: the second pass checks it all fits).
for _ in 1 2; do find "$PAYLOAD" -type f -exec cat {} + > /dev/null; done

/usr/bin/python3 "$ROOT/scripts/bench_transfer.py" \
    --payload "$PAYLOAD" --work "$WORK" --pids-file "$PIDS_FILE" \
    --runs "$RUNS" --warmup "$WARMUP" --deadline "$DEADLINE" \
    --btl "$BTL" --lt-peer "$ROOT/scripts/interop/lt_peer.py" \
    --benchmarks "$ROOT/BENCHMARKS.md" \
    --load-at-start "$LOAD_AT_START" --built-from "$BUILT_FROM" \
    --command "scripts/bench-transfer.sh (RUNS=$RUNS BENCH_SIZE_MB=$SIZE_MB${LT_ENCRYPTION:+ LT_ENCRYPTION=$LT_ENCRYPTION})" &
HELPER=$!
status=0
wait "$HELPER" || status=$?
HELPER=""
exit "$status"
