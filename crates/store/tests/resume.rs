//! The resume journal: clean and unclean restarts, torn tails, foreign and
//! corrupt journals, changed files, crash-time writes, compaction.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use btl_store::{Bitfield, Preallocate, Recovered, Resume, Storage, StoreError};
use btl_types::Sha1Hash;
use common::{multi, open_dest, v1_odd, Fixture, Version};

struct Env {
    fx: Fixture,
    pieces: Vec<Vec<u8>>,
    storage: Storage,
    journal: PathBuf,
}

impl Env {
    fn new(fx: Fixture) -> Env {
        let pieces = fx.pieces();
        let storage = open_dest(&fx, &fx.dest("dl"), Preallocate::Sparse);
        let journal = fx.dest("resume.journal");
        Env {
            fx,
            pieces,
            storage,
            journal,
        }
    }

    fn id(&self) -> Sha1Hash {
        self.fx.torrent.info_hashes().wire_id()
    }

    fn open(&self) -> (Resume, Recovered) {
        self.open_at(&self.journal)
    }

    fn open_at(&self, path: &Path) -> (Resume, Recovered) {
        Resume::open(path, self.id(), &self.storage).unwrap()
    }

    /// Writes piece `p` (announcing the write first) and records it.
    fn put(&self, r: &mut Resume, p: u32) {
        r.before_write(&self.storage, p).unwrap();
        self.storage
            .write_piece(p, &self.pieces[p as usize])
            .unwrap();
        r.record(p).unwrap();
    }

    fn n(&self) -> u32 {
        self.pieces.len() as u32
    }
}

/// Hybrid, three real files (indexes 0, 2, 4 with pads between), 7
/// pieces: a = 0..3, b = 3, c = 4..7.
fn env() -> Env {
    Env::new(multi(
        &[("a", 40_000), ("b", 5_000), ("c", 33_000)],
        Version::Hybrid,
        16384,
    ))
}

fn ones(b: &Bitfield) -> Vec<u32> {
    b.iter_ones().collect()
}

#[test]
fn fresh_then_clean_restart() {
    let e = env();
    let (mut r, rec) = e.open();
    assert!(rec.fresh);
    assert!(!rec.clean_shutdown);
    assert_eq!(rec.have, Bitfield::new(e.n()));
    assert!(rec.recheck.is_empty() && rec.changed_files.is_empty());
    assert!(e.journal.is_file());
    for p in [0, 2, 4] {
        e.put(&mut r, p);
    }
    assert_eq!(ones(&r.have()), vec![0, 2, 4]);
    r.close(&e.storage).unwrap();

    let (r, rec) = e.open();
    assert!(!rec.fresh);
    assert!(rec.clean_shutdown);
    assert_eq!(ones(&rec.have), vec![0, 2, 4]);
    assert!(rec.recheck.is_empty(), "{rec:?}");
    assert!(rec.changed_files.is_empty(), "{rec:?}");
    assert_eq!(rec.ignored_bytes, 0);
    // Reopening without closing is an unclean shutdown with nothing new.
    drop(r);
    let (_, rec) = e.open();
    assert!(!rec.clean_shutdown);
    assert_eq!(ones(&rec.have), vec![0, 2, 4]);
    assert!(rec.recheck.is_empty());
}

