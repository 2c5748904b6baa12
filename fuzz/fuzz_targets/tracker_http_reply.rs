//! HTTP reply framing as the tracker client reads it (Content-Length,
//! chunked, until close).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_tracker_proto::fuzz_http_reply(data);
});
