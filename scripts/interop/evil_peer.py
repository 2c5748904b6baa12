#!/usr/bin/python3
"""A misbehaving BitTorrent peer, for bitorrent's fault tests.

Plain Python sockets, loopback only. It speaks just enough of BEP 3 to be
believed, then misbehaves:

  evil_peer.py serve MODE TORRENT      listen on 127.0.0.2:0, print
                                       {"event": "listening", "host": H, "port": N}
                                       (on 127.0.0.2), and
                                       answer one connection at a time:
      corrupt   claim every piece, serve random bytes for every request
      stall     claim every piece, unchoke, never send a block
  evil_peer.py attack MODE TORRENT HOST:PORT
                                       connect to a peer and
      garbage   send a valid handshake, then malformed and oversized frames
      flood     send 100,000 requests, out of range and in range
      junk      send random bytes instead of a handshake
    then print {"event": "done", "closed_by_peer": bool}.

Runs until killed (serve) or until the attack is over (attack).
"""
import hashlib
import json
import os
import socket
import struct
import sys


def bdecode(data, i=0):
    c = data[i:i + 1]
    if c == b"i":
        j = data.index(b"e", i)
        return int(data[i + 1:j]), j + 1
    if c == b"l":
        out, i = [], i + 1
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while data[i:i + 1] != b"e":
            k, i = bdecode(data, i)
            v, i = bdecode(data, i)
            out[k] = v
        return out, i + 1
    j = data.index(b":", i)
    n = int(data[i:j])
    return data[j + 1:j + 1 + n], j + 1 + n


def torrent_facts(path):
    raw = open(path, "rb").read()
    # The info dict's bytes: find them by re-encoding is not needed; locate
    # the span by decoding.
    top, _ = bdecode(raw)
    start = raw.index(b"4:info") + 6
    _, end = bdecode(raw, start)
    info_bytes = raw[start:end]
    info = top[b"info"]
    plen = info[b"piece length"]
    if b"pieces" in info:
        count = len(info[b"pieces"]) // 20
        ih = hashlib.sha1(info_bytes).digest()
    else:
        raise SystemExit("evil_peer.py handles v1 torrents only")
    return ih, count, plen


def emit(obj):
    print(json.dumps(obj), flush=True)


def handshake(ih):
    return b"\x13BitTorrent protocol" + b"\0" * 8 + ih + b"-EV0001-" + os.urandom(12)


def msg(mid, payload=b""):
    return struct.pack(">IB", 1 + len(payload), mid) + payload


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def serve(mode, torrent):
    ih, count, plen = torrent_facts(torrent)
    ls = socket.socket()
    # 127.0.0.2: a different address from the honest peers on 127.0.0.1,
    # since clients ban by IP address.
    ls.bind(("127.0.0.2", 0))
    ls.listen(8)
    host, port = ls.getsockname()
    emit({"event": "listening", "host": host, "port": port})
    while True:
        conn, _ = ls.accept()
        try:
            theirs = recv_exact(conn, 68)
            if theirs[28:48] != ih:
                conn.close()
                continue
            conn.sendall(handshake(ih))
            bits = bytearray((count + 7) // 8)
            for i in range(count):
                bits[i // 8] |= 0x80 >> (i % 8)
            conn.sendall(msg(5, bytes(bits)) + msg(1))  # bitfield, unchoke
            while True:
                (length,) = struct.unpack(">I", recv_exact(conn, 4))
                body = recv_exact(conn, length) if length else b""
                if not body:
                    continue
                if body[0] == 6 and mode == "corrupt":
                    index, begin, n = struct.unpack(">III", body[1:13])
                    conn.sendall(msg(7, struct.pack(">II", index, begin) + os.urandom(n)))
                # stall: read and ignore everything
        except (ConnectionError, OSError, struct.error):
            pass
        finally:
            conn.close()


def attack(mode, torrent, target):
    ih, count, plen = torrent_facts(torrent)
    host, port = target.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    closed = False
    try:
        if mode == "junk":
            s.sendall(os.urandom(4096))
        else:
            s.sendall(handshake(ih))
            recv_exact(s, 68)
            if mode == "garbage":
                frames = [
                    struct.pack(">I", 0xFFFFFFF0) + b"\x07",        # huge length
                    msg(4, b"\x00"),                                 # short have
                    msg(99, b"unknown id"),                          # unknown message
                    msg(5, b"\xff" * 10000),                         # wrong bitfield size
                    msg(6, struct.pack(">III", count + 5, 0, 16384)),  # out of range
                    msg(6, struct.pack(">III", 0, 0, 1 << 20)),      # oversized request
                    msg(20, b"\x00d1:md"),                           # broken extension handshake
                ]
                for f in frames:
                    s.sendall(f)
            elif mode == "flood":
                s.sendall(msg(2))  # interested
                batch = b"".join(
                    msg(6, struct.pack(">III", i % (count + 3), 0, 16384))
                    for i in range(1000))
                for _ in range(100):
                    s.sendall(batch)
        # Drain until the peer closes or goes quiet.
        s.settimeout(5)
        while True:
            if not s.recv(65536):
                closed = True
                break
    except (ConnectionError, OSError, socket.timeout):
        closed = True
    emit({"event": "done", "closed_by_peer": closed})


def main(argv):
    if len(argv) == 4 and argv[1] == "serve":
        serve(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "attack":
        attack(argv[2], argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