#[test]
fn unclean_shutdown_returns_unconfirmed_pieces_for_recheck() {
    let e = env();
    let (mut r, _) = e.open();
    e.put(&mut r, 0);
    e.put(&mut r, 1);
    r.barrier(&e.storage).unwrap();
    e.put(&mut r, 3);
    e.put(&mut r, 5);
    e.put(&mut r, 0); // recorded again: already durable
    drop(r); // no close: as after kill -9

    let (r, rec) = e.open();
    assert!(!rec.clean_shutdown);
    assert_eq!(ones(&rec.have), vec![0, 1]);
    assert_eq!(rec.recheck, vec![3, 5]);
    assert!(rec.changed_files.is_empty(), "writes were announced");
    drop(r);
    // Not settled yet (a crash during the recheck): they come back, and a
    // barrier does not promote them.
    let (mut r, rec) = e.open();
    assert_eq!(ones(&rec.have), vec![0, 1]);
    assert_eq!(rec.recheck, vec![3, 5]);
    r.barrier(&e.storage).unwrap();
    drop(r);
    let (mut r, rec) = e.open();
    assert_eq!(ones(&rec.have), vec![0, 1]);
    assert_eq!(rec.recheck, vec![3, 5]);
    // Settled: 3 was good, 5 was bad.
    r.record(3).unwrap();
    r.forget(5).unwrap();
    drop(r);
    let (mut r, rec) = e.open();
    assert_eq!(ones(&rec.have), vec![0, 1]);
    assert_eq!(rec.recheck, vec![3], "recorded but no barrier yet");
    r.record(3).unwrap();
    r.barrier(&e.storage).unwrap();
    drop(r);
    let (mut r, rec) = e.open();
    assert_eq!(ones(&rec.have), vec![0, 1, 3]);
    assert!(rec.recheck.is_empty());
    // Forgetting a durable piece takes effect without a barrier.
    r.forget(0).unwrap();
    assert_eq!(ones(&r.have()), vec![1, 3]);
    drop(r);
    let (_, rec) = e.open();
    assert_eq!(ones(&rec.have), vec![1, 3]);
    assert!(rec.recheck.is_empty());
}

/// The journal after: open, 0 and 1 recorded, barrier, 2 and 3 recorded
/// (the last record is `Verified(3)`), no close.
fn crashed_journal(e: &Env) -> Vec<u8> {
    let (mut r, _) = e.open();
    e.put(&mut r, 0);
    e.put(&mut r, 1);
    r.barrier(&e.storage).unwrap();
    e.put(&mut r, 2);
    e.put(&mut r, 3);
    drop(r);
    fs::read(&e.journal).unwrap()
}

#[test]
fn torn_last_record_is_ignored_at_every_offset() {
    let e = env();
    let bytes = crashed_journal(&e);
    assert_eq!((bytes.len() - 48) % 32, 0);
    let last = bytes.len() - 32;
    assert_eq!(bytes[last], 1, "last record is Verified");
    for cut in 0..=32 {
        let path = e.fx.dest(&format!("torn-{cut}"));
        fs::write(&path, &bytes[..last + cut]).unwrap();
        let (_, rec) = e.open_at(&path);
        assert_eq!(ones(&rec.have), vec![0, 1], "cut {cut}");
        let want: Vec<u32> = if cut == 32 { vec![2, 3] } else { vec![2] };
        assert_eq!(rec.recheck, want, "cut {cut}");
        assert_eq!(rec.ignored_bytes, if cut == 32 { 0 } else { cut as u64 });
        assert!(rec.changed_files.is_empty(), "cut {cut}: {rec:?}");
        // The reopened journal is clean: no tail left behind.
        let again = fs::read(&path).unwrap();
        assert_eq!((again.len() - 48) % 32, 0);
    }
}

#[test]
fn torn_barrier_keeps_its_records_pending() {
    let e = env();
    let bytes = crashed_journal(&e);
    // Find the last Barrier record (kind 2) before the end.
    let barrier = (48..bytes.len())
        .step_by(32)
        .rfind(|&i| bytes[i] == 2)
        .unwrap();
    for cut in 0..32 {
        let path = e.fx.dest(&format!("torn-barrier-{cut}"));
        fs::write(&path, &bytes[..barrier + cut]).unwrap();
        let (_, rec) = e.open_at(&path);
        assert!(ones(&rec.have).is_empty(), "cut {cut}");
        assert_eq!(rec.recheck, vec![0, 1], "cut {cut}");
    }
}

