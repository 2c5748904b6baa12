#!/usr/bin/python3
"""libtorrent on a small DHT of its own, on loopback, for bitorrent's DHT
interop tests (BEP 5). Nothing here contacts a node outside 127.0.0.1:
libtorrent's default bootstrap routers are replaced by the nodes given.

Run with Debian's /usr/bin/python3 (package python3-libtorrent).

  lt_dht.py nodes N
      N libtorrent sessions that only run the DHT, on 127.0.0.1, joined to
      each other. Prints {"event": "ready", "nodes": ["127.0.0.1:P", ...]}
      once every node's routing table holds the N-1 others, then one
      {"event": "announce", "node": ..., "peer": "IP:PORT",
      "info_hash": HEX} line for each announce_peer a node stores, until
      stdin closes.
  lt_dht.py seed TORRENT SAVE_PATH NODE[,NODE...]
      seed TORRENT, found only through the DHT (joined through the given
      nodes; no trackers, no local discovery). Prints {"event": "seeding",
      "port": N} once ready, {"event": "announced"} once its first DHT
      announce went out, and serves until stdin closes.
  lt_dht.py leech TORRENT SAVE_PATH NODE[,NODE...] [DEADLINE_S]
      download TORRENT from peers found only through the DHT. Prints
      {"event": "peers", "count": N} when the first peers are found, then
      {"event": "done", ...} and exits 0 once every piece is verified and
      on disk; exits 1 at the deadline.

libtorrent settings a DHT on one address needs: every node is 127.0.0.1,
so the one-node-per-IP rules (dht_restrict_routing_ips,
dht_restrict_search_ips), BEP 42 node-id checks and the per-IP packet
rate limit (dht_block_ratelimit) are off or raised.
"""
import json
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lt_peer  # noqa: E402  (session defaults, flush, wait_listening)
from lt_peer import emit, lt  # noqa: E402

DHT_SETTINGS = {
    "enable_dht": True,
    "enable_lsd": False,
    "dht_bootstrap_nodes": "",
    "dht_restrict_routing_ips": False,
    "dht_restrict_search_ips": False,
    "dht_enforce_node_id": False,
    "dht_prefer_verified_node_ids": False,
    "dht_ignore_dark_internet": False,
    "dht_block_ratelimit": 1000000,
    "dht_upload_rate_limit": 10000000,
    "alert_mask": lt.alert.category_t.status_notification
    | lt.alert.category_t.error_notification
    | lt.alert.category_t.storage_notification
    | lt.alert.category_t.dht_notification,
}


def dht_session(nodes):
    """A session listening on 127.0.0.1 with the DHT on, joined through
    `nodes` ("IP:PORT" strings)."""
    ses = lt_peer.session()
    ses.apply_settings(DHT_SETTINGS)
    for n in nodes:
        host, port = n.rsplit(":", 1)
        ses.add_dht_node((host, int(port)))
    return ses


def stdin_closed(timeout):
    r, _, _ = select.select([sys.stdin], [], [], timeout)
    return bool(r) and not sys.stdin.readline()


def table_size(ses, deadline):
    """Nodes in the session's routing table (dht_stats_alert)."""
    ses.post_dht_stats()
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_stats_alert):
                return sum(b["num_nodes"] for b in a.routing_table)
    return 0


def nodes(n):
    sessions = [dht_session([]) for _ in range(n)]
    deadline = time.monotonic() + 30
    ports = [lt_peer.wait_listening(s, deadline) for s in sessions]
    addrs = [f"127.0.0.1:{p}" for p in ports]
    for s in sessions:
        for a, p in zip(addrs, ports):
            if p != s.listen_port():
                s.add_dht_node(("127.0.0.1", p))
    while not all(table_size(s, deadline) >= n - 1 for s in sessions):
        if time.monotonic() > deadline:
            emit({"event": "error", "message": "the libtorrent DHT nodes did not join"})
            sys.exit(1)
    emit({"event": "ready", "nodes": addrs})
    while not stdin_closed(0.1):
        for s, a in zip(sessions, addrs):
            for al in s.pop_alerts():
                if isinstance(al, lt.dht_announce_alert):
                    emit({"event": "announce", "node": a,
                          "peer": f"{al.ip}:{al.port}", "info_hash": str(al.info_hash)})


def add(ses, torrent, save_path):
    ti = lt.torrent_info(torrent)
    params = lt.add_torrent_params()
    params.ti = ti
    params.save_path = save_path
    params.trackers = []
    h = ses.add_torrent(params)
    # Peers only from the DHT: no trackers (the torrent's are dropped).
    h.replace_trackers([])
    return ti, h


def seed(torrent, save_path, node_list):
    ses = dht_session(node_list.split(","))
    ti, h = add(ses, torrent, save_path)
    st = lt_peer.wait_state(ses, h, (lt.torrent_status.seeding,), time.monotonic() + 600)
    if st is None:
        emit({"event": "error", "message": "data check did not finish"})
        sys.exit(1)
    port = lt_peer.wait_listening(ses, time.monotonic() + 30)
    emit({"event": "seeding", "port": port, "pieces": ti.num_pieces()})
    # Announce until one announce has gone out (a dht_reply_alert ends the
    # lookup that precedes it); the DHT may still be joining at first.
    announced = False
    next_try = 0.0
    while not stdin_closed(0.2):
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_reply_alert) and not announced:
                announced = True
                emit({"event": "announced", "peers": a.num_peers})
        if not announced and time.monotonic() >= next_try:
            h.force_dht_announce()
            next_try = time.monotonic() + 2


def leech(torrent, save_path, node_list, deadline_s):
    ses = dht_session(node_list.split(","))
    _, h = add(ses, torrent, save_path)
    start = time.monotonic()
    deadline = start + deadline_s
    next_lookup = start
    found = False
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_error_alert):
                emit({"event": "error", "message": a.message()})
                sys.exit(1)
        st = h.status()
        if st.num_peers > 0 and not found:
            found = True
            emit({"event": "peers", "count": st.num_peers})
        # Ask the DHT again while no peer is connected (the DHT may still
        # be joining); the loop's deadline bounds it.
        if st.num_peers == 0 and time.monotonic() >= next_lookup:
            h.force_dht_announce()
            next_lookup = time.monotonic() + 2
        if st.is_seeding or st.is_finished:
            lt_peer.flush(ses, h)
            emit({"event": "done", "seconds": time.monotonic() - start,
                  "downloaded": st.total_payload_download})
            return
    st = h.status()
    emit({"event": "timeout", "progress": st.progress, "peers": st.num_peers})
    sys.exit(1)


def main(argv):
    if len(argv) == 3 and argv[1] == "nodes":
        nodes(int(argv[2]))
    elif len(argv) == 5 and argv[1] == "seed":
        seed(argv[2], argv[3], argv[4])
    elif len(argv) in (5, 6) and argv[1] == "leech":
        leech(argv[2], argv[3], argv[4], float(argv[5]) if len(argv) > 5 else 120.0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
