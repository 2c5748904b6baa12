//! C2SP `signed-note` (<https://c2sp.org/signed-note>) with Ed25519 keys.
//!
//! A note is UTF-8 text ending in a newline, an empty line, then one or more
//! signature lines:
//!
//! ```text
//! <text, ending in \n>
//! \n
//! — <key name> base64(key ID (4 bytes, big endian) || Ed25519 signature (64 bytes))\n
//! ```
//!
//! The key ID of an Ed25519 key is
//! `SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]`.
//! Signatures cover the text (with its final newline, without the blank
//! line). Notes contain no control characters other than newline.
//!
//! Keys have the text forms of the Go reference implementation
//! (`golang.org/x/mod/sumdb/note`), so they interoperate with its tools:
//!
//! ```text
//! verifier key: <name>+<key ID, 8 hex digits>+base64(0x01 || public key)
//! signer key:   PRIVATE+KEY+<name>+<key ID>+base64(0x01 || 32-byte seed)
//! ```
//!
//! Verification follows the spec: signatures from unknown keys are ignored, a
//! known key whose signature fails rejects the note, and at least one known
//! key must verify. [`VerifierSet`] adds weights and a threshold so that a
//! note can require cosignatures from, say, two thirds of a validator set.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Largest note accepted by [`Note::parse`], in bytes.
pub const MAX_NOTE_BYTES: usize = 128 * 1024;
/// Most signature lines accepted by [`Note::parse`] (the spec asks for at
/// least 16).
pub const MAX_SIGNATURES: usize = 256;
/// Longest key name accepted, in bytes.
pub const MAX_KEY_NAME_BYTES: usize = 256;
/// Longest decoded signature accepted (key ID included), in bytes.
pub const MAX_SIGNATURE_BYTES: usize = 8 * 1024;
/// The signature type byte of plain Ed25519 signatures.
pub const ALG_ED25519: u8 = 0x01;

/// Errors from parsing, signing or verifying notes and keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_BYTES`].
    #[error("note is larger than {MAX_NOTE_BYTES} bytes")]
    TooLarge,
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8")]
    NotUtf8,
    /// The note contains a control character other than newline.
    #[error("note contains a control character other than newline")]
    ControlCharacter,
    /// The text does not end in a newline (or is empty).
    #[error("note text must end with a newline")]
    TextNotTerminated,
    /// No blank line separates the text from the signatures, or there are
    /// no signatures.
    #[error("note has no signature block")]
    NoSignatures,
    /// A signature line is not `— <name> <base64>`.
    #[error("malformed signature line {line}")]
    MalformedSignatureLine {
        /// 1-based line number within the signature block.
        line: usize,
    },
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// A key name is empty, too long, or contains a space or `+`.
    #[error("invalid key name {0:?}")]
    BadKeyName(String),
    /// A verifier or signer key string is malformed.
    #[error("malformed key: {0}")]
    BadKey(&'static str),
    /// The key uses a signature type other than Ed25519.
    #[error("unsupported signature type {0:#04x}")]
    UnsupportedAlgorithm(u8),
    /// The key ID in a key string does not match its name and key.
    #[error("key ID does not match the key name and public key")]
    KeyIdMismatch,
    /// A known key's signature does not verify.
    #[error("signature by {name} does not verify")]
    InvalidSignature {
        /// The key name.
        name: String,
    },
    /// No signature from a known key.
    #[error("no signature from a trusted key")]
    NoTrustedSignature,
    /// Known keys signed, but their total weight is below the threshold.
    #[error("trusted signatures weigh {have}, need {need}")]
    BelowThreshold {
        /// Total weight of the keys that verified.
        have: u64,
        /// The threshold.
        need: u64,
    },
}

/// Checks a key name: non-empty, at most [`MAX_KEY_NAME_BYTES`], no Unicode
/// space, no `+`, no control character.
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name.len() > MAX_KEY_NAME_BYTES
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(NoteError::BadKeyName(name.chars().take(64).collect()));
    }
    Ok(())
}

