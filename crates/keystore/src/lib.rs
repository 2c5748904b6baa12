//! Identities (wallets): Ed25519 signing keys kept in a directory, one file
//! per key, encrypted at rest with a passphrase or, for servers that must
//! start unattended, explicitly unencrypted.
//!
//! This is the I/O side; the key formats (`did:key`, Multikey, account
//! addresses) are in the pure `btl-manifest` crate.
//!
//! # Key file format (`<dir>/<name>.key`, version 1)
//!
//! A UTF-8 JSON object, at most [`MAX_KEY_FILE`] bytes:
//!
//! ```json
//! {
//!   "type": "BtlKey",
//!   "version": 1,
//!   "name": "alice",
//!   "did": "did:key:z6Mk…",                 // the public key, readable without the passphrase
//!   "created": "2025-01-01T00:00:00Z",
//!   "encryption": "age-scrypt",             // or "none"
//!   "secret": "-----BEGIN AGE ENCRYPTED FILE-----\n…"
//! }
//! ```
//!
//! The secret is the key's secret Multikey (`z3u2…`: base58btc of
//! `0x80 0x26 || 32-byte seed`). With `"encryption": "age-scrypt"` it is
//! an ASCII-armored [age](https://age-encryption.org/v1) file encrypted to a
//! passphrase (scrypt recipient), so the standard `age -d` tool can also
//! open it; with `"none"` it is the Multikey text itself. On load the
//! public key derived from the secret must equal `did`.
//!
//! # File system rules
//!
//! - Key files are created with mode `0600` (never wider, whatever the
//!   umask) by writing a temporary file and linking it into place, so a key
//!   file is never half-written and an existing key is never overwritten.
//! - A key file that group or others can access (`mode & 0o077 != 0`) is
//!   refused for anything that reads its secret, with the `chmod` to fix it;
//!   listing shows such keys as insecure.
//! - The directory is created `0700`. A directory that group or others can
//!   write to is refused (someone could replace a key).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use btl_manifest::did::{secret_multikey, signing_key_from_secret_multikey};
use btl_manifest::{Account, DidKey, SigningKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Largest key file read.
pub const MAX_KEY_FILE: u64 = 64 << 10;
/// The key file's `type`.
pub const KEY_TYPE: &str = "BtlKey";
/// Longest key name.
pub const MAX_NAME_LEN: usize = 64;
/// Lowest scrypt work factor (log2 N) accepted when encrypting.
pub const MIN_SCRYPT_LOG_N: u8 = 10;
/// Highest scrypt work factor (log2 N) accepted when encrypting (N = 2^22
/// needs 4 GiB of memory).
pub const MAX_SCRYPT_LOG_N: u8 = 22;

/// What can go wrong. Messages name the key or file and say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A file system operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The name is not allowed.
    #[error("invalid key name {0:?}: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' or '-'")]
    BadName(String),
    /// No key by that name.
    #[error("no key named {name:?} in {}", dir.display())]
    NotFound {
        /// The name.
        name: String,
        /// The directory searched.
        dir: PathBuf,
    },
    /// A key by that name exists already.
    #[error("a key named {name:?} already exists ({})", path.display())]
    Exists {
        /// The name.
        name: String,
        /// Its file.
        path: PathBuf,
    },
    /// The key file can be read or written by group or others.
    #[error("{} is accessible by group or others (mode {mode:04o}); fix it with: chmod 600 {}", path.display(), path.display())]
    InsecureFile {
        /// The file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// The keys directory can be written by group or others.
    #[error("{} can be written by group or others (mode {mode:04o}); fix it with: chmod 700 {}", path.display(), path.display())]
    InsecureDir {
        /// The directory.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// The key file is not in the expected format.
    #[error("{} is not a valid key file: {why}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The passphrase is wrong (or the file was tampered with).
    #[error("wrong passphrase for key {0:?}")]
    WrongPassphrase(String),
    /// The key is encrypted and no passphrase was given.
    #[error("key {0:?} is encrypted: a passphrase is needed")]
    NeedPassphrase(String),
    /// Encryption failed.
    #[error("cannot encrypt the key: {0}")]
    Encrypt(String),
    /// The system's random number generator failed.
    #[error("cannot get random bytes for a new key: {0}")]
    Random(String),
    /// A bad argument.
    #[error("{0}")]
    Invalid(String),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> KeyError + 'a {
    move |source| KeyError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// How a new key's secret is stored.
pub enum Protection {
    /// Encrypted with age to this passphrase, with scrypt work factor
    /// `2^log_n` (`None`: age's choice, about one second on this machine).
    Passphrase {
        /// The passphrase (not empty).
        passphrase: SecretString,
        /// log2 of scrypt's N, [`MIN_SCRYPT_LOG_N`]..=[`MAX_SCRYPT_LOG_N`].
        log_n: Option<u8>,
    },
    /// Stored in clear (for servers that start without a person).
    Unencrypted,
}

/// What can be known about a key without its passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's name.
    pub name: String,
    /// The public key.
    pub did: DidKey,
    /// Its ledger account.
    pub account: Account,
    /// Whether the secret is encrypted.
    pub encrypted: bool,
    /// When it was created (Unix seconds).
    pub created: i64,
    /// The key file.
    pub path: PathBuf,
    /// The file's mode bits (permissions).
    pub mode: u32,
}

impl KeyInfo {
    /// Whether group or others can access the file.
    pub fn insecure(&self) -> bool {
        self.mode & 0o077 != 0
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    name: String,
    did: String,
    created: String,
    encryption: String,
    secret: String,
}

const ENC_AGE: &str = "age-scrypt";
const ENC_NONE: &str = "none";

/// Checks a key name (see [`KeyError::BadName`]).
///
/// # Errors
///
/// [`KeyError::BadName`].
pub fn check_name(name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadName(name.chars().take(80).collect()))
    }
}

/// The default keys directory: `$XDG_DATA_HOME/btl/keys`, or
/// `~/.local/share/btl/keys`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("btl/keys"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local/share/btl/keys"))
}

