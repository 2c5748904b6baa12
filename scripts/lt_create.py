#!/usr/bin/python3
"""Create a torrent with libtorrent (python3-libtorrent) and print its infohashes.

Usage: lt_create.py PAYLOAD {v1,v2,hybrid} PIECE_LENGTH [--out FILE] [--threads N]

Prints one JSON object: {"v1": hex or null, "v2": hex or null,
"seconds": time spent in create_torrent + set_piece_hashes + generate,
"libtorrent": version}.

File order: for v2 and hybrid, libtorrent canonicalizes the file list
itself (sorted by path, pad files). For v1 (`v1_only`) libtorrent keeps the
order it is given, which for `add_files` is directory order; to make the
comparison deterministic we build the file_storage in the order btl uses:
sorted by path components, byte-wise. The file set itself (hidden files
included, symlinks followed, empty directories dropped, executable bit) is
always libtorrent's own `add_files` walk.

Used by crates/metainfo/tests/create_libtorrent.rs and scripts/bench-create.sh.
Must run with the Debian interpreter (/usr/bin/python3), which has the
python3-libtorrent package.
"""
import json
import os
import sys
import time

try:
    import libtorrent as lt
except ImportError:
    sys.stderr.write(
        "lt_create.py: cannot import libtorrent; install the Debian package "
        "python3-libtorrent (apt-get install python3-libtorrent) and run with "
        "/usr/bin/python3\n")
    sys.exit(3)


def main():
    args = sys.argv[1:]
    out = None
    if "--out" in args:
        i = args.index("--out")
        out = args[i + 1]
        del args[i:i + 2]
    if len(args) != 3 or args[1] not in ("v1", "v2", "hybrid"):
        sys.stderr.write(__doc__)
        sys.exit(2)
    payload, version, piece_length = os.path.abspath(args[0]), args[1], int(args[2])
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only,
             "hybrid": 0}[version]

    start = time.perf_counter()
    fs = lt.file_storage()
    lt.add_files(fs, payload)
    if version == "v1":
        entries = []
        for i in range(fs.num_files()):
            p = os.fsencode(fs.file_path(i))
            entries.append((p.split(b"/"), fs.file_size(i), fs.file_flags(i)))
        entries.sort(key=lambda e: e[0])
        fs = lt.file_storage()
        for comps, size, fl in entries:
            fs.add_file(os.fsdecode(b"/".join(comps)), size, fl)
    ct = lt.create_torrent(fs, piece_length, flags)
    lt.set_piece_hashes(ct, os.path.dirname(payload))
    entry = ct.generate()
    data = lt.bencode(entry)
    seconds = time.perf_counter() - start

    ti = lt.torrent_info(data)
    ih = ti.info_hashes()
    v1 = str(ih.v1) if ih.has_v1() else None
    v2 = str(ih.v2) if ih.has_v2() else None
    if out:
        with open(out, "wb") as f:
            f.write(data)
    print(json.dumps({"v1": v1, "v2": v2, "seconds": seconds,
                      "libtorrent": lt.__version__}))


if __name__ == "__main__":
    main()
