//! A real crash: a child process downloads (writes pieces, records them,
//! barriers now and then, compacts often) and is killed with SIGKILL at
//! arbitrary points; after every kill the journal must still know every
//! piece the child reported as recorded, and every piece it claims must
//! verify.
//!
//! The child is this test binary run again with [`CHILD_ENV`] set, so
//! that only [`crash_child`] runs; it reports each record on stdout
//! (`rec <piece>`) *after* `Resume::record` returned. The parent waits for
//! those lines (with a deadline), never for time to pass.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use btl_metainfo::torrent::Torrent;
use btl_store::{recheck, Layout, PieceHashes, Preallocate, Resume, Storage, StorageOptions};
use common::{multi, Version};

const CHILD_ENV: &str = "BTL_STORE_CRASH_CHILD";
const DEADLINE: Duration = Duration::from_secs(120);

struct Paths {
    torrent: PathBuf,
    src: PathBuf,
    dl: PathBuf,
    journal: PathBuf,
}

fn paths(dir: &Path) -> Paths {
    Paths {
        torrent: dir.join("t.torrent"),
        src: dir.join("src"),
        dl: dir.join("dl"),
        journal: dir.join("dl.resume"),
    }
}

fn open_storage(root: &Path, t: &Torrent, preallocate: Preallocate) -> Storage {
    let layout = Layout::from_torrent(t).unwrap();
    let opts = StorageOptions {
        preallocate,
        max_open_files: 2,
        ..StorageOptions::default()
    };
    Storage::open(root, layout, opts).unwrap()
}

/// The child: resumes the download from the journal, then writes the
/// missing pieces in 4 KiB blocks, recording each verified piece.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return; // Not the child: nothing to do.
    };
    let p = paths(Path::new(&dir));
    let torrent = Torrent::from_bytes(&std::fs::read(&p.torrent).unwrap()).unwrap();
    let id = torrent.info_hashes().wire_id();
    let hashes = PieceHashes::from_torrent(&torrent).unwrap();
    let src = open_storage(&p.src, &torrent, Preallocate::None);
    let dst = open_storage(&p.dl, &torrent, Preallocate::Sparse);
    let (mut resume, rec) = Resume::open(&p.journal, id, &dst).unwrap();
    resume.set_compact_min(2048);
    let mut out = std::io::stdout().lock();
    writeln!(out, "open {} {}", rec.have.count(), rec.recheck.len()).unwrap();
    out.flush().unwrap();

    let mut have = rec.have.clone();
    let good = recheck(&dst, &hashes, rec.recheck.iter().copied(), 2, &|_, _| {});
    for &piece in &rec.recheck {
        if good.get(piece) {
            resume.record(piece).unwrap();
            have.set(piece, true);
            writeln!(out, "rec {piece}").unwrap();
            out.flush().unwrap();
        } else {
            resume.forget(piece).unwrap();
        }
    }

    let mut block = vec![0u8; 4096];
    let mut piece_buf = Vec::new();
    let mut since_barrier = 0;
    for piece in 0..dst.layout().piece_count() {
        if have.get(piece) {
            continue;
        }
        resume.before_write(&dst, piece).unwrap();
        let len = dst.layout().piece_len(piece).unwrap();
        let mut at = 0;
        while at < len {
            let n = (len - at).min(4096);
            src.read(piece, at, &mut block[..n as usize]).unwrap();
            dst.write(piece, at, &block[..n as usize]).unwrap();
            at += n;
        }
        dst.read_piece(piece, &mut piece_buf).unwrap();
        assert!(hashes.verify(piece, &piece_buf), "piece {piece}");
        resume.record(piece).unwrap();
        writeln!(out, "rec {piece}").unwrap();
        out.flush().unwrap();
        since_barrier += 1;
        if since_barrier == 5 {
            resume.barrier(&dst).unwrap();
            since_barrier = 0;
        }
    }
    writeln!(out, "done").unwrap();
    out.flush().unwrap();
    // Wait to be killed (stdin stays open until then).
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}

/// Runs the child until it has reported `kill_after` new records (or is
/// done), kills it with SIGKILL, and returns every piece it reported.
fn run_child_and_kill(dir: &Path, kill_after: usize) -> (BTreeSet<u32>, bool) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut recorded = BTreeSet::new();
    let mut new = 0;
    let mut done = false;
    let start = Instant::now();
    while new < kill_after && !done {
        let left = DEADLINE.saturating_sub(start.elapsed());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                panic!("child stopped reporting: {e}");
            }
        };
        if let Some(p) = line.strip_prefix("rec ") {
            recorded.insert(p.parse::<u32>().unwrap());
            new += 1;
        }
        done = line == "done";
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    // Everything the child printed before it died.
    reader.join().unwrap();
    for line in rx.try_iter() {
        if let Some(p) = line.strip_prefix("rec ") {
            recorded.insert(p.parse::<u32>().unwrap());
        }
        done |= line == "done";
    }
    (recorded, done)
}

#[test]
fn kill_9_loses_no_record() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    // Hybrid with pads, 4 files, ~180 pieces of 16 KiB.
    let fx = multi(
        &[
            ("a", 1_000_000),
            ("b", 70_000),
            ("c/d", 1_800_000),
            ("e", 5_000),
        ],
        Version::Hybrid,
        16384,
    );
    let dir = fx.dir.path();
    let p = paths(dir);
    std::fs::write(&p.torrent, &fx.torrent_bytes).unwrap();
    let n = fx.layout().piece_count();
    assert!(n > 150, "{n} pieces");

    let mut all = BTreeSet::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 50, "no progress");
        // Vary the kill point: after 11 to 29 new records.
        let (recorded, done) = run_child_and_kill(dir, 11 + (rounds * 7) % 19);
        eprintln!(
            "round {rounds}: {} new records, {} in all",
            recorded.difference(&all).count(),
            all.len() + recorded.difference(&all).count()
        );
        all.extend(recorded);
        check(&fx.torrent, &p, &all);
        if done {
            break;
        }
    }
    assert!(rounds >= 3, "the child was killed mid-download");
    assert_eq!(all.len() as u32, n);
}

/// Reopens the journal as the child would and checks the promise.
fn check(torrent: &Torrent, p: &Paths, recorded: &BTreeSet<u32>) {
    let id = torrent.info_hashes().wire_id();
    let hashes = PieceHashes::from_torrent(torrent).unwrap();
    let dst = open_storage(&p.dl, torrent, Preallocate::Sparse);
    let (resume, rec) = Resume::open(&p.journal, id, &dst).unwrap();
    assert!(
        rec.changed_files.is_empty(),
        "writes were announced: {rec:?}"
    );
    let mut claimed = rec.have.clone();
    for &q in &rec.recheck {
        claimed.set(q, true);
    }
    for &q in recorded {
        assert!(
            claimed.get(q),
            "piece {q} was recorded and is lost: {rec:?}"
        );
    }
    let mut buf = Vec::new();
    for q in claimed.iter_ones() {
        dst.read_piece(q, &mut buf).unwrap();
        assert!(hashes.verify(q, &buf), "piece {q} claimed but bad");
    }
    eprintln!(
        "  reopened: have {}, recheck {:?}",
        rec.have.count(),
        rec.recheck
    );
    drop(resume);
}
