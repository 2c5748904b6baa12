//! The byte encoding of the resume journal (see the diagram in the
//! [module docs](super)). Pure: no I/O.

use btl_types::Sha1Hash;

/// The first 8 bytes of every journal.
pub(crate) const MAGIC: [u8; 8] = *b"BTLRSUME";
/// The only format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Length of the header in bytes.
pub(crate) const HEADER_LEN: usize = 48;
/// Length of every record in bytes.
pub(crate) const RECORD_LEN: usize = 32;
/// Pieces covered by one [`Record::HaveBits`] record.
pub(crate) const BITS_PER_RECORD: u32 = 160;

/// Record kinds (byte 0 of a record).
mod kind {
    pub const VERIFIED: u8 = 1;
    pub const BARRIER: u8 = 2;
    pub const FILE_STAMP: u8 = 3;
    pub const CLEAN_SHUTDOWN: u8 = 4;
    pub const DIRTY: u8 = 5;
    pub const HAVE_BITS: u8 = 6;
    pub const RECHECK_BITS: u8 = 7;
    pub const FORGET: u8 = 8;
}

/// The journal header: which torrent the journal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub piece_count: u32,
    pub file_count: u32,
    pub id: Sha1Hash,
}

/// Why a header could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Fewer than [`HEADER_LEN`] bytes.
    Short,
    /// Not a journal.
    Magic,
    /// Another format version.
    Version(u32),
    /// The CRC does not match (torn or corrupt).
    Crc,
    /// The reserved field is not zero.
    Reserved,
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.piece_count.to_le_bytes());
        b[16..20].copy_from_slice(&self.file_count.to_le_bytes());
        b[20..40].copy_from_slice(&self.id.0);
        // 40..44 reserved, zero.
        let crc = crc32(&b[..44]);
        b[44..48].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8]) -> Result<Header, HeaderError> {
        let b: &[u8; HEADER_LEN] = b
            .get(..HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(HeaderError::Short)?;
        if b[0..8] != MAGIC {
            return Err(HeaderError::Magic);
        }
        let version = u32_at(b, 8);
        if version != FORMAT_VERSION {
            return Err(HeaderError::Version(version));
        }
        if crc32(&b[..44]) != u32_at(b, 44) {
            return Err(HeaderError::Crc);
        }
        if u32_at(b, 40) != 0 {
            return Err(HeaderError::Reserved);
        }
        let mut id = [0u8; 20];
        id.copy_from_slice(&b[20..40]);
        Ok(Header {
            piece_count: u32_at(b, 12),
            file_count: u32_at(b, 16),
            id: Sha1Hash(id),
        })
    }
}

/// A file's size and modification time, as `stat` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, whole seconds since the Unix epoch.
    pub mtime_secs: i64,
    /// Nanoseconds part of the modification time.
    pub mtime_nanos: u32,
}

/// One journal record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// Piece `piece` was verified and written.
    Verified { piece: u32 },
    /// Everything before this record is durable.
    Barrier,
    /// File `file` looked like this at the barrier that follows.
    FileStamp { file: u32, stamp: FileStamp },
    /// The session ended cleanly.
    CleanShutdown,
    /// File `file` is about to be written (after the last barrier).
    Dirty { file: u32 },
    /// Pieces `first..first + 160` as BEP 3 bits (snapshot form of many
    /// `Verified` records).
    HaveBits { first: u32, bits: [u8; 20] },
    /// Pieces `first..first + 160` must be verified again before they are
    /// trusted (snapshot form; not promoted by barriers).
    RecheckBits { first: u32, bits: [u8; 20] },
    /// Piece `piece` is no longer had (effective at once, no barrier
    /// needed).
    Forget { piece: u32 },
}

