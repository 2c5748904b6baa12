//! The node's config file and saved torrent list: arbitrary bytes never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_node::fuzz_inputs(data);
});
