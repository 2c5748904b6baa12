//! BitTorrent metainfo.
