//! Piece verification (v1, v2, hybrid) and the parallel recheck.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

use btl_metainfo::merkle;
use btl_metainfo::torrent::Torrent;
use btl_store::{block_leaves, recheck, verify_piece, Bitfield, PieceCheck, PieceHashes};
use common::{multi, single, v1_odd, Fixture, Version};
use proptest::prelude::*;

const PL: u64 = 16384;

fn files() -> Vec<(&'static str, usize)> {
    // a: 3 pieces (layer), b: under one piece (root), c: exactly one piece
    // (root), d: empty.
    vec![("a", 40_000), ("b", 5_000), ("c", 16_384), ("d", 0)]
}

fn fixture(version: Version) -> Fixture {
    multi(&files(), version, PL)
}

fn hashes(t: &Torrent) -> PieceHashes {
    PieceHashes::from_torrent(t).unwrap()
}

#[test]
fn good_pieces_verify_bad_ones_do_not() {
    for version in [Version::V1, Version::V2, Version::Hybrid] {
        let fx = fixture(version);
        let h = hashes(&fx.torrent);
        let pieces = fx.pieces();
        assert_eq!(h.piece_count() as usize, pieces.len());
        for (p, data) in pieces.iter().enumerate() {
            let p = p as u32;
            assert!(h.can_verify(p));
            assert!(verify_piece(&h, p, data), "{version:?} piece {p}");
            assert_eq!(h.piece_len(p), Some(data.len() as u32));
            let mut bad = data.clone();
            bad[data.len() / 2] ^= 1;
            assert!(!verify_piece(&h, p, &bad), "{version:?} piece {p}");
            assert!(!verify_piece(&h, p, &data[..data.len() - 1]));
            let mut long = data.clone();
            long.push(0);
            assert!(!verify_piece(&h, p, &long));
            // Another piece's data does not verify.
            let other = &pieces[(p as usize + 1) % pieces.len()];
            assert!(!verify_piece(&h, p, other));
        }
        let n = h.piece_count();
        assert!(!verify_piece(&h, n, &pieces[0]));
        assert!(!h.can_verify(n));
    }
}

#[test]
fn v2_expectations() {
    let fx = fixture(Version::V2);
    let h = hashes(&fx.torrent);
    let f = fx.torrent.files();
    let root = |i: usize| f[i].pieces_root.unwrap();
    let layer = fx.torrent.piece_layer(&root(0)).unwrap();
    // a: pieces 0..3 from its layer; b and c: their roots.
    assert_eq!(h.v2_hash(0), Some(layer[0]));
    assert_eq!(h.v2_hash(2), Some(layer[2]));
    assert_eq!(h.v2_hash(3), Some(root(1)));
    assert_eq!(h.v2_hash(4), Some(root(2)));
    assert_eq!(h.v2_len(2), Some(40_000 - 32_768));
    assert_eq!(h.v1_hash(0), None);
    // The leaves of a layer piece hash up to its layer entry.
    let pieces = fx.pieces();
    let leaves = block_leaves(&pieces[0]);
    assert_eq!(leaves.len(), 1);
    assert_eq!(leaves[0], merkle::hash_block(&pieces[0]));
    assert_eq!(merkle::piece_hash_from_leaves(&leaves, 1), Some(layer[0]));
    assert_eq!(block_leaves(&[]), vec![]);
    assert_eq!(block_leaves(&vec![1; 16385]).len(), 2);
}

#[test]
fn v2_with_multi_block_pieces() {
    // 64 KiB pieces: 4 leaves per piece, the short last piece is padded
    // with zero leaves; a 20 000-byte file is its own root over 2 leaves.
    let fx = multi(&[("a", 150_000), ("b", 20_000)], Version::V2, 65_536);
    let h = hashes(&fx.torrent);
    for (p, data) in fx.pieces().iter().enumerate() {
        assert!(verify_piece(&h, p as u32, data), "piece {p}");
    }
}

#[test]
fn hybrid_checks_both_halves() {
    let fx = fixture(Version::Hybrid);
    let v2 = fixture(Version::V2);
    let h = hashes(&fx.torrent);
    let h2 = hashes(&v2.torrent);
    // Same files, same piece length: same v2 expectations per piece.
    for p in 0..h.piece_count() {
        assert_eq!(h.v2_hash(p), h2.v2_hash(p), "piece {p}");
        assert!(h.v1_hash(p).is_some());
    }
    // Piece 2 is a's last 7232 bytes then pad zeros. Non-zero pad bytes
    // leave the v2 half intact but break the v1 hash.
    let mut piece = fx.pieces()[2].clone();
    let v2_len = h.v2_len(2).unwrap() as usize;
    assert_eq!(v2_len, 40_000 - 32_768);
    assert!(piece[v2_len..].iter().all(|&b| b == 0));
    assert!(verify_piece(&h2, 2, &piece[..v2_len]));
    piece[v2_len + 5] = 1;
    assert!(!verify_piece(&h, 2, &piece));
}

