//! What the node keeps in its data directory.
//!
//! ```text
//! DATA/
//!   torrents.json          the torrent list (below), replaced atomically
//!   torrents/ID.torrent    each torrent's metadata (a magnet's once fetched)
//!   resume/ID.journal      each torrent's resume journal (btl-store)
//!   api-token              the HTTP API token (mode 0600)
//!   tracker.state          the embedded tracker's swarms
//!   downloads/             the default download directory
//! ```
//!
//! `torrents.json` is `{"version": 1, "next_num": N, "torrents": [Record...]}`.
//! It is written to `torrents.json.tmp`, synced, renamed over the old one,
//! and the directory synced: after a crash it is the old list or the new
//! one, never a mix. A torrent is in the list before `add` returns, so a
//! `kill -9` right after adding keeps it; progress is in its journal.

use crate::NodeError;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of `torrents.json`.
pub const LIST_VERSION: u32 = 1;

/// Largest `torrents.json` read (a list of a hundred thousand torrents).
const MAX_LIST_BYTES: u64 = 256 << 20;

/// One torrent as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Wire infohash, hex.
    pub id: String,
    /// Stable small number.
    pub num: u32,
    /// Display name (from the magnet until the metadata is known).
    pub name: String,
    /// The magnet link it was added from, if it was.
    #[serde(default)]
    pub magnet: Option<String>,
    /// Save directory.
    pub save_dir: PathBuf,
    /// Paused by the user.
    #[serde(default)]
    pub paused: bool,
    /// File priority levels (see `FilePriority::level`); `None`: all normal.
    #[serde(default)]
    pub file_priorities: Option<Vec<u8>>,
    /// Download limit, bytes/s.
    #[serde(default)]
    pub max_download_rate: u64,
    /// Upload limit, bytes/s.
    #[serde(default)]
    pub max_upload_rate: u64,
    /// Seconds since the epoch.
    pub added_at: u64,
    /// Seconds since the epoch, once complete.
    #[serde(default)]
    pub done_at: Option<u64>,
    /// Peers given when adding (a magnet's `x.pe`), as `HOST:PORT`.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Trackers given when adding (a magnet's `tr`), one tier each.
    #[serde(default)]
    pub trackers: Vec<String>,
}

/// The saved list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFile {
    /// Format version ([`LIST_VERSION`]).
    pub version: u32,
    /// The next torrent number to hand out.
    pub next_num: u32,
    /// The torrents, by number.
    pub torrents: Vec<Record>,
}

/// Paths inside a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Creates (if needed) the directory and its subdirectories.
    pub fn open(root: &Path) -> Result<DataDir, NodeError> {
        for d in [
            root.to_path_buf(),
            root.join("torrents"),
            root.join("resume"),
        ] {
            std::fs::create_dir_all(&d).map_err(|source| NodeError::Io {
                what: "data directory",
                path: d.clone(),
                source,
            })?;
        }
        Ok(DataDir {
            root: root.to_path_buf(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The torrent list.
    pub fn list_path(&self) -> PathBuf {
        self.root.join("torrents.json")
    }

    /// A torrent's metadata file.
    pub fn torrent_path(&self, id: &str) -> PathBuf {
        self.root.join("torrents").join(format!("{id}.torrent"))
    }

    /// A torrent's resume journal.
    pub fn resume_path(&self, id: &str) -> PathBuf {
        self.root.join("resume").join(format!("{id}.journal"))
    }

    /// The API token file.
    pub fn token_path(&self) -> PathBuf {
        self.root.join("api-token")
    }

    /// The tracker's state file.
    pub fn tracker_state_path(&self) -> PathBuf {
        self.root.join("tracker.state")
    }

    /// Reads the torrent list (empty when there is none yet).
    pub fn load_list(&self) -> Result<ListFile, NodeError> {
        let path = self.list_path();
        let corrupt = |why: String| NodeError::CorruptList {
            path: path.clone(),
            why,
        };
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ListFile {
                    version: LIST_VERSION,
                    next_num: 1,
                    torrents: Vec::new(),
                })
            }
            Err(source) => {
                return Err(NodeError::Io {
                    what: "torrent list",
                    path,
                    source,
                })
            }
            Ok(m) if m.len() > MAX_LIST_BYTES => {
                return Err(corrupt(format!("{} bytes is too large", m.len())))
            }
            Ok(_) => {}
        }
        let bytes = std::fs::read(&path).map_err(|source| NodeError::Io {
            what: "torrent list",
            path: path.clone(),
            source,
        })?;
        let list: ListFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if list.version != LIST_VERSION {
            return Err(corrupt(format!(
                "version {} is not {LIST_VERSION}",
                list.version
            )));
        }
        Ok(list)
    }

    /// Saves the torrent list durably (see the module docs).
    pub fn save_list(&self, list: &ListFile) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(list).map_err(std::io::Error::other)?;
        write_atomic(&self.list_path(), &bytes)
    }

    /// Reads the API token, creating a random one (mode 0600) on first use.
    pub fn load_or_create_token(&self) -> Result<String, NodeError> {
        let path = self.token_path();
        let io = |source| NodeError::Io {
            what: "API token",
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(t) if valid_token(t.trim()) => return Ok(t.trim().to_string()),
            Ok(_) => {
                return Err(NodeError::Config(format!(
                    "{} does not hold a token (16 to 128 letters and digits); delete it to get a new one",
                    path.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let bytes: [u8; 24] = rand::random();
        let token = hex::encode(bytes);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&path).map_err(io)?;
        f.write_all(format!("{token}\n").as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(token)
    }
}

fn valid_token(t: &str) -> bool {
    (16..=128).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Writes `bytes` to `path` through a synced temporary file and a rename,
/// then syncs the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_round_trips_and_golden_shape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = DataDir::open(dir.path()).expect("open");
        assert_eq!(d.load_list().expect("empty").torrents.len(), 0);
        let list = ListFile {
            version: LIST_VERSION,
            next_num: 2,
            torrents: vec![Record {
                id: "0123456789abcdef0123456789abcdef01234567".into(),
                num: 1,
                name: "x".into(),
                magnet: None,
                save_dir: "/d".into(),
                paused: true,
                file_priorities: Some(vec![2, 0]),
                max_download_rate: 5,
                max_upload_rate: 0,
                added_at: 1,
                done_at: None,
                peers: vec!["127.0.0.1:1".into()],
                trackers: vec![],
            }],
        };
        d.save_list(&list).expect("save");
        assert_eq!(d.load_list().expect("load"), list);
        // The stored format is pinned: a change here breaks old data dirs.
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.list_path()).expect("read")).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"version": 1, "next_num": 2, "torrents": [{
                "id": "0123456789abcdef0123456789abcdef01234567", "num": 1, "name": "x",
                "magnet": null, "save_dir": "/d", "paused": true, "file_priorities": [2, 0],
                "max_download_rate": 5, "max_upload_rate": 0, "added_at": 1, "done_at": null,
                "peers": ["127.0.0.1:1"], "trackers": []}]})
        );
    }

    #[test]
    fn corrupt_list_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = DataDir::open(dir.path()).expect("open");
        std::fs::write(d.list_path(), b"{not json").expect("write");
        let e = d.load_list().expect_err("corrupt");
        assert!(e.to_string().contains("corrupt"), "{e}");
    }

    #[test]
    fn token_is_created_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = DataDir::open(dir.path()).expect("open");
        let a = d.load_or_create_token().expect("create");
        assert_eq!(a.len(), 48);
        assert_eq!(d.load_or_create_token().expect("read"), a);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.token_path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
