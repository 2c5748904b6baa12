//! btl-ledger: see `btl_ledger::fuzz::fuzz_sig_batch` for the invariant checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_ledger::fuzz::fuzz_sig_batch(data);
});
