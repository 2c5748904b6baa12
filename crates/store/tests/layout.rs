//! Layout math: piece lengths, extents and per-file piece ranges for v1
//! (single and multi-file), hybrid with pad files, and v2-only torrents.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use btl_store::{Extent, Layout, StoreError};
use common::{multi, single, v1_odd, Version};
use proptest::prelude::*;

const PL: u64 = 16384;

fn ext(file: usize, file_offset: u64, len: u32, pad: bool) -> Extent {
    Extent {
        file,
        file_offset,
        len,
        pad,
    }
}

fn extents(l: &Layout, piece: u32) -> Vec<Extent> {
    l.extents(piece, 0, l.piece_len(piece).unwrap())
        .unwrap()
        .collect()
}

#[test]
fn v1_single_file() {
    let fx = single(100_000, Version::V1, PL);
    let l = fx.layout();
    assert_eq!(l.piece_count(), 7);
    assert_eq!(l.piece_length(), 16384);
    assert!(!l.is_per_file());
    assert_eq!(l.piece_len(0), Some(16384));
    assert_eq!(l.piece_len(6), Some(100_000 - 6 * 16384));
    assert_eq!(l.piece_len(7), None);
    assert_eq!(extents(&l, 6), vec![ext(0, 6 * 16384, 1696, false)]);
    assert_eq!(
        l.extents(3, 100, 50).unwrap().collect::<Vec<_>>(),
        vec![ext(0, 3 * 16384 + 100, 50, false)]
    );
    assert_eq!(l.file_pieces(0), 0..7);
    assert_eq!(l.files()[0].path, PathBuf::from("single.bin"));
    assert_eq!(l.real_files().count(), 1);
    assert_eq!(l.piece_files(2).collect::<Vec<_>>(), vec![0]);
}

#[test]
fn v1_multi_file_crossing_pieces() {
    // a = 10, b = 0 (empty), c = 25, d/e = 3 with 7-byte pieces: 38 bytes,
    // 6 pieces, the last one 3 bytes.
    let fx = v1_odd("t", &[("a", 10), ("b", 0), ("c", 25), ("d/e", 3)], 7);
    let l = fx.layout();
    assert_eq!(l.piece_count(), 6);
    assert_eq!(l.piece_len(5), Some(3));
    assert_eq!(extents(&l, 0), vec![ext(0, 0, 7, false)]);
    assert_eq!(
        extents(&l, 1),
        vec![ext(0, 7, 3, false), ext(2, 0, 4, false)]
    );
    assert_eq!(extents(&l, 4), vec![ext(2, 18, 7, false)]);
    assert_eq!(extents(&l, 5), vec![ext(3, 0, 3, false)]);
    assert_eq!(l.file_pieces(0), 0..2);
    assert_eq!(l.file_pieces(1), 1..1, "an empty file touches no piece");
    assert_eq!(l.file_pieces(2), 1..5);
    assert_eq!(l.file_pieces(3), 5..6);
    assert_eq!(l.file_pieces(9), 0..0);
    let paths: Vec<_> = l.files().iter().map(|f| f.path.clone()).collect();
    assert_eq!(
        paths,
        ["t/a", "t/b", "t/c", "t/d/e"].map(PathBuf::from).to_vec()
    );
    assert_eq!(l.piece_files(1).collect::<Vec<_>>(), vec![0, 2]);
}

#[test]
fn v1_last_piece_of_multi_file() {
    let fx = v1_odd("t", &[("a", 10), ("b", 4)], 7);
    let l = fx.layout();
    assert_eq!(l.piece_count(), 2);
    assert_eq!(
        extents(&l, 1),
        vec![ext(0, 7, 3, false), ext(1, 0, 4, false)]
    );
}

