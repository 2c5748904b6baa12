//! Manifests and torrents: building a manifest from a torrent, and checking
//! that a torrent is the one a manifest describes.

use btl_metainfo::torrent::Torrent;
use btl_types::{Sha1Hash, Sha256Hash};

use super::{License, Manifest, ManifestError, ManifestFile, Payment};
use crate::did::DidKey;

impl Manifest {
    /// The manifest of `torrent` by `creator`, created at `created` (Unix
    /// seconds). The torrent must be v2 or hybrid: the manifest anchors its
    /// BEP 52 infohash and Merkle roots.
    ///
    /// # Errors
    ///
    /// [`ManifestError::Torrent`] for a v1-only torrent, or a field error
    /// if the result breaks a rule (a bad license expression, splits that
    /// do not sum to 10000, a torrent with more than
    /// [`super::MAX_FILES`] files).
    pub fn from_torrent(
        torrent: &Torrent,
        creator: DidKey,
        created: i64,
        license: License,
        payment: Option<Payment>,
    ) -> Result<Manifest, ManifestError> {
        let ih = torrent.info_hashes();
        let Some(infohash_v2) = ih.v2() else {
            return Err(ManifestError::Torrent(format!(
                "{} is a v1-only torrent: a manifest anchors the BEP 52 (v2) infohash and \
                 Merkle roots; recreate it as hybrid or v2 (btl create does hybrid by default)",
                torrent.name()
            )));
        };
        let m = Manifest {
            creator,
            created,
            name: torrent.name().to_string(),
            infohash_v2,
            infohash_v1: ih.v1(),
            piece_length: torrent.piece_length(),
            files: torrent_files(torrent),
            license,
            payment,
        };
        m.validate()?;
        Ok(m)
    }

    /// Checks that `torrent` is the torrent this manifest describes: same
    /// infohashes, name, piece length, and the same files with the same
    /// lengths and pieces roots, in order.
    ///
    /// # Errors
    ///
    /// A [`TorrentMismatch`] listing every difference.
    pub fn check_torrent(&self, torrent: &Torrent) -> Result<(), TorrentMismatch> {
        let mut d = Vec::new();
        let ih = torrent.info_hashes();
        if ih.v2() != Some(self.infohash_v2) {
            d.push(Difference::InfohashV2 {
                manifest: self.infohash_v2,
                torrent: ih.v2(),
            });
        }
        if ih.v1() != self.infohash_v1 {
            d.push(Difference::InfohashV1 {
                manifest: self.infohash_v1,
                torrent: ih.v1(),
            });
        }
        if torrent.name() != self.name {
            d.push(Difference::Name {
                manifest: self.name.clone(),
                torrent: torrent.name().to_string(),
            });
        }
        if torrent.piece_length() != self.piece_length {
            d.push(Difference::PieceLength {
                manifest: self.piece_length,
                torrent: torrent.piece_length(),
            });
        }
        let files = torrent_files(torrent);
        if files.len() != self.files.len() {
            d.push(Difference::FileCount {
                manifest: self.files.len(),
                torrent: files.len(),
            });
        }
        for (i, (m, t)) in self.files.iter().zip(&files).enumerate() {
            let path = m.path.join("/");
            if m.path != t.path {
                d.push(Difference::FilePath {
                    index: i,
                    manifest: path.clone(),
                    torrent: t.path.join("/"),
                });
            }
            if m.length != t.length {
                d.push(Difference::FileLength {
                    path: path.clone(),
                    manifest: m.length,
                    torrent: t.length,
                });
            }
            if m.pieces_root != t.pieces_root {
                d.push(Difference::PiecesRoot {
                    path,
                    manifest: m.pieces_root,
                    torrent: t.pieces_root,
                });
            }
        }
        if d.is_empty() {
            Ok(())
        } else {
            Err(TorrentMismatch(d))
        }
    }
}