/// The key ID of an Ed25519 key: `SHA-256(name || 0x0A || 0x01 || key)[:4]`
/// read as a big-endian integer.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, ALG_ED25519]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// A public key that verifies note signatures: a key name and an Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `key` under `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, key.as_bytes()),
            key,
        })
    }

    /// Parses `<name>+<hex key ID>+<base64(0x01 || key)>`.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        if vkey.len() > MAX_KEY_NAME_BYTES + 128 {
            return Err(NoteError::BadKey("too long"));
        }
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadKey("expected name+id+key"));
        };
        check_key_name(name)?;
        let id = parse_key_id(id_hex)?;
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::BadKey("key is not base64"))?;
        let (&alg, key) = raw.split_first().ok_or(NoteError::BadKey("empty key"))?;
        if alg != ALG_ED25519 {
            return Err(NoteError::UnsupportedAlgorithm(alg));
        }
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| NoteError::BadKey("Ed25519 key must be 32 bytes"))?;
        let key =
            VerifyingKey::from_bytes(&key).map_err(|_| NoteError::BadKey("not an Ed25519 key"))?;
        let v = Self::new(name, key)?;
        if v.id != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(v)
    }

    /// The verifier key string (see [`from_vkey`](Self::from_vkey)).
    pub fn to_vkey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The Ed25519 public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether `sig` is this key's valid signature over `text`.
    pub fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(text, &sig).is_ok()
    }
}

fn parse_key_id(hex: &str) -> Result<u32, NoteError> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::BadKey("key ID must be 8 hex digits"));
    }
    u32::from_str_radix(hex, 16).map_err(|_| NoteError::BadKey("key ID must be 8 hex digits"))
}

/// A private key that signs notes: a key name and an Ed25519 signing key.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer with `key` under `name`.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::BadKey("expected PRIVATE+KEY+ prefix"))?;
        if rest.len() > MAX_KEY_NAME_BYTES + 128 {
            return Err(NoteError::BadKey("too long"));
        }
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadKey("expected PRIVATE+KEY+name+id+key"));
        };
        let id = parse_key_id(id_hex)?;
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::BadKey("key is not base64"))?;
        let (&alg, seed) = raw.split_first().ok_or(NoteError::BadKey("empty key"))?;
        if alg != ALG_ED25519 {
            return Err(NoteError::UnsupportedAlgorithm(alg));
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| NoteError::BadKey("Ed25519 seed must be 32 bytes"))?;
        let s = Self::new(name, SigningKey::from_bytes(&seed))?;
        if s.id != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(s)
    }

    /// The signer key string (see [`from_skey`](Self::from_skey)). Secret.
    pub fn to_skey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(raw)
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs a note text (which must end with a newline and contain no
    /// control characters other than newline).
    pub fn sign(&self, text: &str) -> Result<NoteSignature, NoteError> {
        check_text(text)?;
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.id,
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::TextNotTerminated);
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::ControlCharacter);
    }
    if text.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge);
    }
    Ok(())
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: u32,
    /// The signature bytes, without the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, without its newline: `— name base64(id || sig)`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("\u{2014} {} {}", self.name, B64.encode(raw))
    }
}

