//! Parsed `.torrent` files and their validation.
