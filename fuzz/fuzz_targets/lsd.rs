//! BEP 14 local service discovery announces.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_tracker_proto::fuzz_lsd(data);
});