impl Record {
    pub(crate) fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        match *self {
            Record::Verified { piece } => {
                b[0] = kind::VERIFIED;
                b[4..8].copy_from_slice(&piece.to_le_bytes());
            }
            Record::Barrier => b[0] = kind::BARRIER,
            Record::FileStamp { file, stamp } => {
                b[0] = kind::FILE_STAMP;
                b[4..8].copy_from_slice(&file.to_le_bytes());
                b[8..16].copy_from_slice(&stamp.size.to_le_bytes());
                b[16..24].copy_from_slice(&stamp.mtime_secs.to_le_bytes());
                b[24..28].copy_from_slice(&stamp.mtime_nanos.to_le_bytes());
            }
            Record::CleanShutdown => b[0] = kind::CLEAN_SHUTDOWN,
            Record::Dirty { file } => {
                b[0] = kind::DIRTY;
                b[4..8].copy_from_slice(&file.to_le_bytes());
            }
            Record::HaveBits { first, bits } | Record::RecheckBits { first, bits } => {
                b[0] = if matches!(self, Record::HaveBits { .. }) {
                    kind::HAVE_BITS
                } else {
                    kind::RECHECK_BITS
                };
                b[4..8].copy_from_slice(&first.to_le_bytes());
                b[8..28].copy_from_slice(&bits);
            }
            Record::Forget { piece } => {
                b[0] = kind::FORGET;
                b[4..8].copy_from_slice(&piece.to_le_bytes());
            }
        }
        let crc = crc32(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes one record; `None` if it is torn, corrupt or unknown
    /// (bad CRC, unknown kind, non-zero reserved or unused bytes).
    pub(crate) fn decode(b: &[u8]) -> Option<Record> {
        let b: &[u8; RECORD_LEN] = b.get(..RECORD_LEN)?.try_into().ok()?;
        if crc32(&b[..28]) != u32_at(b, 28) || b[1..4] != [0; 3] {
            return None;
        }
        let zero_from = |i: usize| b[i..28].iter().all(|&x| x == 0);
        let r = match b[0] {
            kind::VERIFIED if zero_from(8) => Record::Verified {
                piece: u32_at(b, 4),
            },
            kind::BARRIER if zero_from(4) => Record::Barrier,
            kind::FILE_STAMP => Record::FileStamp {
                file: u32_at(b, 4),
                stamp: FileStamp {
                    size: u64::from_le_bytes(arr(b, 8)),
                    mtime_secs: i64::from_le_bytes(arr(b, 16)),
                    mtime_nanos: u32_at(b, 24),
                },
            },
            kind::CLEAN_SHUTDOWN if zero_from(4) => Record::CleanShutdown,
            kind::DIRTY if zero_from(8) => Record::Dirty { file: u32_at(b, 4) },
            kind::HAVE_BITS => Record::HaveBits {
                first: u32_at(b, 4),
                bits: arr(b, 8),
            },
            kind::RECHECK_BITS => Record::RecheckBits {
                first: u32_at(b, 4),
                bits: arr(b, 8),
            },
            kind::FORGET if zero_from(8) => Record::Forget {
                piece: u32_at(b, 4),
            },
            _ => return None,
        };
        Some(r)
    }
}

fn arr<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = b.get(at..at + N) {
        out.copy_from_slice(s);
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(arr(b, at))
}

/// CRC-32/ISO-HDLC (the zlib, PNG and Ethernet CRC): reflected polynomial
/// `0xEDB88320`, initial value and final XOR `0xFFFFFFFF`.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc = CRC_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn crc_check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    /// Golden vectors: these bytes are the on-disk format (cross-checked
    /// against an independent encoder built on Python's `zlib.crc32`). If this test
    /// fails, the encoding changed: bump [`FORMAT_VERSION`] instead.
    #[test]
    fn golden_vectors() {
        let header = Header {
            piece_count: 1000,
            file_count: 3,
            id: Sha1Hash([0x11; 20]),
        };
        assert_eq!(hex(&header.encode()), GOLDEN_HEADER);
        let stamp = FileStamp {
            size: 0x0102_0304_0506,
            mtime_secs: 1_700_000_000,
            mtime_nanos: 123_456_789,
        };
        let mut bits = [0u8; 20];
        bits[0] = 0x80;
        bits[19] = 0x01;
        let records = [
            Record::Verified { piece: 7 },
            Record::Barrier,
            Record::FileStamp { file: 2, stamp },
            Record::CleanShutdown,
            Record::Dirty { file: 1 },
            Record::HaveBits { first: 160, bits },
            Record::RecheckBits { first: 320, bits },
            Record::Forget { piece: 9 },
        ];
        for (r, want) in records.iter().zip(GOLDEN_RECORDS) {
            let enc = r.encode();
            assert_eq!(hex(&enc), want, "{r:?}");
            assert_eq!(Record::decode(&enc), Some(*r));
        }
        assert_eq!(Header::decode(&header.encode()), Ok(header));
    }

    const GOLDEN_HEADER: &str = concat!(
        "42544c5253554d45",                         // "BTLRSUME"
        "01000000",                                 // format version 1
        "e8030000",                                 // 1000 pieces
        "03000000",                                 // 3 files
        "1111111111111111111111111111111111111111", // torrent id
        "00000000",                                 // reserved
        "3586e2a2",                                 // CRC-32 of the 44 bytes above
    );

    const GOLDEN_RECORDS: [&str; 8] = [
        // Verified(7)
        "0100000007000000000000000000000000000000000000000000000083bdddb0",
        // Barrier
        "02000000000000000000000000000000000000000000000000000000d38d1b83",
        // FileStamp(2, size 0x010203040506, mtime 1700000000.123456789)
        "0300000002000000060504030201000000f153650000000015cd5b07292c54b2",
        // CleanShutdown
        "040000000000000000000000000000000000000000000000000000009d83a786",
        // Dirty(1)
        "05000000010000000000000000000000000000000000000000000000a71b3706",
        // HaveBits(160, 0x80 .. 0x01)
        "06000000a000000080000000000000000000000000000000000000010d02552a",
        // RecheckBits(320, 0x80 .. 0x01)
        "0700000040010000800000000000000000000000000000000000000161e42025",
        // Forget(9)
        "0800000009000000000000000000000000000000000000000000000098c6f7de",
    ];

    #[test]
    fn damage_is_detected() {
        let enc = Record::Verified { piece: 3 }.encode();
        for i in 0..RECORD_LEN {
            for bit in 0..8 {
                let mut b = enc;
                b[i] ^= 1 << bit;
                assert_eq!(Record::decode(&b), None, "byte {i} bit {bit}");
            }
        }
        assert_eq!(Record::decode(&[0u8; RECORD_LEN]), None);
        assert_eq!(Record::decode(&enc[..31]), None);
        let h = Header {
            piece_count: 1,
            file_count: 1,
            id: Sha1Hash([0; 20]),
        }
        .encode();
        let mut bad = h;
        bad[30] ^= 1;
        assert_eq!(Header::decode(&bad), Err(HeaderError::Crc));
        bad = h;
        bad[0] = b'X';
        assert_eq!(Header::decode(&bad), Err(HeaderError::Magic));
        bad = h;
        bad[8] = 2;
        assert_eq!(Header::decode(&bad), Err(HeaderError::Version(2)));
        assert_eq!(Header::decode(&h[..47]), Err(HeaderError::Short));
    }
}
