#!/usr/bin/python3
"""libtorrent as a reference implementation, for bitorrent's interop tests.

Run with Debian's /usr/bin/python3 (package python3-libtorrent).

  lt_tool.py hashes TORRENT            infohashes and shape, as JSON
  lt_tool.py check TORRENT SAVE_PATH   load, check the payload on disk, print
                                       the progress libtorrent reached (JSON)
  lt_tool.py magnet-parse URI          what libtorrent reads from a magnet
  lt_tool.py make-magnet TORRENT       the magnet libtorrent makes
  lt_tool.py create PATH OUT VERSION PIECE_LENGTH
                                       create_torrent over PATH with files in
                                       sorted path order (VERSION: v1, v2 or
                                       hybrid), write OUT, print infohashes
"""
import os
import json
import sys
import time

try:
    import libtorrent as lt
except ImportError:
    sys.exit("lt_tool.py: python3-libtorrent is not installed "
             "(apt-get install python3-libtorrent) or this is not /usr/bin/python3")


def hexhash(h):
    s = str(h)
    return None if set(s) <= {"0"} else s


def hashes(path):
    ti = lt.torrent_info(path)
    ih = ti.info_hashes()
    fs = ti.files()
    return {
        "v1": hexhash(ih.v1) if ih.has_v1() else None,
        "v2": hexhash(ih.v2) if ih.has_v2() else None,
        "name": ti.name(),
        "num_files": fs.num_files(),
        "num_pieces": ti.num_pieces(),
        "piece_length": ti.piece_length(),
        "total_size": ti.total_size(),
        "files": [
            {"path": fs.file_path(i), "size": fs.file_size(i),
             "pad": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)}
            for i in range(fs.num_files())
        ],
    }


def check(path, save_path, deadline_s=120.0):
    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification,
    })
    ti = lt.torrent_info(path)
    h = ses.add_torrent({"ti": ti, "save_path": save_path})
    end = time.monotonic() + deadline_s
    done = False
    while time.monotonic() < end and not done:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_checked_alert, lt.torrent_finished_alert)):
                done = True
            if isinstance(a, lt.torrent_error_alert):
                return {"error": a.message()}
        st = h.status()
        if st.state not in (lt.torrent_status.checking_files,
                            lt.torrent_status.checking_resume_data,
                            lt.torrent_status.allocating):
            if st.state in (lt.torrent_status.seeding, lt.torrent_status.finished,
                            lt.torrent_status.downloading):
                done = done or st.state != lt.torrent_status.downloading or st.progress >= 1.0
    st = h.status()
    return {"progress": st.progress, "state": str(st.state),
            "pieces_have": sum(1 for p in st.pieces if p),
            "num_pieces": ti.num_pieces(), "timed_out": not done}


def magnet_parse(uri):
    p = lt.parse_magnet_uri(uri)
    ih = p.info_hashes
    return {
        "v1": hexhash(ih.v1) if ih.has_v1() else None,
        "v2": hexhash(ih.v2) if ih.has_v2() else None,
        "name": p.name,
        "trackers": list(p.trackers),
        "web_seeds": list(p.url_seeds),
        "peers": ["%s:%d" % (e[0], e[1]) for e in p.peers],
    }


def sorted_files(root):
    """Files under root (or root itself) as (relative path, size), in the
    order of their path components compared bytewise."""
    base = os.path.dirname(os.path.abspath(root))
    if os.path.isfile(root):
        return base, [(os.path.basename(root), os.path.getsize(root))]
    out = []
    for d, dirs, files in os.walk(root):
        for f in files:
            full = os.path.join(d, f)
            out.append((os.path.relpath(full, base), os.path.getsize(full)))
    out.sort(key=lambda e: [c.encode() for c in e[0].split(os.sep)])
    return base, out


def create(root, out, version, piece_length):
    base, files = sorted_files(root)
    fs = lt.file_storage()
    for rel, size in files:
        fs.add_file(rel, size)
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only,
             "hybrid": 0}[version]
    ct = lt.create_torrent(fs, int(piece_length), flags=flags)
    lt.set_piece_hashes(ct, base)
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    return hashes(out)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "hashes" and len(argv) == 3:
        out = hashes(argv[2])
    elif cmd == "check" and len(argv) == 4:
        out = check(argv[2], argv[3])
    elif cmd == "magnet-parse" and len(argv) == 3:
        out = magnet_parse(argv[2])
    elif cmd == "create" and len(argv) == 6:
        out = create(argv[2], argv[3], argv[4], argv[5])
    elif cmd == "make-magnet" and len(argv) == 3:
        out = {"magnet": lt.make_magnet_uri(lt.torrent_info(argv[2]))}
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
