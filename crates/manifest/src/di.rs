//! W3C Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite
//! (Data Integrity EdDSA Cryptosuites v1.0, W3C Recommendation 2025-05-15,
//! section 3.3), restricted to `did:key` verification methods.
//!
//! # The algorithm
//!
//! ```text
//! proof options  = { type: "DataIntegrityProof", cryptosuite: "eddsa-jcs-2022",
//!                    created?, verificationMethod, proofPurpose, @context? }
//! create:  proof = options; if document has @context: proof.@context = document.@context
//!          hashData = SHA-256(JCS(proof)) || SHA-256(JCS(document))        (64 bytes)
//!          proof.proofValue = "z" base58btc( Ed25519-sign(secret, hashData) )
//!          secured = document + { "proof": proof }
//! verify:  document = secured without "proof"; options = proof without "proofValue"
//!          if options.@context: secured.@context must start with it (same order),
//!                               and document.@context = options.@context
//!          check type, cryptosuite, created (an XML Schema dateTimeStamp),
//!                proofPurpose (the one the caller expects), verificationMethod
//!          hashData as above; Ed25519 verify (strict: RFC 8032 checks plus
//!          refusal of small-order keys and R)
//! ```
//!
//! The verification method must be a `did:key` of the form
//! `did:key:z6Mk…#z6Mk…`; its key is read from the identifier itself, so
//! verifying needs no network. Proof sets and chains (an array under
//! `proof`) are refused.
//!
//! # Batch verification
//!
//! [`prepare`] does every check except the signature and returns the
//! 64-byte message, the key and the signature; [`verify_prepared_batch`]
//! checks many at once with Ed25519 batch verification (about twice the
//! throughput of one-by-one), and falls back to one-by-one strict checks to
//! find the culprits when the batch fails. A batch accepts exactly the
//! signatures strict single verification accepts, except signatures that
//! the key's own holder crafted with a small-order component in `R`
//! (batch equations are cofactored); nobody without the secret key can
//! produce one, so batch results are safe for deciding authenticity, and
//! code that needs bit-for-bit agreement with other verifiers (consensus)
//! uses [`verify`].

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::base58;
use crate::did::{truncate, DidError, DidKey};
use crate::jcs::{self, JcsError};
use crate::json::Value;
use crate::time::{self, TimeError};

/// The proof `type`.
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// The `cryptosuite` identifier.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
/// The proof purpose of a signed statement by its issuer.
pub const ASSERTION_METHOD: &str = "assertionMethod";
/// A good batch size for [`verify_prepared_batch`]: from about 100
/// signatures on, batch verification switches to Pippenger's method and
/// costs under half of one-by-one verification per signature.
pub const BATCH_SIZE: usize = 128;

/// Longest base58 text accepted for a 64-byte signature (it is 86-88
/// characters).
const MAX_SIGNATURE_CHARS: usize = 100;

/// Why a proof could not be created or did not verify. Every variant names
/// the field or the step at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiError {
    /// The secured document is not a JSON object.
    #[error("the document is not a JSON object")]
    NotAnObject,
    /// The document has no `proof`.
    #[error("the document has no proof")]
    NoProof,
    /// `proof` is an array (a proof set or chain): not supported.
    #[error("proof sets and chains are not supported (proof is an array)")]
    ProofSet,
    /// A required proof field is missing or not a string.
    #[error("proof.{0} is missing or not a string")]
    MissingField(&'static str),
    /// `proof.type` is not `DataIntegrityProof`.
    #[error("proof.type is {0:?}, expected \"DataIntegrityProof\"")]
    WrongType(String),
    /// `proof.cryptosuite` is not `eddsa-jcs-2022`.
    #[error("proof.cryptosuite is {0:?}, expected \"eddsa-jcs-2022\"")]
    WrongCryptosuite(String),
    /// `proof.created` is not a valid date-time.
    #[error("proof.created: {0}")]
    BadCreated(TimeError),
    /// `proof.proofPurpose` is not the one the verifier expects.
    #[error("proof.proofPurpose is {found:?}, expected {expected:?}")]
    WrongPurpose {
        /// Expected purpose.
        expected: String,
        /// Purpose in the proof.
        found: String,
    },
    /// `proof.verificationMethod` is not a usable `did:key`.
    #[error("proof.verificationMethod: {0}")]
    VerificationMethod(DidError),
    /// `proof.proofValue` is not a base58btc-encoded 64-byte signature.
    #[error("proof.proofValue: {0}")]
    BadProofValue(String),
    /// `proof.@context` is not a prefix of the document's `@context`.
    #[error("proof.@context does not match the start of the document's @context")]
    ContextMismatch,
    /// The signature does not verify: the document, the proof options or
    /// the signature were changed, or another key signed.
    #[error("the signature does not verify: the document or its proof was changed, or it was signed by another key")]
    BadSignature,
    /// Canonicalization failed.
    #[error(transparent)]
    Jcs(#[from] JcsError),
}

/// The result of [`prepare`]: everything needed to check the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The signer, from `proof.verificationMethod`.
    pub signer: DidKey,
    /// `SHA-256(JCS(proof config)) || SHA-256(JCS(document))`.
    pub hash_data: [u8; 64],
    /// The signature from `proof.proofValue`.
    pub signature: Signature,
    /// `proof.created`, if present, as Unix seconds.
    pub created: Option<i64>,
}

