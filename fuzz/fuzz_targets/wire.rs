//! Peer wire bytes: handshakes, frames and extension messages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_wire::fuzz_decode(data);
});
