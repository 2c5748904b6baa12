#!/usr/bin/python3
"""Runs the peer-transfer benchmark for scripts/bench-transfer.sh.

Starts four seeders on 127.0.0.1 (btl and libtorrent, for the v1 and the v2
torrent of one payload), then, RUNS times (after WARMUP uncounted rounds),
runs a fresh leecher against each in every pairing, interleaved (round-robin)
so that background load hits every pairing alike:

    libtorrent -> libtorrent, libtorrent -> btl, btl -> libtorrent, btl -> btl

and, as a diagnostic, btl -> libtorrent with a libtorrent leecher that does
not offer MSE (LT_ENCRYPTION=disabled): libtorrent dials with an MSE
handshake offering RC4 and plaintext, and btl's answer decides whether the
payload is RC4-encrypted (it was, before btl chose plaintext by default).

Before each transfer the leecher's data and state directories are removed
and the page cache's dirty pages written back (sync), so a transfer starts
from nothing and does not pay for the previous one's writeback. The leecher
runs under /usr/bin/time (wall, user, sys, peak RSS); the seeder's CPU time
during the transfer is read from /proc/PID/stat. After each transfer every
payload file is compared with the original, byte for byte.

Writes the results into the "## Peer transfer" section of BENCHMARKS.md,
keeping other sections (the file is re-read right before it is written).
"""
import argparse
import filecmp
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

KINDS = ("v1", "v2")
IMPLS = ("libtorrent", "btl")
PAIRS = [(s, l) for s in IMPLS for l in IMPLS]  # (seeder, leecher)
# A diagnostic extra: a libtorrent leecher that does not offer MSE (RC4), so
# the connection to a btl seeder stays plaintext whatever btl prefers.
PLAIN = "libtorrent-plain"
if os.environ.get("LT_ENCRYPTION", "enabled") != "disabled":
    PAIRS.append(("btl", PLAIN))
LABELS = {PLAIN: "libtorrent, LT_ENCRYPTION=disabled"}
TICK = os.sysconf("SC_CLK_TCK")


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Children:
    """Processes we started, each in its own process group; their group ids
    are mirrored in a file so that the shell wrapper can kill them too."""

    def __init__(self, pids_file):
        self.pids_file = pids_file
        self.procs = []
        self._save()

    def _save(self):
        with open(self.pids_file + ".tmp", "w") as f:
            f.write("".join(f"{p.pid}\n" for p in self.procs))
        os.replace(self.pids_file + ".tmp", self.pids_file)

    def start(self, cmd, out, err, stdin=subprocess.DEVNULL, env=None):
        p = subprocess.Popen(cmd, stdin=stdin, stdout=open(out, "wb"),
                             stderr=open(err, "wb"), start_new_session=True, env=env)
        self.procs.append(p)
        self._save()
        return p

    def kill(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=5)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        else:
            # The leader is gone; anything left in its group goes too.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if p.stdin:
            p.stdin.close()
        if p in self.procs:
            self.procs.remove(p)
            self._save()

    def kill_all(self):
        for p in list(self.procs):
            self.kill(p)


def json_lines(path):
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except FileNotFoundError:
        pass
    return out


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:]).rstrip()
    except FileNotFoundError:
        return ""


def proc_cpu(pid):
    """User + system CPU seconds of a live process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except FileNotFoundError:
        return None
    rest = s[s.rfind(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def busy_seconds():
    """CPU seconds spent by the whole machine so far (all cores, not idle)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


def own_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def payload_files(root):
    files = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            files.append((os.path.relpath(p, root), os.path.getsize(p)))
    return sorted(files)