/// The proof config and document hashes, concatenated (the message that
/// Ed25519 signs).
///
/// # Errors
///
/// [`DiError::Jcs`] if either value has no canonical form.
pub fn hash_data(proof_config: &Value, document: &Value) -> Result<[u8; 64], DiError> {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&Sha256::digest(jcs::canonicalize(proof_config)?));
    out[32..].copy_from_slice(&Sha256::digest(jcs::canonicalize(document)?));
    Ok(out)
}

/// Proof options for [`create`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProofOptions {
    /// `created`, as Unix seconds (written `YYYY-MM-DDTHH:MM:SSZ`), or none.
    pub created: Option<i64>,
    /// `proofPurpose`, usually [`ASSERTION_METHOD`].
    pub proof_purpose: String,
}

impl ProofOptions {
    /// An `assertionMethod` proof created at `created` (Unix seconds).
    pub fn assertion(created: i64) -> ProofOptions {
        ProofOptions {
            created: Some(created),
            proof_purpose: ASSERTION_METHOD.to_string(),
        }
    }

    /// The options object, in the member order the W3C examples use.
    fn to_value(&self, signer: &DidKey) -> Value {
        let mut m = vec![
            ("type".to_string(), Value::String(PROOF_TYPE.into())),
            ("cryptosuite".to_string(), Value::String(CRYPTOSUITE.into())),
        ];
        if let Some(t) = self.created {
            m.push(("created".to_string(), Value::String(time::format_utc(t))));
        }
        m.push((
            "verificationMethod".to_string(),
            Value::String(signer.verification_method()),
        ));
        m.push((
            "proofPurpose".to_string(),
            Value::String(self.proof_purpose.clone()),
        ));
        Value::Object(m)
    }
}

/// Creates an `eddsa-jcs-2022` proof of `document` (an object without a
/// `proof`) signed by `key`, and returns the proof object.
///
/// # Errors
///
/// [`DiError::NotAnObject`], or [`DiError::Jcs`] for a non-finite number.
pub fn create(
    document: &Value,
    options: &ProofOptions,
    key: &SigningKey,
) -> Result<Value, DiError> {
    let signer = DidKey::of(key);
    create_with_options(document, options.to_value(&signer), key)
}

/// [`create`] with the proof options given as a JSON object (as the W3C
/// test vectors state them). The options must name `type`, `cryptosuite`
/// and `verificationMethod`; `proofValue` is added.
///
/// # Errors
///
/// As [`create`], plus the option checks of [`prepare`].
pub fn create_with_options(
    document: &Value,
    options: Value,
    key: &SigningKey,
) -> Result<Value, DiError> {
    if !matches!(document, Value::Object(_)) || !matches!(options, Value::Object(_)) {
        return Err(DiError::NotAnObject);
    }
    let mut proof = options;
    if let Some(ctx) = document.get("@context") {
        proof.insert("@context", ctx.clone());
    }
    check_config(&proof)?;
    let hash = hash_data(&proof, document)?;
    let sig = key.sign(&hash);
    proof.insert(
        "proofValue",
        Value::String(base58::multibase_encode(&sig.to_bytes())),
    );
    Ok(proof)
}

/// Adds a proof to `document` (which must not have one yet).
///
/// # Errors
///
/// As [`create`].
pub fn sign(document: &mut Value, options: &ProofOptions, key: &SigningKey) -> Result<(), DiError> {
    document.remove("proof");
    let proof = create(document, options, key)?;
    document.insert("proof", proof);
    Ok(())
}

/// Checks `type`, `cryptosuite` and `created` of a proof configuration;
/// returns `created` as Unix seconds.
fn check_config(proof: &Value) -> Result<Option<i64>, DiError> {
    let ty = str_field(proof, "type")?;
    if ty != PROOF_TYPE {
        return Err(DiError::WrongType(truncate(ty)));
    }
    let suite = str_field(proof, "cryptosuite")?;
    if suite != CRYPTOSUITE {
        return Err(DiError::WrongCryptosuite(truncate(suite)));
    }
    match proof.get("created") {
        None => Ok(None),
        Some(Value::String(s)) => time::parse_datetime(s)
            .map(Some)
            .map_err(DiError::BadCreated),
        Some(_) => Err(DiError::MissingField("created")),
    }
}

