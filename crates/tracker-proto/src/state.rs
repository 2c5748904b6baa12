//! The tracker's saved-swarms file (`btl tracker --state FILE`), sans-IO:
//! the server writes it periodically and at shutdown, and reads it back at
//! start so that a restart does not forget its swarms.
//!
//! ```text
//! "BTLTRK01"                                   8 bytes, magic and version
//! per torrent:
//!   info_hash [20] | downloaded u32 | peer count u32
//!   per peer (39 bytes):
//!     ip [16] (IPv4 mapped) | port u16 | flags u8 (bit 0: seeder) | peer_id [20]
//! ```
//!
//! All integers are big-endian. Reading stops at the first truncated
//! record (a torn write of an older version), keeping what came before,
//! and says so; nothing is allocated per record, so a hostile or corrupt
//! file costs at most one pass over its bytes. The encoding is pinned by a
//! golden vector below.

use crate::InfoHash;

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"BTLTRK01";

/// Bytes of one saved peer.
pub const PEER_LEN: usize = 16 + 2 + 1 + 20;
/// Bytes of a torrent record's header.
pub const TORRENT_LEN: usize = 20 + 4 + 4;

/// One saved peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedPeer {
    /// IPv6, or IPv4-mapped IPv6.
    pub ip: [u8; 16],
    /// Listening port.
    pub port: u16,
    /// Whether it had the whole torrent.
    pub seeder: bool,
    /// Its peer id.
    pub id: [u8; 20],
}

/// Why a saved-swarms file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The file does not start with [`MAGIC`].
    #[error("not a btl tracker state file (bad magic); move it away to start empty")]
    BadMagic,
}

/// What [`decode`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decoded {
    /// Torrent records read whole.
    pub torrents: u64,
    /// Peers read.
    pub peers: u64,
    /// Whether the file ended inside a record (that record was dropped).
    pub truncated: bool,
}

/// Appends the file header.
pub fn encode_header(out: &mut Vec<u8>) {
    out.extend_from_slice(MAGIC);
}

