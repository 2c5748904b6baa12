//! btl-ledger: see `btl_ledger::fuzz::fuzz_tx` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_ledger::fuzz::fuzz_tx(data);
});
