#!/usr/bin/python3
"""A libtorrent seed that only speaks MSE/PE, for bitorrent's interop tests.

Usage: lt_mse_peer.py PAYLOAD_FILE PIECE_LENGTH {rc4,plaintext,both}

Creates a v1 torrent of PAYLOAD_FILE, seeds it from the file's directory in a
session listening on 127.0.0.1 (random port) with DHT, LSD, UPnP, NAT-PMP and
uTP off, and encryption forced both ways (in_enc_policy = out_enc_policy =
pe_forced): every connection starts with the MSE handshake; the third
argument is allowed_enc_level, i.e. which method libtorrent selects or
provides after it (rc4: RC4 only; plaintext: plaintext only; both: either,
RC4 preferred).

Writes one JSON object per line on stdout:
  {"event": "ready", "port": P, "info_hash": HEX, "num_pieces": N, "libtorrent": V}
then answers commands read from stdin, one per line:
  connect PORT   connect_peer(("127.0.0.1", PORT)) -> {"event": "connecting"}
  peers          wait (up to 20 s) for a peer past the handshake, then
                 {"event": "peers", "peers": [{"port", "client", "rc4",
                  "plaintext_encrypted", "handshake_done"}, ...]}
  quit           exit (so does end of input)
Alerts are logged on stderr.

Used by crates/wire/tests/mse_libtorrent.rs. Must run with the Debian
interpreter (/usr/bin/python3), which has the python3-libtorrent package.
"""
import json
import os
import sys
import time

try:
    import libtorrent as lt
except ImportError:
    sys.stderr.write(
        "lt_mse_peer.py: cannot import libtorrent; install the Debian package "
        "python3-libtorrent (apt-get install python3-libtorrent) and run with "
        "/usr/bin/python3\n")
    sys.exit(3)

LEVELS = {"rc4": lt.enc_level.pe_rc4, "plaintext": lt.enc_level.pe_plaintext,
          "both": lt.enc_level.pe_both}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


SEEN = set()


def log_alerts(ses):
    for a in ses.pop_alerts():
        SEEN.add(a.what())
        sys.stderr.write("lt: %s: %s\n" % (a.what(), a.message()))
    sys.stderr.flush()


def wait_for(ses, predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        ses.wait_for_alert(100)
        log_alerts(ses)
    return predicate()


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in LEVELS:
        sys.stderr.write(__doc__)
        sys.exit(2)
    payload = os.path.abspath(sys.argv[1])
    piece_length = int(sys.argv[2])
    level = LEVELS[sys.argv[3]]

    fs = lt.file_storage()
    lt.add_files(fs, payload)
    ct = lt.create_torrent(fs, piece_length, flags=lt.create_torrent.v1_only)
    save_path = os.path.dirname(payload)
    lt.set_piece_hashes(ct, save_path)
    ti = lt.torrent_info(lt.bencode(ct.generate()))

    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "enable_incoming_utp": False, "enable_outgoing_utp": False,
        "in_enc_policy": lt.enc_policy.pe_forced,
        "out_enc_policy": lt.enc_policy.pe_forced,
        "allowed_enc_level": level,
        "prefer_rc4": level != lt.enc_level.pe_plaintext,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.peer_notification
        | lt.alert.category_t.connect_notification
        | lt.alert.category_t.status_notification,
    })
    h = ses.add_torrent({"ti": ti, "save_path": save_path})
    # Ready only once the check is over (torrent_checked): libtorrent can
    # drop an encrypted handshake for a torrent still settling.
    if not wait_for(ses, lambda: h.status().is_seeding and "torrent_checked" in SEEN, 60):
        sys.stderr.write("lt_mse_peer.py: torrent did not reach seeding\n")
        sys.exit(1)

    emit({"event": "ready", "port": ses.listen_port(),
          "info_hash": str(ti.info_hashes().v1), "num_pieces": ti.num_pieces(),
          "libtorrent": lt.__version__})

    def settled_peers():
        out = []
        for p in h.get_peer_info():
            f = p.flags
            out.append({
                "port": p.ip[1],
                "client": (p.client.decode("utf-8", "replace")
                           if isinstance(p.client, bytes) else p.client),
                "rc4": bool(f & lt.peer_info.rc4_encrypted),
                "plaintext_encrypted": bool(f & lt.peer_info.plaintext_encrypted),
                "handshake_done": not (f & (lt.peer_info.connecting
                                            | lt.peer_info.handshake)),
            })
        return out

    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "connect":
            h.connect_peer(("127.0.0.1", int(cmd[1])))
            emit({"event": "connecting"})
        elif cmd[0] == "peers":
            wait_for(ses, lambda: any(p["handshake_done"] for p in settled_peers()), 20)
            emit({"event": "peers", "peers": settled_peers()})
        elif cmd[0] == "quit":
            break
        log_alerts(ses)
    log_alerts(ses)


if __name__ == "__main__":
    main()
