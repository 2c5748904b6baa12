#!/usr/bin/python3
"""A libtorrent peer for bitorrent's engine interop tests and benchmarks.

Run with Debian's /usr/bin/python3 (package python3-libtorrent). Listens on
127.0.0.1 only (see LT_LISTEN_IP); no DHT, UPnP or NAT-PMP, and no local
service discovery unless LT_LSD=1. Peer exchange (ut_pex, BEP 11) is on,
as in libtorrent's default session.

  lt_peer.py seed TORRENT SAVE_PATH
      check the data and seed it. Prints {"event": "seeding", "port": N}
      once ready, then serves until stdin closes or it is killed.
  lt_peer.py leech TORRENT SAVE_PATH HOST:PORT [DEADLINE_S]
      download from the given peer (HOST:PORT "none": from whoever
      libtorrent finds, e.g. through LSD). Prints {"event": "listening", "port": N}
      once it accepts connections, {"event": "connected"} once it has a
      peer, then {"event": "done", ...} and exits 0 when every piece is
      verified, exits 1 at the deadline.
  lt_peer.py leech-magnet MAGNET SAVE_PATH HOST:PORT [DEADLINE_S]
      the same from a magnet link: the metadata (BEP 9) and, for v2, the
      piece layers (BEP 52 hash requests) come from the peer too.

Options through environment variables:
  LT_ENCRYPTION=forced|enabled|disabled   (default: enabled)
  LT_UPLOAD_LIMIT=BYTES_PER_SECOND        (default: unlimited)
  LT_DOWNLOAD_LIMIT=BYTES_PER_SECOND      (default: unlimited)
  LT_LISTEN_IP=IPV4                       (default: 127.0.0.1; outgoing
                                           connections leave from it too)
  LT_LSD=1                                 local service discovery (BEP 14)
                                           on LT_LISTEN_IP's interface
"""
import json
import os
import select
import sys
import time

try:
    import libtorrent as lt
except ImportError:
    sys.exit("lt_peer.py: python3-libtorrent is not installed "
             "(apt-get install python3-libtorrent) or this is not /usr/bin/python3")


LISTEN_IP = os.environ.get("LT_LISTEN_IP", "127.0.0.1")


def session():
    enc = os.environ.get("LT_ENCRYPTION", "enabled")
    policy = {"forced": lt.enc_policy.forced, "enabled": lt.enc_policy.enabled,
              "disabled": lt.enc_policy.disabled}[enc]
    settings = {
        "listen_interfaces": f"{LISTEN_IP}:0",
        "enable_dht": False, "enable_lsd": os.environ.get("LT_LSD") == "1",
        "enable_upnp": False, "enable_natpmp": False,
        "out_enc_policy": policy, "in_enc_policy": policy,
        "allow_multiple_connections_per_ip": True,
        # bitorrent speaks TCP only (uTP is a later issue); libtorrent would
        # try uTP first and fall back to TCP after a timeout.
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "alert_mask": lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification
        | lt.alert.category_t.storage_notification,
        # Loopback benchmarks: do not throttle.
        "connections_limit": 200,
    }
    if LISTEN_IP != "127.0.0.1":
        settings["outgoing_interfaces"] = LISTEN_IP
    limit = int(os.environ.get("LT_UPLOAD_LIMIT", "0"))
    if limit:
        settings["upload_rate_limit"] = limit
    down_limit = int(os.environ.get("LT_DOWNLOAD_LIMIT", "0"))
    if down_limit:
        settings["download_rate_limit"] = down_limit
    ses = lt.session(settings)
    if limit or down_limit:
        # libtorrent exempts local-network peers (loopback included) from
        # rate limits: put every address in the global class instead.
        f = lt.ip_filter()
        flags = 1 << lt.session.global_peer_class_id
        f.add_rule("0.0.0.0", "255.255.255.255", flags)
        f.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", flags)
        ses.set_peer_class_filter(f)
    return ses