#[test]
fn hybrid_with_pad_files() {
    let fx = multi(
        &[("a", 20_000), ("b", 5_000), ("c", 16_384)],
        Version::Hybrid,
        PL,
    );
    let l = fx.layout();
    let kinds: Vec<_> = l.files().iter().map(|f| (f.pad, f.length)).collect();
    assert_eq!(
        kinds,
        vec![
            (false, 20_000),
            (true, 12_768),
            (false, 5_000),
            (true, 11_384),
            (false, 16_384)
        ]
    );
    assert_eq!(l.piece_count(), 4);
    assert!((0..4).all(|p| l.piece_len(p) == Some(16384)));
    assert_eq!(extents(&l, 0), vec![ext(0, 0, 16384, false)]);
    assert_eq!(
        extents(&l, 1),
        vec![ext(0, 16384, 3616, false), ext(1, 0, 12_768, true)]
    );
    assert_eq!(
        extents(&l, 2),
        vec![ext(2, 0, 5000, false), ext(3, 0, 11_384, true)]
    );
    assert_eq!(extents(&l, 3), vec![ext(4, 0, 16384, false)]);
    assert_eq!(l.file_pieces(2), 2..3);
    assert_eq!(l.file_pieces(1), 1..2);
    let real: Vec<_> = l.real_files().map(|(i, f)| (i, f.path.clone())).collect();
    assert_eq!(
        real,
        vec![
            (0, PathBuf::from("payload/a")),
            (2, PathBuf::from("payload/b")),
            (4, PathBuf::from("payload/c"))
        ]
    );
    // Pads are not stored, so they are not among a piece's files.
    assert_eq!(l.piece_files(1).collect::<Vec<_>>(), vec![0]);
}

#[test]
fn v2_only_short_last_pieces() {
    let fx = multi(
        &[("a", 20_000), ("b", 5_000), ("c", 16_384), ("d", 0)],
        Version::V2,
        PL,
    );
    let l = fx.layout();
    assert!(l.is_per_file());
    assert_eq!(l.piece_count(), 4);
    let lens: Vec<_> = (0..4).map(|p| l.piece_len(p).unwrap()).collect();
    assert_eq!(lens, vec![16384, 3616, 5000, 16384]);
    assert_eq!(extents(&l, 1), vec![ext(0, 16384, 3616, false)]);
    assert_eq!(extents(&l, 2), vec![ext(1, 0, 5000, false)]);
    assert_eq!(extents(&l, 3), vec![ext(2, 0, 16384, false)]);
    assert!(matches!(
        l.extents(1, 0, 3617),
        Err(StoreError::OutOfRange { piece: 1, .. })
    ));
    assert!(matches!(
        l.extents(4, 0, 0),
        Err(StoreError::OutOfRange { piece: 4, .. })
    ));
    assert_eq!(l.file_pieces(0), 0..2);
    assert_eq!(l.file_pieces(1), 2..3);
    assert_eq!(l.file_pieces(2), 3..4);
    assert!(l.file_pieces(3).is_empty());
}

#[test]
fn v2_single_file() {
    let fx = single(40_000, Version::V2, PL);
    let l = fx.layout();
    assert_eq!(l.piece_count(), 3);
    assert_eq!(l.piece_len(2), Some(40_000 - 32_768));
    assert_eq!(l.files()[0].path, PathBuf::from("single.bin"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// For any v1 layout, the extents of every piece tile the piece space
    /// exactly, in order, and agree with the per-file piece ranges.
    #[test]
    fn extents_tile_the_space(
        lens in prop::collection::vec(0usize..40, 1..6),
        pl in 1u64..20,
    ) {
        prop_assume!(lens.iter().sum::<usize>() > 0);
        let names: Vec<String> = (0..lens.len()).map(|i| format!("f{i}")).collect();
        let files: Vec<(&str, usize)> =
            names.iter().map(String::as_str).zip(lens.iter().copied()).collect();
        let fx = v1_odd("t", &files, pl);
        let l = fx.layout();
        let total: u64 = lens.iter().map(|&x| x as u64).sum();
        let mut pos = 0u64;
        for p in 0..l.piece_count() {
            let len = l.piece_len(p).unwrap();
            prop_assert_eq!(l.piece_offset(p), pos);
            let mut covered = 0u64;
            for e in l.extents(p, 0, len).unwrap() {
                let f = &l.files()[e.file];
                prop_assert_eq!(f.offset + e.file_offset, pos + covered);
                prop_assert!(e.len > 0);
                prop_assert!(l.file_pieces(e.file).contains(&p));
                covered += u64::from(e.len);
            }
            prop_assert_eq!(covered, u64::from(len));
            pos += u64::from(len);
        }
        prop_assert_eq!(pos, total);
        for (i, f) in l.files().iter().enumerate() {
            for p in l.file_pieces(i) {
                prop_assert!(
                    extents(&l, p).iter().any(|e| e.file == i),
                    "file {} piece {}", i, p
                );
            }
            prop_assert_eq!(f.length == 0, l.file_pieces(i).is_empty());
        }
        // Sub-ranges start where they should.
        if let Some(len) = l.piece_len(0) {
            let sub: Vec<_> = l.extents(0, len / 2, len - len / 2).unwrap().collect();
            let first = sub.first().unwrap();
            prop_assert_eq!(l.files()[first.file].offset + first.file_offset, u64::from(len / 2));
        }
    }
}
