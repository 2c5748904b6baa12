//! A .prov file or a signed manifest: parsed within bounds and checked
//! field by field (signature excluded), or refused with an error; any JSON
//! the parser accepts canonicalizes (JCS) to a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_manifest::fuzz_prov(data);
});
