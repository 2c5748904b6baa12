#!/usr/bin/python3
"""Regenerates the .torrent fixtures of crates/metainfo/tests/torrent_fixtures.rs.

Run with Debian's python (it has libtorrent):  /usr/bin/python3 scripts/gen-torrent-fixtures.py

The payload is generated deterministically (SHA-256 in counter mode, seeded
by the file's name) in a temporary directory and is not committed. The
torrents are made by mktorrent, transmission-create and libtorrent (v2 and
hybrid); libtorrent then reads every fixture back and its view (infohashes,
piece count, files with offsets, sizes, attributes and pieces roots) is
written to expected.tsv, which the Rust tests compare against.

Infohashes depend only on the info dictionaries, so they are stable across
runs; the files themselves differ in their creation dates.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import libtorrent as lt

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "metainfo", "tests", "fixtures", "torrent")
TRACKER = "http://tracker.example/announce"
BACKUP = "udp://backup.example:6969/announce"


def payload(name, size):
    """size bytes derived from name."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{name}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def write(root, rel, size, mode=0o644):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(payload(rel, size))
    os.chmod(path, mode)


def make_payload(base):
    write(base, "single.bin", 50_000)
    write(base, "hsingle.bin", 70_000)
    # A multi-file tree: nested and non-ASCII names, an empty file, a file
    # larger than a piece, an executable.
    for top in ("multi", "tree"):
        write(base, f"{top}/README.txt", 1_000)
        write(base, f"{top}/empty.dat", 0)
        write(base, f"{top}/caf\u00e9/cr\u00e8me br\u00fbl\u00e9e.bin", 100_000)
        write(base, f"{top}/\u65e5\u672c/\u30c7\u30fc\u30bf.bin", 20_000)
        write(base, f"{top}/run.sh", 300, 0o755)


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def libtorrent_create(base, target, out, piece_size, flags, comment):
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(base, target), flags=flags)
    ct = lt.create_torrent(fs, piece_size, flags)
    ct.add_tracker(TRACKER, 0)
    ct.add_tracker(BACKUP, 1)
    ct.add_url_seed("http://seed.example/files/")
    ct.set_creator("libtorrent " + lt.__version__)
    ct.set_comment(comment)
    lt.set_piece_hashes(ct, base)
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))


def describe(name, path):
    """Lines of expected.tsv for one torrent, from libtorrent's view."""
    ti = lt.torrent_info(path)
    ih = ti.info_hashes()
    version = "hybrid" if ih.has_v1() and ih.has_v2() else ("v2" if ih.has_v2() else "v1")
    fs = ti.files()
    rows = []
    total = 0
    files = 0
    for i in range(fs.num_files()):
        flags = fs.file_flags(i)
        if flags & fs.flag_pad_file:
            continue
        files += 1
        total += fs.file_size(i)
        attr = ""
        if flags & fs.flag_executable:
            attr += "x"
        if flags & fs.flag_hidden:
            attr += "h"
        if flags & fs.flag_symlink:
            attr += "l"
        root = fs.root(i) if ih.has_v2() else None
        root = "-" if root is None or root.is_all_zeros() else str(root)
        comps = fs.file_path(i).split(os.sep)
        if len(comps) > 1:
            comps = comps[1:]  # our paths leave out the torrent name
        rows.append("\t".join(["file", name, str(fs.file_offset(i)), str(fs.file_size(i)),
                               attr or "-", root, "/".join(comps)]))
    piece0 = ti.hash_for_piece(0).hex() if ih.has_v1() and ti.num_pieces() else "-"
    head = "\t".join([
        "torrent", name, version,
        str(ih.v1) if ih.has_v1() else "-",
        str(ih.v2) if ih.has_v2() else "-",
        str(ti.num_pieces()), str(ti.piece_length()), str(total), str(files),
        piece0, ti.name(),
    ])
    return [head] + rows


def main():
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="btl-fixtures-")
    try:
        base = os.path.join(tmp, "payload")
        make_payload(base)
        made = []

        def out(name):
            made.append(name)
            path = os.path.join(OUT, name)
            if os.path.exists(path):
                os.remove(path)  # mktorrent refuses to overwrite
            return path

        run("mktorrent", "-d", "-l", "15", "-a", TRACKER, "-a", BACKUP,
            "-w", "http://seed.example/single.bin", "-c", "single file, mktorrent",
            "-o", out("v1-single-mktorrent.torrent"), os.path.join(base, "single.bin"))
        run("mktorrent", "-d", "-p", "-l", "15", "-s", "fixture-source", "-a", TRACKER,
            "-o", out("v1-multi-mktorrent.torrent"), os.path.join(base, "multi"))
        run("transmission-create", "-s", "32", "-t", TRACKER, "-t", BACKUP,
            "-c", "multi-file, transmission", "-o", out("v1-multi-transmission.torrent"),
            os.path.join(base, "multi"))
        libtorrent_create(base, "tree", out("v2-libtorrent.torrent"), 16384,
                          lt.create_torrent.v2_only, "v2 multi-file, libtorrent")
        libtorrent_create(base, "hsingle.bin", out("v2-single-libtorrent.torrent"), 16384,
                          lt.create_torrent.v2_only, "v2 single file, libtorrent")
        libtorrent_create(base, "tree", out("hybrid-libtorrent.torrent"), 16384, 0,
                          "hybrid multi-file, libtorrent")
        libtorrent_create(base, "hsingle.bin", out("hybrid-single-libtorrent.torrent"), 32768, 0,
                          "hybrid single file, libtorrent")

        lines = ["# kind\tfixture\tversion\tv1\tv2\tpieces\tpiece_length\ttotal\tfiles\tpiece0\tname",
                 "# kind\tfixture\toffset\tsize\tattr\tpieces_root\tpath",
                 "# generated by scripts/gen-torrent-fixtures.py from libtorrent "
                 + lt.__version__ + "'s view of each file"]
        for name in made:
            size = os.path.getsize(os.path.join(OUT, name))
            if size > 20 * 1024:
                sys.exit(f"{name} is {size} bytes, over the 20 KiB fixture budget")
            lines += describe(name, os.path.join(OUT, name))
        with open(os.path.join(OUT, "expected.tsv"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
