//! UDP tracker (BEP 15) packets, both directions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_tracker_proto::fuzz_udp_packet(data);
});
