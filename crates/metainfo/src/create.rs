//! Torrent creation: hashing files into v1, v2 and hybrid torrents.