/// The torrent's files as a manifest lists them (pad files left out).
fn torrent_files(torrent: &Torrent) -> Vec<ManifestFile> {
    torrent
        .files()
        .iter()
        .filter(|f| !f.is_pad())
        .map(|f| ManifestFile {
            path: f.path.clone(),
            length: f.length,
            pieces_root: f.pieces_root,
        })
        .collect()
}

/// One way a torrent differs from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Difference {
    /// Different v2 infohash: the manifest is for another torrent.
    InfohashV2 {
        /// In the manifest.
        manifest: Sha256Hash,
        /// In the torrent (`None`: a v1-only torrent).
        torrent: Option<Sha256Hash>,
    },
    /// Different v1 infohash (or one has it and the other not).
    InfohashV1 {
        /// In the manifest.
        manifest: Option<Sha1Hash>,
        /// In the torrent.
        torrent: Option<Sha1Hash>,
    },
    /// Different name.
    Name {
        /// In the manifest.
        manifest: String,
        /// In the torrent.
        torrent: String,
    },
    /// Different piece length.
    PieceLength {
        /// In the manifest.
        manifest: u64,
        /// In the torrent.
        torrent: u64,
    },
    /// A different number of files.
    FileCount {
        /// In the manifest.
        manifest: usize,
        /// In the torrent.
        torrent: usize,
    },
    /// File number `index` has another path.
    FilePath {
        /// Index in the file list.
        index: usize,
        /// In the manifest.
        manifest: String,
        /// In the torrent.
        torrent: String,
    },
    /// A file has another length.
    FileLength {
        /// The file's path in the manifest.
        path: String,
        /// In the manifest.
        manifest: u64,
        /// In the torrent.
        torrent: u64,
    },
    /// A file has another pieces root: different content.
    PiecesRoot {
        /// The file's path in the manifest.
        path: String,
        /// In the manifest.
        manifest: Option<Sha256Hash>,
        /// In the torrent.
        torrent: Option<Sha256Hash>,
    },
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "none".to_string(), T::to_string)
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::InfohashV2 { manifest, torrent } => write!(
                f,
                "the manifest is for another torrent: its v2 infohash is {manifest}, the torrent's is {}",
                opt(torrent)
            ),
            Difference::InfohashV1 { manifest, torrent } => write!(
                f,
                "v1 infohash differs: manifest {}, torrent {}",
                opt(manifest),
                opt(torrent)
            ),
            Difference::Name { manifest, torrent } => {
                write!(f, "name differs: manifest {manifest:?}, torrent {torrent:?}")
            }
            Difference::PieceLength { manifest, torrent } => write!(
                f,
                "piece length differs: manifest {manifest}, torrent {torrent}"
            ),
            Difference::FileCount { manifest, torrent } => write!(
                f,
                "the manifest lists {manifest} files, the torrent has {torrent}"
            ),
            Difference::FilePath {
                index,
                manifest,
                torrent,
            } => write!(
                f,
                "file {index} is {manifest:?} in the manifest but {torrent:?} in the torrent"
            ),
            Difference::FileLength {
                path,
                manifest,
                torrent,
            } => write!(
                f,
                "{path}: length differs: manifest {manifest}, torrent {torrent}"
            ),
            Difference::PiecesRoot {
                path,
                manifest,
                torrent,
            } => write!(
                f,
                "{path}: pieces root does not match: manifest {}, torrent {}",
                opt(manifest),
                opt(torrent)
            ),
        }
    }
}

/// The differences between a torrent and its manifest (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentMismatch(pub Vec<Difference>);

impl TorrentMismatch {
    /// Whether the torrent is another torrent altogether (its v2 infohash
    /// differs), as opposed to a manifest that misdescribes it.
    pub fn other_torrent(&self) -> bool {
        self.0
            .iter()
            .any(|d| matches!(d, Difference::InfohashV2 { .. }))
    }
}

impl std::fmt::Display for TorrentMismatch {
    /// The differences, `; `-separated; at most ten, then how many more.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 10;
        for (i, d) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, "; and {} more differences", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for TorrentMismatch {}
