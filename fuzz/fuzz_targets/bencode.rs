//! Any input: the decoder returns or errs, never panics; what it accepts
//! re-encodes to the same bytes (the decoder is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = btl_bencode::decode(data) {
        let mut again = Vec::new();
        v.encode_to(&mut again);
        assert_eq!(again, data);
        assert_eq!(v.to_owned_value().encode(), data);
    }
});
