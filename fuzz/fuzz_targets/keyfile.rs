//! A key file (`btl key`): parsed within its size bound and checked, or
//! refused with an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_keystore::fuzz_key_file(data);
});