fn str_field<'a>(v: &'a Value, name: &'static str) -> Result<&'a str, DiError> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or(DiError::MissingField(name))
}

/// Does every check of verification except the signature itself, and
/// returns what the signature check needs. `purpose` is the proof purpose
/// the verifier expects (usually [`ASSERTION_METHOD`]).
///
/// # Errors
///
/// A [`DiError`] naming the field at fault.
pub fn prepare(secured: &Value, purpose: &str) -> Result<Prepared, DiError> {
    let Value::Object(members) = secured else {
        return Err(DiError::NotAnObject);
    };
    let proof = match secured.get("proof") {
        None => return Err(DiError::NoProof),
        Some(Value::Array(_)) => return Err(DiError::ProofSet),
        Some(p @ Value::Object(_)) => p,
        Some(_) => return Err(DiError::MissingField("proof")),
    };
    let mut options = proof.clone();
    let proof_value = match options.remove("proofValue") {
        Some(Value::String(s)) => s,
        _ => return Err(DiError::MissingField("proofValue")),
    };
    let created = check_config(&options)?;
    let found = str_field(&options, "proofPurpose")?;
    if found != purpose {
        return Err(DiError::WrongPurpose {
            expected: purpose.to_string(),
            found: truncate(found),
        });
    }
    let signer = DidKey::from_verification_method(str_field(&options, "verificationMethod")?)
        .map_err(DiError::VerificationMethod)?;
    let sig_bytes = base58::multibase_decode(&proof_value, MAX_SIGNATURE_CHARS)
        .map_err(|e| DiError::BadProofValue(e.to_string()))?;
    let sig_bytes: [u8; 64] = sig_bytes.as_slice().try_into().map_err(|_| {
        DiError::BadProofValue(format!(
            "{} bytes, an Ed25519 signature has 64",
            sig_bytes.len()
        ))
    })?;
    let signature = Signature::from_bytes(&sig_bytes);

    // The unsecured document: the members but `proof`, with the proof's
    // @context, if it has one, in place of the document's. Canonicalized
    // from borrowed members, without copying the document.
    let ctx = options.get("@context");
    if let Some(ctx) = ctx {
        if !context_starts_with(secured.get("@context"), ctx) {
            return Err(DiError::ContextMismatch);
        }
    }
    let document: Vec<(&str, &Value)> = members
        .iter()
        .filter(|(k, _)| k != "proof")
        .map(|(k, v)| match (k.as_str(), ctx) {
            ("@context", Some(c)) => (k.as_str(), c),
            _ => (k.as_str(), v),
        })
        .collect();
    let mut doc_text = String::with_capacity(4096);
    jcs::write_object(&mut doc_text, document)?;
    let mut hash = [0u8; 64];
    hash[..32].copy_from_slice(&Sha256::digest(jcs::canonicalize(&options)?));
    hash[32..].copy_from_slice(&Sha256::digest(doc_text.as_bytes()));
    Ok(Prepared {
        signer,
        hash_data: hash,
        signature,
        created,
    })
}

/// Whether the document's `@context` starts with the proof's (each taken
/// as a list; a single value is a list of one).
fn context_starts_with(doc: Option<&Value>, proof: &Value) -> bool {
    let as_list = |v: &Value| -> Vec<Value> {
        match v {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        }
    };
    let Some(doc) = doc else { return false };
    let (d, p) = (as_list(doc), as_list(proof));
    p.len() <= d.len() && d[..p.len()] == p[..]
}

/// Checks one prepared signature strictly.
///
/// # Errors
///
/// [`DiError::BadSignature`].
pub fn verify_prepared(p: &Prepared) -> Result<(), DiError> {
    p.signer
        .verifying_key()
        .verify_strict(&p.hash_data, &p.signature)
        .map_err(|_| DiError::BadSignature)
}

/// Verifies the `eddsa-jcs-2022` proof of `secured` and returns who signed
/// it and when.
///
/// # Errors
///
/// A [`DiError`] naming what is wrong.
pub fn verify(secured: &Value, purpose: &str) -> Result<Prepared, DiError> {
    let p = prepare(secured, purpose)?;
    verify_prepared(&p)?;
    Ok(p)
}

/// Checks many prepared signatures with batch verification; returns one
/// verdict per input, in order. See the module docs for how batch and
/// single verification relate.
pub fn verify_prepared_batch(items: &[Prepared]) -> Vec<bool> {
    if items.is_empty() {
        return Vec::new();
    }
    let msgs: Vec<&[u8]> = items.iter().map(|p| &p.hash_data[..]).collect();
    let sigs: Vec<Signature> = items.iter().map(|p| p.signature).collect();
    let keys: Vec<VerifyingKey> = items.iter().map(|p| *p.signer.verifying_key()).collect();
    if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
        return vec![true; items.len()];
    }
    items.iter().map(|p| verify_prepared(p).is_ok()).collect()
}
