//! The resume journal: replaying arbitrary bytes never panics and never
//! allocates past the (capped) piece count.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_store::fuzz_journal(data);
});