/// A directory of keys.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    /// Opens the keys directory `dir` (nothing is created until a key is
    /// written).
    pub fn new(dir: impl Into<PathBuf>) -> KeyStore {
        KeyStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of key `name`.
    ///
    /// # Errors
    ///
    /// [`KeyError::BadName`].
    pub fn path(&self, name: &str) -> Result<PathBuf, KeyError> {
        check_name(name)?;
        Ok(self.dir.join(format!("{name}.key")))
    }

    fn check_dir(&self) -> Result<(), KeyError> {
        let meta = fs::metadata(&self.dir).map_err(io("cannot read directory", &self.dir))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(KeyError::InsecureDir {
                path: self.dir.clone(),
                mode,
            });
        }
        Ok(())
    }

    /// Creates a new random key.
    ///
    /// # Errors
    ///
    /// [`KeyError`] if the name is taken or invalid, the directory is
    /// insecure, or writing fails.
    pub fn generate(
        &self,
        name: &str,
        protection: &Protection,
        created: i64,
    ) -> Result<KeyInfo, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut seed[..]).map_err(|e| KeyError::Random(e.to_string()))?;
        self.import(name, &SigningKey::from_bytes(&seed), protection, created)
    }

    /// Stores an existing signing key under `name`.
    ///
    /// # Errors
    ///
    /// As [`generate`](Self::generate).
    pub fn import(
        &self,
        name: &str,
        key: &SigningKey,
        protection: &Protection,
        created: i64,
    ) -> Result<KeyInfo, KeyError> {
        let path = self.path(name)?;
        let did = DidKey::of(key);
        let plain = Zeroizing::new(secret_multikey(key));
        let (encryption, secret) = match protection {
            Protection::Unencrypted => (ENC_NONE, plain.to_string()),
            Protection::Passphrase { passphrase, log_n } => {
                use age::secrecy::ExposeSecret;
                if passphrase.expose_secret().is_empty() {
                    return Err(KeyError::Invalid(
                        "the passphrase is empty: give one, or choose --unencrypted".into(),
                    ));
                }
                let mut r = age::scrypt::Recipient::new(passphrase.clone());
                if let Some(n) = *log_n {
                    if !(MIN_SCRYPT_LOG_N..=MAX_SCRYPT_LOG_N).contains(&n) {
                        return Err(KeyError::Invalid(format!(
                            "scrypt work factor {n} is outside {MIN_SCRYPT_LOG_N}..={MAX_SCRYPT_LOG_N}"
                        )));
                    }
                    r.set_work_factor(n);
                }
                let armored = age::encrypt_and_armor(&r, plain.as_bytes())
                    .map_err(|e| KeyError::Encrypt(e.to_string()))?;
                (ENC_AGE, armored)
            }
        };
        let file = KeyFile {
            kind: KEY_TYPE.into(),
            version: 1,
            name: name.into(),
            did: did.to_string(),
            created: btl_manifest::time::format_utc(created),
            encryption: encryption.into(),
            secret,
        };
        let mut text = Zeroizing::new(
            serde_json::to_string_pretty(&file).map_err(|e| KeyError::Invalid(e.to_string()))?,
        );
        text.push('\n');
        self.write_new(name, &path, text.as_bytes())?;
        self.info(name)
    }

    /// Adds a key file as it is (for example one made by `export`), under
    /// `name`. The file is checked: its format, and for an unencrypted one
    /// that the secret matches the public key.
    ///
    /// # Errors
    ///
    /// [`KeyError::BadFile`] for a file that is not a key file, or as
    /// [`generate`](Self::generate).
    pub fn import_file(&self, name: &str, bytes: &[u8]) -> Result<KeyInfo, KeyError> {
        let path = self.path(name)?;
        let src = PathBuf::from("(imported key file)");
        let mut file = parse_key_file(&src, bytes)?;
        let did = check_did(&src, &file)?;
        if file.encryption == ENC_NONE {
            let key = secret_of(&src, &file.secret)?;
            if DidKey::of(&key) != did {
                return Err(KeyError::BadFile {
                    path: src,
                    why: "the secret does not match the public key".into(),
                });
            }
        }
        file.name = name.to_string();
        let mut text = Zeroizing::new(
            serde_json::to_string_pretty(&file).map_err(|e| KeyError::Invalid(e.to_string()))?,
        );
        text.push('\n');
        self.write_new(name, &path, text.as_bytes())?;
        self.info(name)
    }

    /// Writes a new file with mode 0600, refusing to replace one.
    fn write_new(&self, name: &str, path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
        if !self.dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(io("cannot create directory", &self.dir))?;
        }
        self.check_dir()?;
        if path.exists() {
            return Err(KeyError::Exists {
                name: name.into(),
                path: path.to_path_buf(),
            });
        }
        let tmp = self
            .dir
            .join(format!(".{name}.key.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io("cannot create", &tmp))?;
            // The umask can only narrow 0600; make sure anyway.
            f.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(io("cannot set permissions on", &tmp))?;
            f.write_all(bytes).map_err(io("cannot write", &tmp))?;
            f.sync_all().map_err(io("cannot sync", &tmp))?;
            // A hard link never replaces an existing file: two processes
            // creating the same name cannot both win.
            fs::hard_link(&tmp, path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    KeyError::Exists {
                        name: name.into(),
                        path: path.to_path_buf(),
                    }
                } else {
                    KeyError::Io {
                        what: "cannot create",
                        path: path.to_path_buf(),
                        source: e,
                    }
                }
            })
        })();
        let _ = fs::remove_file(&tmp);
        result?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads a key file (bounded), with its mode bits.
    fn read(&self, name: &str) -> Result<(PathBuf, Zeroizing<Vec<u8>>, u32), KeyError> {
        let path = self.path(name)?;
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyError::NotFound {
                    name: name.into(),
                    dir: self.dir.clone(),
                })
            }
            Err(e) => return Err(io("cannot open", &path)(e)),
        };
        let meta = f.metadata().map_err(io("cannot read", &path))?;
        if !meta.is_file() {
            return Err(KeyError::BadFile {
                path,
                why: "not a regular file".into(),
            });
        }
        let mode = meta.permissions().mode() & 0o7777;
        let mut buf = Zeroizing::new(Vec::new());
        f.take(MAX_KEY_FILE + 1)
            .read_to_end(&mut buf)
            .map_err(io("cannot read", &path))?;
        if buf.len() as u64 > MAX_KEY_FILE {
            return Err(KeyError::BadFile {
                path,
                why: format!("larger than {MAX_KEY_FILE} bytes"),
            });
        }
        Ok((path, buf, mode))
    }

    /// What is known about key `name` without its passphrase.
    ///
    /// # Errors
    ///
    /// [`KeyError::NotFound`], [`KeyError::BadFile`], or an I/O error.
    pub fn info(&self, name: &str) -> Result<KeyInfo, KeyError> {
        let (path, bytes, mode) = self.read(name)?;
        let file = parse_key_file(&path, &bytes)?;
        info_of(&path, &file, name, mode)
    }

    /// Every key in the directory, by name. Files that are not valid key
    /// files are reported in the second list.
    ///
    /// # Errors
    ///
    /// An I/O error reading the directory (a missing directory is an empty
    /// list).
    pub fn list(&self) -> Result<(Vec<KeyInfo>, Vec<KeyError>), KeyError> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), Vec::new()))
            }
            Err(e) => return Err(io("cannot read directory", &self.dir)(e)),
        };
        let mut names: Vec<String> = Vec::new();
        for entry in rd {
            let entry = entry.map_err(io("cannot read directory", &self.dir))?;
            let file_name = entry.file_name();
            let Some(n) = file_name.to_str().and_then(|s| s.strip_suffix(".key")) else {
                continue;
            };
            if check_name(n).is_ok() {
                names.push(n.to_string());
            }
        }
        names.sort();
        let mut keys = Vec::new();
        let mut bad = Vec::new();
        for n in names {
            match self.info(&n) {
                Ok(k) => keys.push(k),
                Err(e) => bad.push(e),
            }
        }
        Ok((keys, bad))
    }

    /// Whether key `name` needs a passphrase.
    ///
    /// # Errors
    ///
    /// As [`info`](Self::info).
    pub fn is_encrypted(&self, name: &str) -> Result<bool, KeyError> {
        self.info(name).map(|k| k.encrypted)
    }

    /// Loads key `name`'s signing key. Refuses a file that group or others
    /// can access.
    ///
    /// # Errors
    ///
    /// [`KeyError::InsecureFile`], [`KeyError::NeedPassphrase`],
    /// [`KeyError::WrongPassphrase`], [`KeyError::BadFile`], ...
    pub fn load(
        &self,
        name: &str,
        passphrase: Option<&SecretString>,
    ) -> Result<SigningKey, KeyError> {
        let (path, bytes, mode) = self.read(name)?;
        if mode & 0o077 != 0 {
            return Err(KeyError::InsecureFile { path, mode });
        }
        self.check_dir()?;
        let file = parse_key_file(&path, &bytes)?;
        let did = check_did(&path, &file)?;
        let key = match file.encryption.as_str() {
            ENC_NONE => secret_of(&path, &file.secret)?,
            _ => {
                let pass = passphrase.ok_or_else(|| KeyError::NeedPassphrase(name.into()))?;
                let identity = age::scrypt::Identity::new(pass.clone());
                let plain = Zeroizing::new(
                    age::decrypt(&identity, file.secret.as_bytes()).map_err(|e| match e {
                        age::DecryptError::NoMatchingKeys | age::DecryptError::DecryptionFailed => {
                            KeyError::WrongPassphrase(name.into())
                        }
                        other => KeyError::BadFile {
                            path: path.clone(),
                            why: format!("cannot decrypt the secret: {other}"),
                        },
                    })?,
                );
                let text = std::str::from_utf8(&plain).map_err(|_| KeyError::BadFile {
                    path: path.clone(),
                    why: "the decrypted secret is not text".into(),
                })?;
                secret_of(&path, text.trim())?
            }
        };
        if DidKey::of(&key) != did {
            return Err(KeyError::BadFile {
                path,
                why: "the secret does not match the public key".into(),
            });
        }
        Ok(key)
    }

    /// The key file's bytes, as stored (encrypted if the key is). Refuses
    /// an insecure file like [`load`](Self::load).
    ///
    /// # Errors
    ///
    /// As [`info`](Self::info), plus [`KeyError::InsecureFile`].
    pub fn export_file(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let (path, bytes, mode) = self.read(name)?;
        if mode & 0o077 != 0 {
            return Err(KeyError::InsecureFile { path, mode });
        }
        parse_key_file(&path, &bytes)?;
        Ok(bytes)
    }
}