class Bench:
    def __init__(self, a):
        self.a = a
        self.kids = Children(a.pids_file)
        self.payload = os.path.abspath(a.payload)
        self.name = os.path.basename(self.payload)
        self.files = payload_files(self.payload)
        self.total = sum(s for _, s in self.files)
        self.seeders = {}  # (impl, kind) -> (Popen, port)
        self.logs = os.path.join(a.work, "logs")
        os.makedirs(self.logs, exist_ok=True)

    def torrent(self, kind):
        return os.path.join(self.a.work, f"{kind}.torrent")

    # -- seeders ---------------------------------------------------------

    def start_seeder(self, impl, kind):
        tag = f"seed-{impl}-{kind}"
        out, err = (os.path.join(self.logs, f"{tag}.{x}") for x in ("out", "err"))
        data = os.path.dirname(self.payload)
        if impl == "btl":
            cmd = [self.a.btl, "seed", self.torrent(kind), "--data", data, "--json",
                   "--port", "0", "--listen", "127.0.0.1", "--no-lsd", "--no-dht",
                   "--state-dir", os.path.join(self.a.work, f"seed-state-{kind}")]
            p = self.kids.start(cmd, out, err)
        else:
            cmd = ["/usr/bin/python3", self.a.lt_peer, "seed", self.torrent(kind), data]
            # lt_peer.py seeds until its stdin closes: keep a pipe open.
            p = self.kids.start(cmd, out, err, stdin=subprocess.PIPE)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            for ev in json_lines(out):
                if ev.get("event") == "seeding":
                    self.seeders[(impl, kind)] = (p, ev["port"])
                    log(f"{tag}: pid {p.pid}, port {ev['port']}")
                    return
                if ev.get("event") == "error":
                    break
            if p.poll() is not None:
                break
            time.sleep(0.05)
        self.kids.kill(p)
        sys.exit(f"bench: the {impl} {kind} seeder did not start:\n{tail(out)}\n{tail(err)}")

    def seeder(self, impl, kind):
        p, port = self.seeders[(impl, kind)]
        if p.poll() is not None:
            log(f"bench: the {impl} {kind} seeder exited ({p.returncode}); restarting it")
            self.restarts.append(f"{impl} {kind} seeder exited with status {p.returncode}")
            self.kids.kill(p)
            self.start_seeder(impl, kind)
            p, port = self.seeders[(impl, kind)]
        return p, port

    # -- one transfer ----------------------------------------------------

    def transfer(self, seed_impl, leech_impl, kind, run):
        a = self.a
        sp, port = self.seeder(seed_impl, kind)
        dest = os.path.join(a.work, "leech")
        state = os.path.join(a.work, "leech-state")
        for d in (dest, state):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        os.sync()
        tag = f"run{run}-{kind}-{seed_impl}-to-{leech_impl}"
        out, err, tfile = (os.path.join(self.logs, f"{tag}.{x}") for x in ("out", "err", "time"))
        timed = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", tfile]
        peer = f"127.0.0.1:{port}"
        if leech_impl == "btl":
            cmd = timed + [a.btl, "get", "--allow-unverified", self.torrent(kind), "-o", dest, "--json",
                           "--port", "0", "--listen", "127.0.0.1", "--peer", peer,
                           # the peer is given (libtorrent's LSD and DHT are off too)
                           "--no-lsd", "--no-dht", "--state-dir", state]
        else:
            cmd = timed + ["/usr/bin/python3", a.lt_peer, "leech", self.torrent(kind), dest,
                           peer, str(a.deadline)]
        env = dict(os.environ, LT_ENCRYPTION="disabled") if leech_impl == PLAIN else None
        seed_cpu0 = proc_cpu(sp.pid)
        t0 = time.perf_counter()
        p = self.kids.start(cmd, out, err, env=env)
        timed_out = False
        try:
            p.wait(timeout=a.deadline + 15)
        except subprocess.TimeoutExpired:
            timed_out = True
        wall_outer = time.perf_counter() - t0
        seed_cpu1 = proc_cpu(sp.pid)
        rc = p.returncode if not timed_out else None
        self.kids.kill(p)
        r = {"seconds": None, "error": None}
        evs = json_lines(out)
        end = [e for e in evs if e.get("event") in ("complete", "done")]
        if timed_out:
            r["error"] = f"no completion within {a.deadline + 15} s (killed)"
        elif rc != 0:
            r["error"] = f"exit status {rc}"
        elif not end:
            r["error"] = "no complete/done event"
        else:
            r["seconds"] = float(end[-1]["seconds"])
        try:
            # GNU time prints "Command exited with non-zero status N" (or
            # "Command terminated by signal N") before the format line.
            e, u, s, m = open(tfile).read().strip().splitlines()[-1].split()
            r.update(wall=float(e), cpu=float(u) + float(s), rss_kib=int(m))
        except (FileNotFoundError, ValueError, IndexError):
            r.update(wall=wall_outer, cpu=None, rss_kib=None)
        r["seed_cpu"] = (seed_cpu1 - seed_cpu0
                         if seed_cpu0 is not None and seed_cpu1 is not None else None)
        if r["error"] is None and a.verify:
            bad = self.verify(dest)
            if bad:
                r["error"] = f"data differs from the payload: {bad}"
                r["seconds"] = None
        if r["error"]:
            r["detail"] = f"stdout:\n{tail(out)}\nstderr:\n{tail(err)}"
        shutil.rmtree(dest, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
        return r

    def verify(self, dest):
        root = os.path.join(dest, self.name)
        for rel, _ in self.files:
            got = os.path.join(root, rel)
            if not os.path.isfile(got):
                return f"{rel} missing"
            if not filecmp.cmp(os.path.join(self.payload, rel), got, shallow=False):
                return f"{rel} differs"
        return None

    # -- the whole benchmark ---------------------------------------------

    def run(self):
        a = self.a
        self.restarts = []
        for kind in KINDS:
            for impl in IMPLS:
                self.start_seeder(impl, kind)
        results = {(k, s, l): [] for k in KINDS for s, l in PAIRS}
        self.failures = []
        skipped = set()
        load_before = os.getloadavg()
        busy0, own0, wall0 = busy_seconds(), own_seconds(), time.perf_counter()
        ours = 0.0  # CPU seconds of our leechers and seeders during the runs
        for run in range(a.warmup + a.runs):
            counted = run >= a.warmup
            for kind in KINDS:
                for s, l in PAIRS:
                    key = (kind, s, l)
                    if key in skipped:
                        continue
                    r = self.transfer(s, l, kind, run)
                    ours += (r["cpu"] or 0) + (r["seed_cpu"] or 0)
                    label = "run" if counted else "warm-up"
                    if r["error"]:
                        log(f"{label} {run} {kind} {s:>10} -> {l:10} FAILED: {r['error']}\n"
                            f"{r['detail']}")
                        self.failures.append((run, counted, kind, s, l, r["error"], r["detail"]))
                        if sum(1 for f in self.failures if f[2:5] == key) >= 2:
                            log(f"bench: {kind} {s} -> {l} failed twice; not tried again")
                            skipped.add(key)
                    else:
                        log(f"{label} {run} {kind} {s:>10} -> {l:10} {r['seconds']:7.3f} s "
                            f"({self.total / 1e6 / r['seconds']:6.0f} MB/s), wall {r['wall']:.2f} s, "
                            f"leecher CPU {r['cpu']:.2f} s, RSS {r['rss_kib'] / 1024:.1f} MiB, "
                            f"seeder CPU {r['seed_cpu'] or 0:.2f} s")
                    if counted:
                        results[key].append(r)
        wall = time.perf_counter() - wall0
        busy = busy_seconds() - busy0
        load_after = os.getloadavg()
        foreign = max(0.0, busy - ours - (own_seconds() - own0)) / wall
        self.kids.kill_all()
        self.write(results, load_before, load_after, foreign)
        return not self.failures

    def write(self, results, load_before, load_after, foreign):
        a = self.a
        gb = self.total / 1e9
        mb = self.total / 1e6

        def ok(key):
            return [r for r in results[key] if r["seconds"] is not None]

        def med(key, f):
            vals = [f(r) for r in ok(key) if f(r) is not None]
            return statistics.median(vals) if vals else None

        def fmt(v, spec):
            return format(v, spec) if v is not None else "-"

        rows = []
        summary = {}
        for kind in KINDS:
            for s, l in PAIRS:
                key = (kind, s, l)
                secs = med(key, lambda r: r["seconds"])
                tput = mb / secs if secs else None
                cpu = med(key, lambda r: r["cpu"])
                rss = max((r["rss_kib"] for r in ok(key) if r["rss_kib"]), default=None)
                seed_cpu = med(key, lambda r: r["seed_cpu"])
                summary[key] = dict(tput=tput, cpu=cpu, rss=rss)
                n_ok, n = len(ok(key)), len(results[key])
                status = f"{n_ok}/{a.runs}" + ("" if n_ok == a.runs else " **FAILED**")
                slowest = max((r["seconds"] for r in ok(key)), default=None)
                rows.append("| {} | {} -> {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    kind, s, LABELS.get(l, l), fmt(secs, ".2f"), fmt(slowest, ".2f"),
                    fmt(tput, ".0f"),
                    fmt(med(key, lambda r: r["wall"]), ".2f"),
                    fmt(cpu / gb if cpu is not None else None, ".2f"),
                    fmt(rss / 1024 if rss else None, ".1f"),
                    fmt(seed_cpu / gb if seed_cpu is not None else None, ".2f"), status))

        def ratio(x, y):
            return f"{x / y:.2f}x" if x is not None and y else "-"

        ratio_rows = []
        for kind in KINDS:
            S = lambda s, l: summary[(kind, s, l)]  # noqa: E731
            tput = ratio(S("btl", "btl")["tput"], S("libtorrent", "libtorrent")["tput"])
            cpu_lt_seed = ratio(S("libtorrent", "btl")["cpu"], S("libtorrent", "libtorrent")["cpu"])
            cpu_btl_seed = ratio(S("btl", "btl")["cpu"], S("btl", "libtorrent")["cpu"])
            rsss = [S(s, "btl")["rss"] for s in IMPLS if S(s, "btl")["rss"]]
            rss = f"{max(rsss) / 1024:.1f}" if rsss else "-"
            ratio_rows.append(f"| {kind} | {tput} | {cpu_lt_seed} | {cpu_btl_seed} | {rss} |")

        fail_notes = ""
        if self.failures:
            fail_notes = "\nFailed transfers (logs in `" + self.logs + "`):\n\n" + "\n".join(
                f"- {'run' if counted else 'warm-up'} {run}, {kind}, {s} -> {LABELS.get(l, l)}: {err}"
                for run, counted, kind, s, l, err, _ in self.failures) + "\n"
        if self.restarts:
            fail_notes += "\nSeeders restarted: " + "; ".join(self.restarts) + ".\n"

        cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
        import libtorrent as lt
        size_mib = self.total / (1 << 20)
        largest_small = max(sz for _, sz in self.files[1:])
        small_desc = ("{:.0f} MiB".format(largest_small / (1 << 20)) if largest_small >= 1 << 20
                      else "{:.0f} KiB".format(largest_small / 1024))
        small_desc = f"{small_desc} or a little less"
        section = f"""## Peer transfer

Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {cpu}, {os.cpu_count()} cores (`nproc`),
btl built (release) from {a.built_from or "?"}, libtorrent {lt.__version__}
(python3-libtorrent, through scripts/interop/lt_peer.py). Payload {mb:.0f} MB
({size_mib:.0f} MiB) in {len(self.files)} files (one {self.files[0][1] / (1 << 20):.0f} MiB file, {len(self.files) - 1} files of
{small_desc}, random data), one v1 and one v2 torrent with 512 KiB pieces
(`btl create --v1/--v2 --no-date`); one seeder and one leecher on 127.0.0.1 over TCP,
seeder's data in the page cache, leecher writing to an emptied directory on disk
(`sync` before each transfer), median of {a.runs} runs (interleaved, after
{a.warmup} warm-up round{'' if a.warmup == 1 else 's'}), leecher deadline {a.deadline} s.
Machine load: 1-minute load average {a.load_at_start or "?"} when the script started (before building),
{load_before[0]:.2f} / {load_after[0]:.2f} before / after the timed runs (these include the benchmark's
own seeder and leecher); other processes (and kernel writeback) used {foreign:.2f} cores on average
during the runs.

Command: `{a.command}`

| kind | seeder -> leecher | transfer s | slowest s | MB/s | leecher wall s | leecher CPU s/GB | leecher peak RSS MiB | seeder CPU s/GB | runs ok |
|---|---|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + """

| kind | btl->btl / lt->lt throughput (target >= 1.25x) | btl / lt leecher CPU, lt seeding (target < 1) | btl / lt leecher CPU, btl seeding (target < 1) | btl leecher peak RSS MiB (target < 32) |
|---|---|---|---|---|
""" + "\n".join(ratio_rows) + f"""
{fail_notes}
- transfer s: the leecher's own measure, from adding the torrent until every piece is
  verified: `btl get --json`'s "complete" event `seconds` (from just before the torrent
  is added to after its resume data is saved), lt_peer.py leech's "done" event `seconds`
  (from `add_torrent` to `is_finished`; Python and libtorrent start-up not counted, nor
  the `flush_cache` it then waits for before exiting).
  Median over the runs; "slowest s" is the longest run, to show stalls. MB/s is the
  payload ({mb:.0f} MB, 10^6 bytes) divided by the median.
- leecher wall s, leecher and seeder CPU: medians too. leecher wall s: the whole leecher
  process (`/usr/bin/time` %e), start-up and exit included
  (for libtorrent: the Python interpreter, importing libtorrent, the session's shutdown).
- leecher CPU s/GB: user + system CPU seconds of the leecher process (%U + %S, every thread)
  per 10^9 payload bytes; for libtorrent it includes the Python interpreter (about 0.1 s).
- leecher peak RSS: the maximum over the runs of %M. libtorrent 2.0 reads and writes through
  memory-mapped files, so the pages of the file it writes count in its RSS.
- seeder CPU s/GB: the seeder's user + system CPU during the transfer (`/proc/PID/stat`),
  per 10^9 bytes; a long-lived seeder serves every run of its pairing.
- Each download is checked against the payload byte for byte after the run (not timed).
- Encryption: lt_peer.py sets libtorrent's policy to "enabled" (unless LT_ENCRYPTION says
  otherwise): dialling, it opens with an MSE handshake offering RC4 and plaintext; answering
  one, it picks plaintext. btl dials in plaintext first; answering an MSE handshake that
  offers both, it picks plaintext unless `SessionConfig::prefer_rc4` (off by default since
  commit 936e437; before, it picked RC4 and btl -> libtorrent ran RC4 both ways: about
  170 MB/s and 4.5 seeder CPU-s/GB). The "LT_ENCRYPTION=disabled" rows (a diagnostic extra,
  not in the ratios) are btl -> libtorrent with a libtorrent leecher that does not offer MSE
  at all: the same figures as the row above them mean no encryption is paid for. uTP is off.
