//! btl-consensus: the validator relay body decoder (see
//! `btl_consensus::relay::fuzz_frames`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_consensus::relay::fuzz_frames(data);
});
