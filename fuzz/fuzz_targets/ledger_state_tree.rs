//! btl-ledger: see `btl_ledger::fuzz::fuzz_state_tree` for the invariant checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_ledger::fuzz::fuzz_state_tree(data);
});
