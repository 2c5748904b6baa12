//! A magnet link: parsed, and what parses re-encodes and parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_metainfo::magnet::fuzz_magnet(data);
});
