//! C2SP signed notes, checkpoints and tlog-proofs: parsing never panics and
//! what parses re-encodes to the same bytes and parses the same.
#![no_main]

use btl_tlog::{Checkpoint, Note, TlogProof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        let text = note.to_text();
        assert_eq!(text.as_bytes(), data);
        if let Ok(cp) = Checkpoint::parse(note.text()) {
            assert_eq!(cp.to_text(), note.text());
        }
    }
    if let Ok(p) = TlogProof::parse(data) {
        let again = TlogProof::parse(p.to_text().as_bytes()).expect("re-encoded proof parses");
        assert_eq!(again, p);
    }
});
