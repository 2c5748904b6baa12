//! The tracker's saved-swarms file (`btl tracker --state`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_tracker_proto::fuzz_tracker_state(data);
});
