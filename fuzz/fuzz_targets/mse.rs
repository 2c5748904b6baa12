//! MSE/PE handshakes: a responder (and a keyed continuation) fed arbitrary
//! bytes never panics and never buffers past the spec's bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_wire::mse::fuzz_mse(data);
});