/// A signed note: text plus signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// A note over `text` with no signatures yet.
    pub fn new(text: &str) -> Result<Self, NoteError> {
        check_text(text)?;
        Ok(Self {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Signs `text` with `signer`.
    pub fn sign(text: &str, signer: &NoteSigner) -> Result<Self, NoteError> {
        let mut n = Self::new(text)?;
        n.add_signature(signer.sign(text)?)?;
        Ok(n)
    }

    /// The text (with its final newline).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature (for example a cosignature from another signer). A
    /// signature with the same key name and ID as an existing one replaces
    /// it.
    pub fn add_signature(&mut self, sig: NoteSignature) -> Result<(), NoteError> {
        check_key_name(&sig.name)?;
        if let Some(s) = self
            .signatures
            .iter_mut()
            .find(|s| s.name == sig.name && s.key_id == sig.key_id)
        {
            *s = sig;
            return Ok(());
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// Parses a signed note (bounded: [`MAX_NOTE_BYTES`], [`MAX_SIGNATURES`]).
    /// Signatures are not checked here; see [`verify`](Self::verify).
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge);
        }
        let s = std::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
        if s.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        if !s.ends_with('\n') {
            return Err(NoteError::TextNotTerminated);
        }
        let split = s.rfind("\n\n").ok_or(NoteError::NoSignatures)?;
        let text = &s[..=split];
        let block = &s[split + 2..];
        if block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let mut signatures = Vec::new();
        // `block` ends with '\n'; drop the empty piece after it.
        let lines = block[..block.len() - 1].split('\n');
        for (i, line) in lines.enumerate() {
            if signatures.len() >= MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(parse_sig_line(line, i + 1)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note in its text form: text, blank line, signature lines.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1 + self.signatures.len() * 110);
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
            out.push('\n');
        }
        out
    }

    /// Verifies the note against a set of trusted keys: unknown keys are
    /// ignored, a failing known key rejects the note, and the known keys
    /// that verify must weigh at least the set's threshold (and at least one
    /// must verify). Returns the indexes (in `set`) of the keys that signed.
    pub fn verify(&self, set: &VerifierSet) -> Result<Vec<usize>, NoteError> {
        let mut signed: Vec<usize> = Vec::new();
        let mut weight: u64 = 0;
        for sig in &self.signatures {
            let Some(idx) = set.position(&sig.name, sig.key_id) else {
                continue;
            };
            let (v, w) = &set.keys[idx];
            if !v.verify(self.text.as_bytes(), &sig.signature) {
                return Err(NoteError::InvalidSignature {
                    name: sig.name.clone(),
                });
            }
            if !signed.contains(&idx) {
                signed.push(idx);
                weight = weight.saturating_add(*w);
            }
        }
        if signed.is_empty() {
            return Err(NoteError::NoTrustedSignature);
        }
        if weight < set.threshold {
            return Err(NoteError::BelowThreshold {
                have: weight,
                need: set.threshold,
            });
        }
        Ok(signed)
    }
}

fn parse_sig_line(line: &str, n: usize) -> Result<NoteSignature, NoteError> {
    let bad = NoteError::MalformedSignatureLine { line: n };
    let rest = line.strip_prefix("\u{2014} ").ok_or(bad.clone())?;
    let (name, b64) = rest.split_once(' ').ok_or(bad.clone())?;
    check_key_name(name)?;
    if b64.len() > MAX_SIGNATURE_BYTES * 4 / 3 + 4 {
        return Err(bad);
    }
    let raw = B64.decode(b64).map_err(|_| bad.clone())?;
    if raw.len() < 5 {
        return Err(bad);
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
        signature: raw[4..].to_vec(),
    })
}

/// Trusted note keys with weights and a threshold weight.
#[derive(Debug, Clone, Default)]
pub struct VerifierSet {
    keys: Vec<(NoteVerifier, u64)>,
    threshold: u64,
}

impl VerifierSet {
    /// A set of keys of weight 1 each, needing `threshold` of them.
    pub fn new(keys: impl IntoIterator<Item = NoteVerifier>, threshold: u64) -> Self {
        Self {
            keys: keys.into_iter().map(|k| (k, 1)).collect(),
            threshold,
        }
    }

    /// A set of weighted keys needing a total weight of `threshold`.
    pub fn weighted(keys: impl IntoIterator<Item = (NoteVerifier, u64)>, threshold: u64) -> Self {
        Self {
            keys: keys.into_iter().collect(),
            threshold,
        }
    }

    /// The keys and weights.
    pub fn keys(&self) -> &[(NoteVerifier, u64)] {
        &self.keys
    }

    /// The threshold weight.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    fn position(&self, name: &str, id: u32) -> Option<usize> {
        self.keys
            .iter()
            .position(|(v, _)| v.id == id && v.name == name)
    }
}
