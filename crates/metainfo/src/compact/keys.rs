//! The static table of well-known dictionary keys (format version 1).
//!
//! A key found here is written as its 1-based position in this table. The
//! table is part of the format: entries may never be reordered or removed,
//! and new entries need a new format version.

/// Well-known keys, in table order (index 0 is key code 1).
pub(crate) const STATIC_KEYS: &[&[u8]] = &[
    b"info",                // 1
    b"name",                // 2
    b"piece length",        // 3
    b"pieces",              // 4
    b"length",              // 5
    b"path",                // 6
    b"files",               // 7
    b"file tree",           // 8
    b"pieces root",         // 9
    b"piece layers",        // 10
    b"meta version",        // 11
    b"announce",            // 12
    b"announce-list",       // 13
    b"url-list",            // 14
    b"httpseeds",           // 15
    b"nodes",               // 16
    b"comment",             // 17
    b"created by",          // 18
    b"creation date",       // 19
    b"encoding",            // 20
    b"private",             // 21
    b"attr",                // 22
    b"source",              // 23
    b"",                    // 24 (BEP 52 file tree leaf)
    b"md5sum",              // 25
    b"sha1",                // 26
    b"sha256",              // 27
    b"symlink path",        // 28
    b"name.utf-8",          // 29
    b"path.utf-8",          // 30
    b"comment.utf-8",       // 31
    b"publisher",           // 32
    b"publisher-url",       // 33
    b"publisher.utf-8",     // 34
    b"publisher-url.utf-8", // 35
    b"mtime",               // 36
    b"ed2k",                // 37
    b"filehash",            // 38
    b"similar",             // 39
    b"collections",         // 40
    b"update-url",          // 41
    b"x_cross_seed",        // 42
];

/// The key code (1-based) of a well-known key, if it is one.
pub(crate) fn static_code(key: &[u8]) -> Option<u64> {
    STATIC_KEYS
        .iter()
        .position(|k| *k == key)
        .map(|i| i as u64 + 1)
}

/// The key for a 1-based code, if the code is in the table.
pub(crate) fn static_key(code: u64) -> Option<&'static [u8]> {
    let i = usize::try_from(code.checked_sub(1)?).ok()?;
    STATIC_KEYS.get(i).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_unique_and_round_trips() {
        for (i, k) in STATIC_KEYS.iter().enumerate() {
            assert_eq!(static_code(k), Some(i as u64 + 1));
            assert_eq!(static_key(i as u64 + 1), Some(*k));
        }
        assert_eq!(static_key(0), None);
        assert_eq!(static_key(STATIC_KEYS.len() as u64 + 1), None);
    }
}