fn parse_key_file(path: &Path, bytes: &[u8]) -> Result<KeyFile, KeyError> {
    let bad = |why: String| KeyError::BadFile {
        path: path.to_path_buf(),
        why,
    };
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(bad(format!("larger than {MAX_KEY_FILE} bytes")));
    }
    let file: KeyFile = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if file.kind != KEY_TYPE {
        return Err(bad(format!("type is {:?}, not {KEY_TYPE:?}", file.kind)));
    }
    if file.version != 1 {
        return Err(bad(format!("version {} is not supported", file.version)));
    }
    if file.encryption != ENC_AGE && file.encryption != ENC_NONE {
        return Err(bad(format!("unknown encryption {:?}", file.encryption)));
    }
    if btl_manifest::time::parse_datetime(&file.created).is_err() {
        return Err(bad(format!(
            "created {:?} is not a date-time",
            file.created
        )));
    }
    Ok(file)
}

fn check_did(path: &Path, file: &KeyFile) -> Result<DidKey, KeyError> {
    file.did.parse().map_err(|e| KeyError::BadFile {
        path: path.to_path_buf(),
        why: format!("did: {e}"),
    })
}

fn secret_of(path: &Path, text: &str) -> Result<SigningKey, KeyError> {
    signing_key_from_secret_multikey(text).map_err(|e| KeyError::BadFile {
        path: path.to_path_buf(),
        why: format!("secret: {e}"),
    })
}

fn info_of(path: &Path, file: &KeyFile, name: &str, mode: u32) -> Result<KeyInfo, KeyError> {
    let did = check_did(path, file)?;
    Ok(KeyInfo {
        name: name.to_string(),
        did,
        account: Account::of(&did),
        encrypted: file.encryption == ENC_AGE,
        created: btl_manifest::time::parse_datetime(&file.created).unwrap_or(0),
        path: path.to_path_buf(),
        mode,
    })
}

/// Runs the key file parser on `data`, as reading a key does (format,
/// public key, unencrypted secret); for the fuzz target. Never panics.
pub fn fuzz_key_file(data: &[u8]) {
    let path = Path::new("fuzz.key");
    if let Ok(file) = parse_key_file(path, data) {
        let _ = check_did(path, &file);
        if file.encryption == ENC_NONE {
            let _ = secret_of(path, &file.secret);
        }
        let _ = info_of(path, &file, "fuzz", 0o600);
    }
}

#[cfg(test)]
mod tests;
