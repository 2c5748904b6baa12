//! The saved DHT node list: decoding arbitrary bytes never panics, keeps
//! within its bounds, and what it returns survives a re-encoding.
#![no_main]

use btl_store::dht_nodes::{decode, encode, usable, MAX_NODES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(nodes) = decode(data) {
        assert!(nodes.len() <= MAX_NODES);
        assert!(nodes.iter().all(usable));
        assert_eq!(decode(&encode(&nodes)).ok(), Some(nodes));
    }
});
