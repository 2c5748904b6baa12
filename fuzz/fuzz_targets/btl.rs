//! A compact .btl file: decoded, and what decodes converts back losslessly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    btl_metainfo::compact::fuzz_btl(data);
});