#[test]
fn unknown_piece_layers() {
    // From the info dictionary alone (a magnet download), layers are not
    // known: hybrids fall back to v1, v2-only pieces of multi-piece files
    // cannot be verified yet; single-piece files verify by their root.
    let hy = fixture(Version::Hybrid);
    let t = Torrent::from_info_bytes(hy.torrent.info_bytes()).unwrap();
    let h = hashes(&t);
    assert_eq!(h.v2_hash(0), None);
    for (p, data) in hy.pieces().iter().enumerate() {
        assert!(h.can_verify(p as u32));
        assert!(verify_piece(&h, p as u32, data));
    }

    let v2 = fixture(Version::V2);
    let mut t = Torrent::from_info_bytes(v2.torrent.info_bytes()).unwrap();
    let h = hashes(&t);
    let pieces = v2.pieces();
    assert!(!h.can_verify(0));
    assert!(!verify_piece(&h, 0, &pieces[0]));
    assert!(verify_piece(&h, 3, &pieces[3]));
    // Once the layer arrives, rebuilding the hashes makes them checkable.
    let root = v2.torrent.files()[0].pieces_root.unwrap();
    let layer = v2.torrent.piece_layer(&root).unwrap().to_vec();
    t.insert_piece_layer(root, &layer).unwrap();
    let rebuilt = hashes(&t);
    assert!(verify_piece(&rebuilt, 0, &pieces[0]));
    // Updating in place gives the same result as rebuilding.
    let mut h = h;
    assert_eq!(h.add_piece_layer(&t, &root), layer.len() as u32);
    assert_eq!(h, rebuilt);
    assert_eq!(
        h.add_piece_layer(&t, &v2.torrent.info_hashes().v2().unwrap()),
        0
    );
}

#[test]
fn single_file_torrents() {
    for version in [Version::V1, Version::V2, Version::Hybrid] {
        let fx = single(50_000, version, PL);
        let h = hashes(&fx.torrent);
        for (p, data) in fx.pieces().iter().enumerate() {
            assert!(verify_piece(&h, p as u32, data), "{version:?} {p}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Feeding a piece in arbitrary slices gives the same verdict as
    /// verifying it whole.
    #[test]
    fn incremental_check_matches(cuts in prop::collection::vec(0usize..70_000, 0..6), flip in any::<bool>()) {
        let fx = multi(&[("a", 70_000), ("b", 3_000)], Version::Hybrid, 65_536);
        let h = hashes(&fx.torrent);
        for (p, data) in fx.pieces().iter().enumerate() {
            let mut data = data.clone();
            if flip {
                let i = cuts.first().copied().unwrap_or(0) % data.len();
                data[i] ^= 0x40;
            }
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            let mut check = PieceCheck::new(&h, p as u32);
            for w in cuts.windows(2) {
                check.update(&data[w[0]..w[1]]);
            }
            prop_assert_eq!(check.finish(), verify_piece(&h, p as u32, &data));
            prop_assert_eq!(verify_piece(&h, p as u32, &data), !flip);
        }
    }
}

#[test]
fn recheck_finds_good_and_bad_pieces() {
    for version in [Version::V1, Version::V2, Version::Hybrid] {
        let fx = fixture(version);
        let h = hashes(&fx.torrent);
        let src = fx.source();
        let n = h.piece_count();
        let full = recheck(&src, &h, 0..n, 2, &|_, _| {});
        assert_eq!(full, Bitfield::full(n), "{version:?}");

        // Corrupt one byte of b (piece 3 in every version: a takes 0..3,
        // pads align b in the hybrid, v1 is contiguous: b starts at 40 000,
        // which is in piece 2 for v1).
        let b = fx.src_root.join("payload/b");
        fs::File::options()
            .write(true)
            .open(&b)
            .unwrap()
            .write_all_at(&[0xFF ^ fs::read(&b).unwrap()[100]], 100)
            .unwrap();
        let bad_piece = ((src.layout().files().iter().find(|f| f.path.ends_with("b")))
            .unwrap()
            .offset
            + 100)
            / PL;
        let calls = Mutex::new(Vec::new());
        let got = recheck(&src, &h, 0..n, 3, &|done, total| {
            calls.lock().unwrap().push((done, total));
        });
        let mut want = Bitfield::full(n);
        want.set(bad_piece as u32, false);
        assert_eq!(got, want, "{version:?}");
        let calls = calls.into_inner().unwrap();
        let total: u64 = (0..n).map(|p| u64::from(h.piece_len(p).unwrap())).sum();
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "{calls:?}");
        assert_eq!(calls.last(), Some(&(total, total)));
        assert!(calls.iter().all(|&(_, t)| t == total));

        // A subset, with one thread; out-of-range indexes are ignored.
        let some = recheck(
            &src,
            &h,
            [0, bad_piece as u32, 999].into_iter(),
            1,
            &|_, _| {},
        );
        assert_eq!(some.iter_ones().collect::<Vec<_>>(), vec![0]);
    }
}

#[test]
fn recheck_of_missing_files_finds_nothing_there() {
    let fx = v1_odd("t", &[("a", 1000), ("b", 1000)], 300);
    let h = hashes(&fx.torrent);
    let src = fx.source();
    fs::remove_file(fx.src_root.join("t/b")).unwrap();
    let got = recheck(&src, &h, 0..h.piece_count(), 2, &|_, _| {});
    // Pieces 0..3 are all in a; piece 3 (900..1200) straddles a and b.
    assert_eq!(got.iter_ones().collect::<Vec<_>>(), vec![0, 1, 2]);
}
