//! BitTorrent metainfo: v1 (BEP 3), v2 (BEP 52) and hybrid torrents, BEP 47
//! pad files, magnet links (BEP 9 / BEP 52), the compact `.btl` format, and
//! torrent creation.
//!
//! Pure: no sockets, no async. Creation reads files (it is the one place that
//! touches the file system) and hashes on all cores.

pub mod compact;
pub mod create;
pub mod magnet;
pub mod merkle;
pub mod torrent;
