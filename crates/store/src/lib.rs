//! The peer engine's disk layer: where pieces live, how they are read,
//! written and verified, and what survives a crash.
//!
//! Synchronous `std` I/O with positional reads and writes only (no mmap);
//! the async engine calls it from blocking threads.
//!
//! | module | what |
//! |---|---|
//! | [`layout`] | piece space ↔ files map ([`Layout`]) |
//! | [`storage`] | files on disk, piece I/O, sync ([`Storage`]) |
//! | [`verify`] | v1/v2/hybrid piece hashes ([`PieceHashes`], [`verify_piece`]) |
//! | [`resume`] | crash-safe resume journal ([`Resume`]) |
//! | [`recheck`](mod@recheck) | parallel re-hashing ([`recheck()`]) |
//! | [`bitfield`] | piece sets in BEP 3 order ([`Bitfield`]) |
//! | [`dht_nodes`] | the DHT nodes kept between runs |
//!
//! # A session, in order
//!
//! ```text
//! layout  = Layout::from_torrent(&torrent)?
//! storage = Storage::open(root, layout, opts)?
//! hashes  = PieceHashes::from_torrent(&torrent)?
//! (resume, rec) = Resume::open(journal, torrent.info_hashes().wire_id(), &storage)?
//! good    = recheck(&storage, &hashes, rec.recheck.iter().copied(), threads, &progress)
//!           for each piece of rec.recheck: resume.record(p) if good, else resume.forget(p)
//! loop:     resume.before_write(&storage, p)?; storage.write(p, begin, block)?
//!           piece complete: storage.read_piece(p, &mut buf)?; if verify_piece(&hashes, p, &buf)
//!                           { resume.record(p)? } else { drop the data, ban the peer }
//!           every few seconds: resume.barrier(&storage)?
//! resume.close(&storage)?
//! ```
//!
//! `record` survives `kill -9` at once and power loss after the next
//! `barrier`; see [`resume`] for the journal format and its guarantees.

pub mod bitfield;
pub mod dht_nodes;
mod error;
pub mod layout;
pub mod recheck;
pub mod resume;
pub mod storage;
pub mod verify;

pub use bitfield::Bitfield;
pub use error::StoreError;
pub use layout::{Extent, FileInfo, Layout};
pub use recheck::recheck;
pub use resume::{fuzz_journal, FileStamp, Recovered, Resume};
pub use storage::{Preallocate, Storage, StorageOptions};
pub use verify::{block_leaves, verify_piece, PieceCheck, PieceHashes};