def emit(obj):
    print(json.dumps(obj), flush=True)


def wait_state(ses, h, states, deadline):
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_error_alert):
                emit({"event": "error", "message": a.message()})
                sys.exit(1)
        st = h.status()
        if st.state in states:
            return st
    return None


def wait_listening(ses, deadline):
    """The TCP port once a connection to it succeeds (libtorrent may
    re-open its listen socket just after start-up)."""
    import socket
    while time.monotonic() < deadline:
        port = ses.listen_port()
        if port:
            try:
                with socket.create_connection((LISTEN_IP, port), timeout=1):
                    return port
            except OSError:
                pass
        ses.wait_for_alert(100)
        ses.pop_alerts()
    emit({"event": "error", "message": "libtorrent is not listening"})
    sys.exit(1)


def seed(torrent, save_path):
    ses = session()
    ti = lt.torrent_info(torrent)
    h = ses.add_torrent({"ti": ti, "save_path": save_path})
    st = wait_state(ses, h, (lt.torrent_status.seeding,), time.monotonic() + 600)
    if st is None:
        emit({"event": "error", "message": "data check did not finish"})
        sys.exit(1)
    port = wait_listening(ses, time.monotonic() + 30)
    emit({"event": "seeding", "port": port, "pieces": ti.num_pieces()})
    # Serve until stdin closes (the parent ends) or we are killed.
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 1.0)
        if r and not sys.stdin.readline():
            break
        ses.pop_alerts()


def leech(torrent, save_path, peer, deadline_s, magnet=False):
    ses = session()
    if magnet:
        params = lt.parse_magnet_uri(torrent)
        params.save_path = save_path
        h = ses.add_torrent(params)
    else:
        ti = lt.torrent_info(torrent)
        h = ses.add_torrent({"ti": ti, "save_path": save_path})
    host, port = peer.rsplit(":", 1) if peer != "none" else (None, None)
    emit({"event": "listening", "port": wait_listening(ses, time.monotonic() + 30)})
    start = time.monotonic()
    deadline = start + deadline_s
    connected = False
    had_peer = False
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_error_alert):
                emit({"event": "error", "message": a.message()})
                sys.exit(1)
        st = h.status()
        if st.state in (lt.torrent_status.downloading, lt.torrent_status.finished,
                        lt.torrent_status.seeding,
                        lt.torrent_status.downloading_metadata) and not connected:
            if host is not None:
                h.connect_peer((host, int(port)))
            connected = True
        if st.num_peers > 0 and not had_peer:
            had_peer = True
            emit({"event": "connected"})
        if st.is_seeding or st.is_finished:
            took = time.monotonic() - start
            flush(ses, h)
            emit({"event": "done", "seconds": took, "progress": st.progress,
                  "downloaded": st.total_payload_download,
                  "pieces": sum(1 for p in st.pieces if p)})
            return
        if host is not None and connected and st.num_peers == 0 \
                and int(time.monotonic() * 2) % 6 == 0:
            h.connect_peer((host, int(port)))
    st = h.status()
    emit({"event": "timeout", "progress": st.progress, "peers": st.num_peers})
    sys.exit(1)


def flush(ses, h):
    """Waits until libtorrent has written everything to disk: a piece
    counts as finished once hashed, possibly before its file is written."""
    h.flush_cache()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        if any(isinstance(a, lt.cache_flushed_alert) for a in ses.pop_alerts()):
            return
    emit({"event": "error", "message": "disk cache not flushed in 10 s"})
    sys.exit(1)


def main(argv):
    if len(argv) >= 4 and argv[1] == "seed":
        seed(argv[2], argv[3])
    elif len(argv) >= 5 and argv[1] in ("leech", "leech-magnet"):
        leech(argv[2], argv[3], argv[4], float(argv[5]) if len(argv) > 5 else 120.0,
              magnet=argv[1] == "leech-magnet")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
