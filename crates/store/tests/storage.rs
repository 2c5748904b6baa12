//! Storage: round trips across file boundaries, pad files never created,
//! preallocation modes, file selection, the handle cache, path safety.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;

use btl_store::{Preallocate, Storage, StorageOptions, StoreError};
use common::{content, multi, open_dest, single, tree, v1_odd, Fixture, Version};

const PL: u64 = 16384;

fn hybrid() -> Fixture {
    multi(
        &[
            ("a", 20_000),
            ("dir/b", 5_000),
            ("dir/empty", 0),
            ("z", 40_000),
        ],
        Version::Hybrid,
        PL,
    )
}

/// Writes every piece from the source into a new root and checks that the
/// files are byte-for-byte the source's.
fn whole_piece_round_trip(fx: &Fixture, preallocate: Preallocate) {
    let root = fx.dest("dl");
    let dst = open_dest(fx, &root, preallocate);
    for (p, data) in fx.pieces().iter().enumerate() {
        dst.write_piece(p as u32, data).unwrap();
    }
    dst.sync().unwrap();
    assert_eq!(tree(&root), tree(&fx.src_root));
    // And reading back through the storage gives the same pieces.
    let mut buf = Vec::new();
    for (p, data) in fx.pieces().iter().enumerate() {
        dst.read_piece(p as u32, &mut buf).unwrap();
        assert_eq!(&buf, data, "piece {p}");
    }
}

#[test]
fn round_trip_every_version() {
    for version in [Version::V1, Version::V2, Version::Hybrid] {
        let fx = multi(
            &[("a", 20_000), ("b/c", 5_000), ("b/d", 0), ("e", 33_000)],
            version,
            PL,
        );
        for pre in [Preallocate::Sparse, Preallocate::None, Preallocate::Full] {
            let _ = fs::remove_dir_all(fx.dest("dl"));
            whole_piece_round_trip(&fx, pre);
        }
    }
    whole_piece_round_trip(&single(70_000, Version::V1, PL), Preallocate::Sparse);
    whole_piece_round_trip(&single(70_000, Version::V2, PL), Preallocate::None);
}

#[test]
fn blocks_across_file_boundaries() {
    // 1000-byte pieces over files of awkward sizes; blocks of 333 bytes
    // straddle file ends.
    let fx = v1_odd(
        "t",
        &[("a", 1500), ("b", 1), ("c", 0), ("d/e", 2222), ("f", 777)],
        1000,
    );
    let pieces = fx.pieces();
    let root = fx.dest("dl");
    let dst = open_dest(&fx, &root, Preallocate::Sparse);
    for (p, data) in pieces.iter().enumerate() {
        for (i, block) in data.chunks(333).enumerate() {
            dst.write(p as u32, (i * 333) as u32, block).unwrap();
        }
    }
    assert_eq!(tree(&root), tree(&fx.src_root));
    // Arbitrary sub-range reads.
    for (p, data) in pieces.iter().enumerate() {
        for (begin, len) in [(0, 1), (1, 998), (499, 2), (0, data.len())] {
            if begin + len > data.len() {
                continue;
            }
            let mut buf = vec![0xAA; len];
            dst.read(p as u32, begin as u32, &mut buf).unwrap();
            assert_eq!(buf, data[begin..begin + len], "piece {p} {begin}+{len}");
        }
    }
}

#[test]
fn pad_files_are_never_created_and_read_as_zeros() {
    let fx = hybrid();
    let layout = fx.layout();
    assert!(layout.files().iter().any(|f| f.pad));
    let root = fx.dest("dl");
    let dst = open_dest(&fx, &root, Preallocate::Sparse);
    // Garbage in the pad range of a write is dropped.
    let mut piece1 = fx.pieces()[1].clone();
    let pad_start = 20_000 - 16384;
    piece1[pad_start..].fill(0xEE);
    dst.write_piece(1, &piece1).unwrap();
    let mut back = Vec::new();
    dst.read_piece(1, &mut back).unwrap();
    assert!(back[pad_start..].iter().all(|&b| b == 0));
    assert_eq!(back[..pad_start], piece1[..pad_start]);
    for (p, data) in fx.pieces().iter().enumerate() {
        dst.write_piece(p as u32, data).unwrap();
    }
    let files = tree(&root);
    assert!(
        files.keys().all(|p| !p.to_string_lossy().contains(".pad")),
        "{:?}",
        files.keys().collect::<Vec<_>>()
    );
    assert!(!root.join("payload/.pad").exists());
    assert_eq!(files, tree(&fx.src_root));
}

#[test]
fn open_creates_files_and_preallocates() {
    let fx = hybrid();
    let sparse = fx.dest("sparse");
    open_dest(&fx, &sparse, Preallocate::Sparse);
    let meta = |root: &std::path::Path, p: &str| fs::metadata(root.join(p)).unwrap();
    assert_eq!(meta(&sparse, "payload/a").len(), 20_000);
    assert_eq!(meta(&sparse, "payload/dir/empty").len(), 0);
    assert_eq!(meta(&sparse, "payload/z").len(), 40_000);
    assert_eq!(meta(&sparse, "payload/z").blocks(), 0, "sparse: no blocks");

    let none = fx.dest("none");
    open_dest(&fx, &none, Preallocate::None);
    assert_eq!(meta(&none, "payload/a").len(), 0);
    assert!(none.join("payload/dir/empty").is_file());

    let full = fx.dest("full");
    open_dest(&fx, &full, Preallocate::Full);
    let z = meta(&full, "payload/z");
    assert_eq!(z.len(), 40_000);
    assert!(z.blocks() * 512 >= 40_000, "full: blocks allocated");

    // Existing data is kept when a storage is opened again.
    let dst = open_dest(&fx, &none, Preallocate::None);
    dst.write_piece(0, &fx.pieces()[0]).unwrap();
    drop(dst);
    open_dest(&fx, &none, Preallocate::Sparse);
    let a = fs::read(none.join("payload/a")).unwrap();
    assert_eq!(a.len(), 20_000);
    assert_eq!(a[..16384], fx.pieces()[0][..]);
}

