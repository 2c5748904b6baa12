//! btl-consensus: every consensus, sync and WAL message decoder (see
//! `btl_consensus::codec::fuzz_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_consensus::codec::fuzz_decode(data);
});