#[test]
fn garbage_tail_is_ignored() {
    let e = env();
    let mut bytes = crashed_journal(&e);
    bytes.extend(common::content(5, 100));
    fs::write(&e.journal, &bytes).unwrap();
    let (_, rec) = e.open();
    assert_eq!(rec.ignored_bytes, 100);
    assert_eq!(ones(&rec.have), vec![0, 1]);
    assert_eq!(rec.recheck, vec![2, 3]);
    // Zeros (what a power loss can leave after an extended file) too.
    let mut bytes = fs::read(&e.journal).unwrap();
    bytes.extend([0u8; 64]);
    fs::write(&e.journal, &bytes).unwrap();
    let (_, rec) = e.open();
    assert_eq!(rec.ignored_bytes, 64);
    assert_eq!(ones(&rec.have), vec![0, 1]);
}

#[test]
fn foreign_and_corrupt_journals_are_typed_errors() {
    let e = env();
    let (r, _) = e.open();
    r.close(&e.storage).unwrap();
    let good = fs::read(&e.journal).unwrap();

    let err = Resume::open(&e.journal, Sha1Hash([9; 20]), &e.storage).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::JournalMismatch {
                what: "torrent id",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("delete it"), "{err}");

    // Another torrent's storage (different piece count), same id.
    let other = multi(&[("x", 200_000)], Version::Hybrid, 16384);
    let other_storage = open_dest(&other, &other.dest("dl"), Preallocate::Sparse);
    let err = Resume::open(&e.journal, e.id(), &other_storage).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::JournalMismatch {
                what: "piece count",
                ..
            }
        ),
        "{err}"
    );

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short header", good[..47].to_vec()),
        ("not a journal", common::content(3, 500)),
        ("flipped header bit", {
            let mut b = good.clone();
            b[25] ^= 4;
            b
        }),
    ];
    for (what, bytes) in cases {
        fs::write(&e.journal, &bytes).unwrap();
        let err = Resume::open(&e.journal, e.id(), &e.storage).unwrap_err();
        assert!(
            matches!(err, StoreError::JournalCorrupt { .. }),
            "{what}: {err}"
        );
        assert_eq!(
            fs::read(&e.journal).unwrap(),
            bytes,
            "{what}: left as it was"
        );
    }
    let mut newer = good.clone();
    newer[8] = 2;
    fs::write(&e.journal, &newer).unwrap();
    let err = Resume::open(&e.journal, e.id(), &e.storage).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::JournalVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    // Deleting it starts over.
    fs::remove_file(&e.journal).unwrap();
    let (_, rec) = e.open();
    assert!(rec.fresh);
}

#[test]
fn changed_files_are_detected_after_close() {
    let e = env();
    let (mut r, _) = e.open();
    for p in 0..e.n() {
        e.put(&mut r, p);
    }
    r.close(&e.storage).unwrap();

    // Touch b (file index 2: a, pad, b, pad, c) without changing its size.
    let b = e.fx.dest("dl").join("payload/b");
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    fs::File::options()
        .write(true)
        .open(&b)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let (r, rec) = e.open();
    assert_eq!(rec.changed_files, vec![2]);
    assert_eq!(rec.recheck, vec![3]);
    assert_eq!(ones(&rec.have), vec![0, 1, 2, 4, 5, 6]);
    assert!(rec.clean_shutdown);

    // The caller rechecks and records again; the next start is clean.
    let mut r = r;
    r.record(3).unwrap();
    r.close(&e.storage).unwrap();
    let (r, rec) = e.open();
    assert!(rec.changed_files.is_empty(), "{rec:?}");
    assert_eq!(ones(&rec.have), (0..7).collect::<Vec<_>>());

    // A size change and a deleted file.
    r.close(&e.storage).unwrap();
    fs::OpenOptions::new()
        .append(true)
        .open(e.fx.dest("dl").join("payload/c"))
        .unwrap()
        .set_len(33_001)
        .unwrap();
    fs::remove_file(e.fx.dest("dl").join("payload/a")).unwrap();
    let (_, rec) = Resume::open(&e.journal, e.id(), &e.storage).unwrap();
    assert_eq!(rec.changed_files, vec![0, 4]);
    assert_eq!(rec.recheck, vec![0, 1, 2, 4, 5, 6]);
    assert_eq!(ones(&rec.have), vec![3]);
}

