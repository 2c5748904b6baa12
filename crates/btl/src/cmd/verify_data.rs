//! `btl verify --data` without a torrent (a magnet link, or a `.prov`
//! with no torrent beside it): each file on disk is hashed into its BEP 52
//! Merkle root, which must be the pieces root the creator signed.
//!
//! Memory stays bounded whatever the file size: the tree is folded as the
//! 16 KiB leaves stream in (one node per level, at most 64 levels).

use std::io::Read;
use std::path::{Path, PathBuf};

use btl_manifest::Manifest;
use btl_metainfo::merkle::{hash_block, hash_pair, pad_hash, BLOCK_SIZE};
use btl_types::Sha256Hash;

/// A BEP 52 Merkle root computed leaf by leaf: leaves are padded with
/// zero leaves up to a power of two, as [`btl_metainfo::merkle`] says.
#[derive(Default)]
pub struct StreamingRoot {
    /// Complete subtrees, left to right: (level, root), levels decreasing.
    stack: Vec<(u32, Sha256Hash)>,
    leaves: u64,
}

impl StreamingRoot {
    /// Adds the next leaf (the SHA-256 of the next 16 KiB block).
    pub fn push(&mut self, leaf: Sha256Hash) {
        self.leaves += 1;
        let mut node = (0u32, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != node.0 {
                break;
            }
            self.stack.pop();
            node = (level + 1, hash_pair(&left, &node.1));
        }
        self.stack.push(node);
    }

    /// The root (`None` without leaves: an empty file has no root).
    pub fn finish(mut self) -> Option<Sha256Hash> {
        let height = self.leaves.checked_next_power_of_two()?.trailing_zeros();
        let (mut level, mut node) = self.stack.pop()?;
        // Pad the rightmost subtree with zero subtrees, merging with the
        // complete subtrees on its left as their levels are reached.
        while level < height {
            node = match self.stack.last() {
                Some(&(l, left)) if l == level => {
                    self.stack.pop();
                    hash_pair(&left, &node)
                }
                _ => hash_pair(&node, &pad_hash(level)),
            };
            level += 1;
        }
        Some(node)
    }
}

/// The root of `len` bytes read from `r` (an error if fewer come).
fn file_root(r: &mut impl Read, len: u64) -> std::io::Result<Option<Sha256Hash>> {
    let mut tree = StreamingRoot::default();
    let mut buf = vec![0u8; BLOCK_SIZE];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(BLOCK_SIZE as u64)).unwrap_or(BLOCK_SIZE);
        r.read_exact(&mut buf[..n])?;
        tree.push(hash_block(&buf[..n]));
        left -= n as u64;
    }
    Ok(tree.finish())
}

/// Where a manifest's file lies under `dir` (the directory that contains
/// the payload, as for `btl seed --data`); `None` for a path component
/// that could leave it.
pub fn file_path(m: &Manifest, dir: &Path, index: usize) -> Option<PathBuf> {
    let f = m.files.get(index)?;
    let safe = |c: &str| !(c.is_empty() || c == "." || c == ".." || c.contains(['/', '\\']));
    if !safe(&m.name) || !f.path.iter().all(|c| safe(c)) {
        return None;
    }
    // A single file of one component is the payload itself (BEP 52).
    let single = m.files.len() == 1 && f.path.len() == 1;
    let mut p = dir.to_path_buf();
    if !single {
        p.push(&m.name);
    }
    p.extend(&f.path);
    Some(p)
}

