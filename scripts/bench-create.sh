#!/usr/bin/env bash
# Benchmark torrent creation: btl against libtorrent 2.0.8 (create_torrent +
# set_piece_hashes, through scripts/lt_create.py) and mktorrent -t 2, on the
# same ~1 GiB payload of random data with a warm page cache, in one run.
# Results (median wall time, throughput, ratios, peak RSS) replace the
# "## Torrent creation" section of BENCHMARKS.md at the repository root.
#
# Environment:
#   BENCH_DIR     where the payload lives (default /tmp/btl-bench); it is
#                 generated once and reused
#   RUNS          timed runs per tool and kind (default 5)
#   PIECE_LENGTH  bytes per piece (default 524288; must be a power of two)
#   CARGO_TARGET_DIR  as usual (default ~/.cache/btl-target)
#
# Needs: /usr/bin/python3 with python3-libtorrent, mktorrent, /usr/bin/time
# (Debian packages python3-libtorrent, mktorrent, time).
set -euo pipefail

LOAD_AT_START=$(cut -d' ' -f1 /proc/loadavg)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/btl-bench}
RUNS=${RUNS:-5}
PIECE_LENGTH=${PIECE_LENGTH:-524288}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/btl-target}
PAYLOAD=$BENCH_DIR/payload-1g

missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v mktorrent >/dev/null || missing+=(mktorrent)
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || missing+=(python3-libtorrent)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench-create: missing Debian packages: ${missing[*]}" >&2
    echo "install them with: apt-get install -y ${missing[*]}" >&2
    exit 1
fi

# The payload: one 896 MiB file and 32 files of just under 4 MiB each
# (odd sizes, so hybrid torrents get pad files), 1 GiB in all.
if [ ! -f "$PAYLOAD.complete" ]; then
    echo "generating payload in $PAYLOAD" >&2
    rm -rf "$PAYLOAD"
    mkdir -p "$PAYLOAD/small"
    head -c $((896 << 20)) /dev/urandom > "$PAYLOAD/big.bin"
    for i in $(seq -w 1 32); do
        head -c $(((4 << 20) - 10#$i * 1000)) /dev/urandom > "$PAYLOAD/small/file-$i.bin"
    done
    touch "$PAYLOAD.complete"
fi

cd "$ROOT"
cargo build --release -q -p btl-metainfo --example create
EXAMPLE=$CARGO_TARGET_DIR/release/examples/create
BTL=""
if cargo build --release -q -p btl 2>/dev/null \
    && "$CARGO_TARGET_DIR/release/btl" create --help >/dev/null 2>&1; then
    BTL=$CARGO_TARGET_DIR/release/btl
fi

# Warm the page cache (twice: the second pass checks it all fits).
for _ in 1 2; do find "$PAYLOAD" -type f -exec cat {} + > /dev/null; done

exec /usr/bin/python3 "$ROOT/scripts/bench_create.py" \
    --payload "$PAYLOAD" --runs "$RUNS" --piece-length "$PIECE_LENGTH" \
    --example "$EXAMPLE" ${BTL:+--btl "$BTL"} \
    --lt-script "$ROOT/scripts/lt_create.py" \
    --benchmarks "$ROOT/BENCHMARKS.md" \
    --load-at-start "$LOAD_AT_START" \
    --command "scripts/bench-create.sh (RUNS=$RUNS PIECE_LENGTH=$PIECE_LENGTH)"
