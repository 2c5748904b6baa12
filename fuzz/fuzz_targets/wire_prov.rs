//! `btl_prov` extension messages (provenance document exchange).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_wire::prov::fuzz_prov(data);
});