#[test]
fn short_files_read_as_zeros_past_their_end() {
    let fx = single(50_000, Version::V1, PL);
    let root = fx.dest("dl");
    let dst = open_dest(&fx, &root, Preallocate::None);
    dst.write(1, 0, &[7; 100]).unwrap();
    let mut buf = vec![0xAA; 16384];
    dst.read(1, 0, &mut buf).unwrap();
    assert!(buf[..100].iter().all(|&b| b == 7));
    assert!(buf[100..].iter().all(|&b| b == 0));
    dst.read(2, 0, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
}

#[test]
fn unwanted_files_are_created_on_first_write() {
    // v1, 7-byte pieces: piece 1 is shared by a and c.
    let fx = v1_odd("t", &[("a", 10), ("c", 25)], 7);
    let root = fx.dest("dl");
    let dst = Storage::open(
        &root,
        fx.layout(),
        StorageOptions {
            wanted: Some(vec![true, false]),
            ..StorageOptions::default()
        },
    )
    .unwrap();
    assert!(root.join("t/a").is_file());
    assert!(!root.join("t/c").exists());
    let mut buf = vec![0; 7];
    match dst.read(2, 0, &mut buf) {
        Err(StoreError::Io { path, source, .. }) => {
            assert_eq!(source.kind(), ErrorKind::NotFound);
            assert!(path.ends_with("t/c"), "{}", path.display());
        }
        other => panic!("{other:?}"),
    }
    let pieces = fx.pieces();
    dst.write_piece(1, &pieces[1]).unwrap();
    assert_eq!(fs::metadata(root.join("t/c")).unwrap().len(), 25);
    dst.read(1, 0, &mut buf).unwrap();
    assert_eq!(buf, pieces[1]);

    let bad = Storage::open(
        &fx.dest("x"),
        fx.layout(),
        StorageOptions {
            wanted: Some(vec![true]),
            ..StorageOptions::default()
        },
    );
    assert!(matches!(bad, Err(StoreError::InvalidArgument(_))));
}

#[test]
fn handle_cache_is_bounded() {
    let files: Vec<(String, usize)> = (0..20).map(|i| (format!("f{i:02}"), 300)).collect();
    let refs: Vec<(&str, usize)> = files.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    let fx = v1_odd("t", &refs, 1000);
    let root = fx.dest("dl");
    let dst = Storage::open(
        &root,
        fx.layout(),
        StorageOptions {
            max_open_files: 2,
            ..StorageOptions::default()
        },
    )
    .unwrap();
    for (p, data) in fx.pieces().iter().enumerate() {
        dst.write_piece(p as u32, data).unwrap();
        assert!(dst.open_handles() <= 2);
    }
    // Every file was written, including those whose handle was evicted.
    let synced = dst.sync().unwrap();
    assert_eq!(synced, (0..20).collect::<Vec<_>>());
    assert!(dst.sync().unwrap().is_empty(), "nothing new to sync");
    assert_eq!(tree(&root), tree(&fx.src_root));
}

#[test]
fn out_of_range_requests_are_errors() {
    let fx = single(20_000, Version::V1, PL);
    let dst = open_dest(&fx, &fx.dest("dl"), Preallocate::Sparse);
    let last = 20_000 - 16384;
    assert!(matches!(
        dst.write(1, 0, &vec![0; last + 1]),
        Err(StoreError::OutOfRange { piece: 1, .. })
    ));
    assert!(matches!(
        dst.write(1, last as u32, &[1]),
        Err(StoreError::OutOfRange { .. })
    ));
    assert!(matches!(
        dst.read(2, 0, &mut [0; 1]),
        Err(StoreError::OutOfRange { piece: 2, .. })
    ));
    assert!(matches!(
        dst.write_piece(0, &[0; 10]),
        Err(StoreError::PieceLength {
            piece: 0,
            expected: 16384,
            found: 10
        })
    ));
    dst.write(1, last as u32, &[]).unwrap();
}

#[test]
fn symlinks_inside_the_root_are_refused() {
    let fx = hybrid();
    let root = fx.dest("dl");
    let elsewhere = fx.dest("elsewhere");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("payload")).unwrap();
    let err = Storage::open(&root, fx.layout(), StorageOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::UnsafePath { .. }), "{err}");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);

    // A data file that is itself a link.
    let root2 = fx.dest("dl2");
    fs::create_dir_all(root2.join("payload")).unwrap();
    fs::write(elsewhere.join("target"), content(1, 10)).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("target"), root2.join("payload/a")).unwrap();
    let err = Storage::open(&root2, fx.layout(), StorageOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::UnsafePath { .. }), "{err}");
    assert_eq!(fs::read(elsewhere.join("target")).unwrap(), content(1, 10));
}

#[test]
fn concurrent_reads() {
    let fx = multi(&[("a", 100_000), ("b", 60_000)], Version::Hybrid, PL);
    let src = fx.source();
    let pieces = fx.pieces();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (src, pieces) = (&src, &pieces);
            s.spawn(move || {
                let mut buf = Vec::new();
                for round in 0..5 {
                    for p in 0..pieces.len() {
                        let p = (p + t + round) % pieces.len();
                        src.read_piece(p as u32, &mut buf).unwrap();
                        assert_eq!(buf, pieces[p]);
                    }
                }
            });
        }
    });
}