#[test]
fn unannounced_writes_make_a_file_look_changed_after_a_crash() {
    let e = env();
    let (mut r, _) = e.open();
    e.put(&mut r, 0);
    r.barrier(&e.storage).unwrap();
    // Piece 1 is written without `before_write` (against the contract);
    // after a crash file a looks changed, and piece 0 is rechecked rather
    // than trusted.
    e.storage.write_piece(1, &e.pieces[1]).unwrap();
    // The kernel's mtime clock is coarse (a few ms): make sure the write
    // shows, as it would once the clock ticks.
    let later = SystemTime::now() + Duration::from_secs(5);
    fs::File::options()
        .write(true)
        .open(e.fx.dest("dl").join("payload/a"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    r.record(1).unwrap();
    drop(r);
    let (_, rec) = e.open();
    assert_eq!(rec.changed_files, vec![0]);
    assert_eq!(rec.recheck, vec![0, 1]);
    assert!(ones(&rec.have).is_empty());
}

#[test]
fn compaction_round_trip() {
    // 1000 bytes in 3-byte pieces: 334 pieces, HaveBits records span
    // several 160-piece chunks.
    let e = Env::new(v1_odd("t", &[("a", 400), ("b", 600)], 3));
    assert_eq!(e.n(), 334);
    let (mut r, _) = e.open();
    r.set_compact_min(0);
    let mut max_len = 0;
    for p in 0..300 {
        e.put(&mut r, p);
        if p % 10 == 9 {
            r.barrier(&e.storage).unwrap();
        }
        max_len = max_len.max(r.journal_len());
    }
    // Bounded by twice the snapshot plus one barrier interval's records.
    assert!(max_len < 2 * 400 + 32 * 30, "journal grew to {max_len}");
    // Pending records survive an explicit compaction as pending.
    e.put(&mut r, 333);
    e.put(&mut r, 300);
    r.compact().unwrap();
    assert!(!e.fx.dest("resume.journal.tmp").exists());
    drop(r);
    let (r, rec) = e.open();
    assert_eq!(ones(&rec.have), (0..300).collect::<Vec<_>>());
    assert_eq!(rec.recheck, vec![300, 333]);
    assert!(rec.changed_files.is_empty(), "{rec:?}");
    r.close(&e.storage).unwrap();
    let (_, rec) = e.open();
    assert_eq!(ones(&rec.have), (0..300).collect::<Vec<_>>());
    assert!(rec.clean_shutdown);
}

#[test]
fn record_out_of_range_is_refused() {
    let e = env();
    let (mut r, _) = e.open();
    assert!(matches!(
        r.record(e.n()),
        Err(StoreError::OutOfRange { .. })
    ));
    assert!(matches!(
        r.before_write(&e.storage, e.n()),
        Err(StoreError::OutOfRange { .. })
    ));
}

/// CRC-32/ISO-HDLC, bit by bit (independent of the crate's table).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn record(kind: u8, a: u32) -> Vec<u8> {
    let mut b = vec![0u8; 32];
    b[0] = kind;
    b[4..8].copy_from_slice(&a.to_le_bytes());
    let crc = crc32(&b[..28]);
    b[28..].copy_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn well_formed_records_out_of_range_end_the_replay() {
    let e = env();
    let (r, _) = e.open();
    drop(r);
    let mut bytes = fs::read(&e.journal).unwrap();
    bytes.extend(record(1, 1)); // Verified(1)
    bytes.extend(record(1, 999)); // piece out of range: replay stops here
    bytes.extend(record(1, 2));
    bytes.extend(record(2, 0)); // Barrier, ignored
    fs::write(&e.journal, &bytes).unwrap();
    let (_, rec) = e.open();
    assert_eq!(rec.recheck, vec![1]);
    assert!(ones(&rec.have).is_empty());
    assert_eq!(rec.ignored_bytes, 96);
}
