//! btl-registry: trust files and the ledger replies the client decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_registry::api::fuzz_replies(data);
});