/// Checks every file of the manifest under `dir`: present, of its length,
/// and hashing to its signed pieces root. Returns the problems (empty:
/// all good) and the number of bytes hashed.
pub fn check(m: &Manifest, dir: &Path) -> (Vec<String>, u64) {
    let mut problems = Vec::new();
    let mut hashed = 0u64;
    for (i, f) in m.files.iter().enumerate() {
        let name = f.path.join("/");
        let Some(path) = file_path(m, dir, i) else {
            problems.push(format!("{name}: not a safe path"));
            continue;
        };
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) => {
                problems.push(format!("{name} is missing ({}: {e})", path.display()));
                continue;
            }
        };
        match file.metadata() {
            Ok(md) if md.len() == f.length => {}
            Ok(md) => {
                problems.push(format!(
                    "{name} is {} bytes, the manifest says {}",
                    md.len(),
                    f.length
                ));
                continue;
            }
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        }
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        match file_root(&mut reader, f.length) {
            Ok(root) if root == f.pieces_root => hashed += f.length,
            Ok(_) => problems.push(format!("{name} does not hash to its signed pieces root")),
            Err(e) => problems.push(format!("{name}: cannot read: {e}")),
        }
    }
    (problems, hashed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use btl_metainfo::merkle::root_from_leaves;

    #[test]
    fn streaming_root_is_the_padded_tree_root() {
        for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33] {
            let leaves: Vec<Sha256Hash> = (0..n).map(|i| hash_block(&[i as u8; 7])).collect();
            let mut s = StreamingRoot::default();
            for l in &leaves {
                s.push(*l);
            }
            assert_eq!(s.finish(), root_from_leaves(&leaves), "{n} leaves");
        }
        assert_eq!(StreamingRoot::default().finish(), None);
    }

    #[test]
    fn file_root_of_bytes() {
        // 2.5 blocks: three leaves, the last one short.
        let data: Vec<u8> = (0..BLOCK_SIZE * 5 / 2).map(|i| (i % 251) as u8).collect();
        let leaves: Vec<Sha256Hash> = data.chunks(BLOCK_SIZE).map(hash_block).collect();
        let root = file_root(&mut data.as_slice(), data.len() as u64).unwrap();
        assert_eq!(root, root_from_leaves(&leaves));
        // Fewer bytes than the manifest says: an error, not a wrong root.
        assert!(file_root(&mut &data[..100], 200).is_err());
    }

    fn manifest(name: &str, files: &[(&[&str], &[u8])]) -> Manifest {
        let key = btl_manifest::SigningKey::from_bytes(&[1; 32]);
        Manifest {
            creator: btl_manifest::DidKey::of(&key),
            created: 1_700_000_000,
            name: name.into(),
            infohash_v2: Sha256Hash([2; 32]),
            infohash_v1: None,
            piece_length: 16384,
            files: files
                .iter()
                .map(|(path, data)| btl_manifest::ManifestFile {
                    path: path.iter().map(|c| c.to_string()).collect(),
                    length: data.len() as u64,
                    pieces_root: root_from_leaves(
                        &data.chunks(BLOCK_SIZE).map(hash_block).collect::<Vec<_>>(),
                    )
                    .filter(|_| !data.is_empty()),
                })
                .collect(),
            license: btl_manifest::License {
                spdx: "MIT".into(),
                terms: None,
            },
            payment: None,
        }
    }

    #[test]
    fn files_on_disk_against_the_signed_roots() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
        // Multi-file: DIR/name/path, an empty file included.
        let m = manifest(
            "Album",
            &[(&["cd1", "01.flac"], &big), (&["empty.txt"], b"")],
        );
        std::fs::create_dir_all(dir.path().join("Album/cd1")).unwrap();
        std::fs::write(dir.path().join("Album/cd1/01.flac"), &big).unwrap();
        std::fs::write(dir.path().join("Album/empty.txt"), b"").unwrap();
        assert_eq!(check(&m, dir.path()), (vec![], 40_000));
        // One byte changed: named.
        let mut bad = big.clone();
        bad[39_999] ^= 1;
        std::fs::write(dir.path().join("Album/cd1/01.flac"), &bad).unwrap();
        let (problems, _) = check(&m, dir.path());
        assert_eq!(
            problems,
            ["cd1/01.flac does not hash to its signed pieces root"]
        );
        // Wrong length, missing.
        std::fs::write(dir.path().join("Album/cd1/01.flac"), &big[1..]).unwrap();
        std::fs::remove_file(dir.path().join("Album/empty.txt")).unwrap();
        let (problems, _) = check(&m, dir.path());
        assert!(problems[0].contains("39999 bytes, the manifest says 40000"));
        assert!(problems[1].starts_with("empty.txt is missing"));

        // Single file: the payload is DIR/name.
        let one = manifest("song.flac", &[(&["song.flac"], &big)]);
        std::fs::write(dir.path().join("song.flac"), &big).unwrap();
        assert_eq!(check(&one, dir.path()), (vec![], 40_000));

        // A path that would leave DIR is not read.
        let evil = manifest("x", &[(&["..", "song.flac"], &big)]);
        assert_eq!(
            check(&evil, dir.path()).0,
            ["../song.flac: not a safe path"]
        );
    }
}