- Run it on a quiet machine: btl is more sensitive to other load than libtorrent. On
  2026-11-21 (commit 98a32a8), with other jobs using about 0.7 of the 2 cores, btl's leecher
  CPU rose to 4.5-4.7 s/GB (1.5-2.1 when quiet) and btl -> btl fell to 0.6-0.7x lt -> lt,
  while libtorrent's leecher stayed at about 2.6 s/GB.
"""
        path = a.benchmarks
        text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
        pat = re.compile(r"^## Peer transfer\n.*?(?=^## |\Z)", re.S | re.M)
        if pat.search(text):
            text = pat.sub(lambda _: section + "\n", text, count=1)
        else:
            text = text.rstrip("\n") + "\n\n" + section
        with open(path, "w") as f:
            f.write(text.rstrip("\n") + "\n")
        print(section)
        for run, counted, kind, s, l, err, detail in self.failures:
            log(f"\n== {'run' if counted else 'warm-up'} {run} {kind} {s} -> {l}: {err}\n{detail}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--payload", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--pids-file", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--deadline", type=int, default=300)
    ap.add_argument("--no-verify", dest="verify", action="store_false")
    ap.add_argument("--btl", required=True)
    ap.add_argument("--lt-peer", required=True)
    ap.add_argument("--benchmarks", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--load-at-start", default="")
    ap.add_argument("--built-from", default="")
    a = ap.parse_args()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    b = Bench(a)
    try:
        ok = b.run()
    finally:
        b.kids.kill_all()
    if not ok:
        sys.exit("bench: some transfers failed (see above and BENCHMARKS.md)")


if __name__ == "__main__":
    main()
