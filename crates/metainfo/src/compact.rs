//! The compact binary torrent format (`.btl`).