/// Appends one torrent's record. At most `u32::MAX` peers are written.
pub fn encode_torrent<'a>(
    out: &mut Vec<u8>,
    info_hash: &InfoHash,
    downloaded: u32,
    peers: impl ExactSizeIterator<Item = &'a SavedPeer>,
) {
    let n = u32::try_from(peers.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(info_hash);
    out.extend_from_slice(&downloaded.to_be_bytes());
    out.extend_from_slice(&n.to_be_bytes());
    for p in peers.take(n as usize) {
        out.extend_from_slice(&p.ip);
        out.extend_from_slice(&p.port.to_be_bytes());
        out.push(u8::from(p.seeder));
        out.extend_from_slice(&p.id);
    }
}

/// Reads a file's bytes, calling `peer(info_hash, downloaded, peer)` for
/// every saved peer (and `torrent(info_hash, downloaded)` for every
/// torrent record, peers or not).
pub fn decode(
    bytes: &[u8],
    mut torrent: impl FnMut(&InfoHash, u32),
    mut peer: impl FnMut(&InfoHash, u32, SavedPeer),
) -> Result<Decoded, StateError> {
    let mut rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or(StateError::BadMagic)?;
    let mut d = Decoded::default();
    while !rest.is_empty() {
        let Some((head, body)) = rest.split_first_chunk::<TORRENT_LEN>() else {
            d.truncated = true;
            break;
        };
        let mut h = [0u8; 20];
        h.copy_from_slice(&head[..20]);
        let downloaded = u32::from_be_bytes([head[20], head[21], head[22], head[23]]);
        let n = u32::from_be_bytes([head[24], head[25], head[26], head[27]]) as usize;
        let Some(need) = n.checked_mul(PEER_LEN).filter(|&need| need <= body.len()) else {
            d.truncated = true;
            break;
        };
        torrent(&h, downloaded);
        d.torrents += 1;
        for c in body[..need].chunks_exact(PEER_LEN) {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&c[..16]);
            let mut id = [0u8; 20];
            id.copy_from_slice(&c[19..39]);
            peer(
                &h,
                downloaded,
                SavedPeer {
                    ip,
                    port: u16::from_be_bytes([c[16], c[17]]),
                    seeder: c[18] & 1 == 1,
                    id,
                },
            );
            d.peers += 1;
        }
        rest = &body[need..];
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn peers() -> Vec<SavedPeer> {
        let mut v4 = [0u8; 16];
        v4[10] = 0xff;
        v4[11] = 0xff;
        v4[12..].copy_from_slice(&[10, 0, 0, 1]);
        let mut v6 = [0u8; 16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[15] = 1;
        vec![
            SavedPeer {
                ip: v4,
                port: 6881,
                seeder: true,
                id: *b"-BL0100-aaaaaaaaaaaa",
            },
            SavedPeer {
                ip: v6,
                port: 51413,
                seeder: false,
                id: *b"-TR3000-bbbbbbbbbbbb",
            },
        ]
    }

    /// The stored format must never change by accident.
    #[test]
    fn golden_vector() {
        let mut out = Vec::new();
        encode_header(&mut out);
        encode_torrent(&mut out, &[0xab; 20], 7, peers().iter());
        encode_torrent(&mut out, &[0x01; 20], 0, [].iter());
        let want = concat!(
            "42544c54524b3031",
            "abababababababababababababababababababab",
            "00000007",
            "00000002",
            "00000000000000000000ffff0a000001",
            "1ae1",
            "01",
            "2d424c303130302d616161616161616161616161",
            "20010000000000000000000000000001",
            "c8d5",
            "00",
            "2d5452333030302d626262626262626262626262",
            "0101010101010101010101010101010101010101",
            "00000000",
            "00000000",
        );
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, want);
        let mut got = Vec::new();
        let mut torrents = Vec::new();
        let d = decode(
            &out,
            |h, dl| torrents.push((*h, dl)),
            |h, dl, p| got.push((*h, dl, p)),
        )
        .unwrap();
        assert_eq!(
            d,
            Decoded {
                torrents: 2,
                peers: 2,
                truncated: false
            }
        );
        assert_eq!(torrents, vec![([0xab; 20], 7), ([1; 20], 0)]);
        let want_peers: Vec<_> = peers().into_iter().map(|p| ([0xab; 20], 7, p)).collect();
        assert_eq!(got, want_peers);
    }

    #[test]
    fn truncated_files_keep_what_came_before() {
        let mut out = Vec::new();
        encode_header(&mut out);
        encode_torrent(&mut out, &[1; 20], 1, peers().iter());
        let whole = out.len();
        encode_torrent(&mut out, &[2; 20], 2, peers().iter());
        for cut in whole + 1..out.len() {
            let mut n = 0;
            let d = decode(
                &out[..cut],
                |_, _| {},
                |h, _, _| {
                    assert_eq!(h, &[1; 20]);
                    n += 1;
                },
            )
            .unwrap();
            assert_eq!(
                (d.torrents, d.peers, d.truncated, n),
                (1, 2, true, 2),
                "cut at {cut}"
            );
        }
        assert_eq!(
            decode(b"BTLTRK02", |_, _| {}, |_, _, _| {}),
            Err(StateError::BadMagic)
        );
        assert_eq!(
            decode(b"", |_, _| {}, |_, _, _| {}),
            Err(StateError::BadMagic)
        );
        assert_eq!(
            decode(MAGIC, |_, _| {}, |_, _, _| {}),
            Ok(Decoded::default())
        );
        // A count that claims more peers than the file holds.
        let mut lying = MAGIC.to_vec();
        lying.extend_from_slice(&[3; 20]);
        lying.extend_from_slice(&0u32.to_be_bytes());
        lying.extend_from_slice(&u32::MAX.to_be_bytes());
        let d = decode(&lying, |_, _| {}, |_, _, _| panic!("no peer")).unwrap();
        assert!(d.truncated && d.torrents == 0);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(0u8.., 0..400)) {
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend(&data);
            let _ = decode(&data, |_, _| {}, |_, _, _| {});
            let _ = decode(&with_magic, |_, _| {}, |_, _, _| {});
        }
    }
}
