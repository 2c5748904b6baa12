//! HTTP tracker request heads and announce/scrape queries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_tracker_proto::fuzz_http_request(data);
});
