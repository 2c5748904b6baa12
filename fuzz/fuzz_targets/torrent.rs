//! A .torrent file: parsed and validated, or refused with an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_metainfo::torrent::fuzz_torrent(data);
});
