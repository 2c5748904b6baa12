#!/usr/bin/python3
"""A libtorrent peer that finds other peers only through the torrent's
trackers, for bitorrent's tracker interop tests.

Run with Debian's /usr/bin/python3 (package python3-libtorrent). No DHT,
LSD, PEX-only discovery, UPnP or NAT-PMP: the tracker is the only way in.

  lt_tracker_peer.py seed TORRENT SAVE_PATH LISTEN_IP
      check the data, listen on LISTEN_IP (any port), announce, seed.
      Prints {"event": "seeding", "port": N} once the first announce
      succeeded, then serves until stdin closes or it is killed.
  lt_tracker_peer.py leech TORRENT SAVE_PATH LISTEN_IP [DEADLINE_S]
      announce and download from whoever the tracker returns. Prints
      {"event": "done", ...} and exits 0 when every piece is verified,
      exits 1 at the deadline.

Both re-announce every 2 s while they have no peer, ignoring the
tracker's minimum interval: Transmission 3.00 never dials loopback
addresses, so a libtorrent seed must learn of a Transmission leecher from
the tracker and dial it.

Each peer prints {"event": "tracker_reply", "peers": N} for every
successful announce and {"event": "tracker_error", ...} for failures.
Give each peer its own LISTEN_IP in 127.0.0.0/8 (127.0.0.2, 127.0.0.3...)
so that the tracker sees distinct addresses.
"""
import json
import select
import sys
import time

try:
    import libtorrent as lt
except ImportError:
    sys.exit("lt_tracker_peer.py: python3-libtorrent is not installed "
             "(apt-get install python3-libtorrent) or this is not /usr/bin/python3")


def emit(obj):
    print(json.dumps(obj), flush=True)


def session(ip):
    return lt.session({
        "listen_interfaces": f"{ip}:0",
        "outgoing_interfaces": ip,
        "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        # Re-announce quickly in tests, and to every tracker.
        "min_announce_interval": 1,
        "announce_to_all_trackers": True, "announce_to_all_tiers": True,
        "alert_mask": lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification
        | lt.alert.category_t.tracker_notification,
    })


def handle_alerts(ses):
    """Reports tracker replies; returns the number of successful ones."""
    ok = 0
    for a in ses.pop_alerts():
        if isinstance(a, lt.torrent_error_alert):
            emit({"event": "error", "message": a.message()})
            sys.exit(1)
        if isinstance(a, lt.tracker_reply_alert):
            ok += 1
            emit({"event": "tracker_reply", "peers": a.num_peers, "url": a.url})
        elif isinstance(a, lt.tracker_error_alert):
            emit({"event": "tracker_error", "url": a.url, "message": a.message()})
    return ok


def reannounce(h):
    h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)


def add(ses, torrent, save_path):
    ti = lt.torrent_info(torrent)
    return ses.add_torrent({"ti": ti, "save_path": save_path}), ti


def seed(torrent, save_path, ip):
    ses = session(ip)
    h, ti = add(ses, torrent, save_path)
    deadline = time.monotonic() + 600
    announced = False
    told = False
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        announced |= handle_alerts(ses) > 0
        st = h.status()
        if st.is_seeding and not told and announced:
            emit({"event": "seeding", "port": ses.listen_port(), "pieces": ti.num_pieces()})
            told = True
        if told:
            break
        if st.is_seeding and not announced:
            reannounce(h)
            time.sleep(0.2)
    if not told:
        emit({"event": "error", "message": "no seeding state or no tracker reply"})
        sys.exit(1)
    last_announce = time.monotonic()
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 0.5)
        if r and not sys.stdin.readline():
            break
        handle_alerts(ses)
        if h.status().num_peers == 0 and time.monotonic() - last_announce > 2:
            reannounce(h)
            last_announce = time.monotonic()


def leech(torrent, save_path, ip, deadline_s):
    ses = session(ip)
    h, _ = add(ses, torrent, save_path)
    start = time.monotonic()
    last_announce = start
    while time.monotonic() < start + deadline_s:
        ses.wait_for_alert(100)
        handle_alerts(ses)
        st = h.status()
        if st.is_seeding or st.is_finished:
            emit({"event": "done", "seconds": time.monotonic() - start,
                  "progress": st.progress, "downloaded": st.total_payload_download,
                  "peers": st.num_peers})
            return
        # Nobody yet: ask the tracker again (it is the only source).
        if st.num_peers == 0 and time.monotonic() - last_announce > 2:
            reannounce(h)
            last_announce = time.monotonic()
    st = h.status()
    emit({"event": "timeout", "progress": st.progress, "peers": st.num_peers})
    sys.exit(1)


def main(argv):
    if len(argv) >= 5 and argv[1] == "seed":
        seed(argv[2], argv[3], argv[4])
    elif len(argv) >= 5 and argv[1] == "leech":
        leech(argv[2], argv[3], argv[4], float(argv[5]) if len(argv) > 5 else 120.0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
