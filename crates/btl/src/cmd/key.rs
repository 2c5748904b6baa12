//! `btl key`: identities (wallets).

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use btl_keystore::{KeyInfo, KeyStore, Protection};
use btl_manifest::did::{secret_multikey, signing_key_from_secret_multikey};
use btl_manifest::SigningKey;
use serde_json::{json, Value};

use crate::passphrase::{self, PassArgs};

/// Manage identities: Ed25519 keys shown as did:key and as ledger accounts.
///
/// Keys live one per file in the keys directory, encrypted with a
/// passphrase (age, scrypt) unless created with --unencrypted (for servers
/// that must start unattended). Key files are written with mode 0600, and a
/// key file that group or others can read is refused until fixed.
///
/// The passphrase comes from --passphrase-file, else from BTL_PASSPHRASE,
/// else from a prompt on the terminal.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: KeyCommand,
    /// The keys directory [default: $XDG_DATA_HOME/btl/keys or
    /// ~/.local/share/btl/keys].
    #[arg(long, env = "BTL_KEYS_DIR", global = true, value_name = "DIR")]
    pub keys_dir: Option<PathBuf>,
}

/// The `btl key` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Create a new random key.
    New(NewArgs),
    /// List the keys (no passphrase needed).
    List(ListArgs),
    /// Show one key: did:key, verification method, account, file.
    Show(ShowArgs),
    /// Write a key out: its key file as stored (encrypted if it is), or
    /// with --secret the secret key itself.
    Export(ExportArgs),
    /// Add a key from a key file (as `export` writes) or from a secret key
    /// (a Multikey `z3u2…` or 64 hex digits of seed).
    Import(ImportArgs),
    /// Move your ledger account to a new key (optionally revoking the old).
    Rotate(crate::cmd::key_ledger::RotateArgs),
}

/// How to protect a new key.
#[derive(Debug, clap::Args)]
pub struct ProtectArgs {
    /// Store the secret unencrypted (for servers). Anyone who can read the
    /// file can sign as you.
    #[arg(long)]
    pub unencrypted: bool,
    /// scrypt work factor as log2(N), 10..=22 [default: about one second on
    /// this machine]. Higher is slower to open and to attack.
    #[arg(long, value_name = "LOG_N")]
    pub scrypt_log_n: Option<u8>,
    #[command(flatten)]
    pub pass: PassArgs,
}

/// `btl key new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// A name for the key: letters, digits, '.', '_', '-'.
    pub name: String,
    #[command(flatten)]
    pub protect: ProtectArgs,
    /// Print JSON.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// `btl key list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON (an array).
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// `btl key show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The key's name.
    pub name: String,
    /// Print JSON.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// `btl key export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The key's name.
    pub name: String,
    /// Write here (created with mode 0600) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the secret key itself (Multikey `z3u2…`), decrypted. Whoever
    /// sees it can sign as you.
    #[arg(long)]
    pub secret: bool,
    #[command(flatten)]
    pub pass: PassArgs,
}

/// `btl key import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A name for the key.
    pub name: String,
    /// A key file, or a file holding a secret key; `-` or nothing reads
    /// standard input.
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub protect: ProtectArgs,
    /// Print JSON.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// Opens the keys directory from the flag, the environment or the default.
pub fn store(dir: Option<&Path>) -> Result<KeyStore> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => btl_keystore::default_dir()
            .context("cannot find a keys directory: set --keys-dir, BTL_KEYS_DIR or HOME")?,
    };
    Ok(KeyStore::new(dir))
}

/// Loads a signing key by name, asking for its passphrase if it has one.
pub fn load(store: &KeyStore, name: &str, pass: &PassArgs) -> Result<SigningKey> {
    let passphrase = if store.is_encrypted(name)? {
        Some(passphrase::get(
            pass,
            &format!("Passphrase for key {name}: "),
            false,
        )?)
    } else {
        None
    };
    Ok(store.load(name, passphrase.as_ref())?)
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let ks = store(args.keys_dir.as_deref())?;
    match args.command {
        KeyCommand::New(a) => {
            let protection =
                protection(&a.protect, &format!("Passphrase for new key {}: ", a.name))?;
            let info = ks.generate(&a.name, &protection, now())?;
            print_created(&info, a.json, "Created")
        }
        KeyCommand::List(a) => list(&ks, a.json),
        KeyCommand::Show(a) => {
            let info = ks.info(&a.name)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&key_json(&info))?);
            } else {
                print_info(&info);
            }
            Ok(())
        }
        KeyCommand::Export(a) => export(&ks, a),
        KeyCommand::Import(a) => import(&ks, a),
        KeyCommand::Rotate(a) => crate::cmd::key_ledger::rotate(&ks, a),
    }
}

fn protection(p: &ProtectArgs, prompt: &str) -> Result<Protection> {
    if p.unencrypted {
        if p.pass.passphrase_file.is_some() {
            bail!("--unencrypted and --passphrase-file contradict each other");
        }
        return Ok(Protection::Unencrypted);
    }
    Ok(Protection::Passphrase {
        passphrase: passphrase::get(&p.pass, prompt, true)?,
        log_n: p.scrypt_log_n,
    })
}

/// The JSON description of a key.
pub fn key_json(k: &KeyInfo) -> Value {
    json!({
        "name": k.name,
        "did": k.did.to_string(),
        "verification_method": k.did.verification_method(),
        "account": k.account.to_string(),
        "public_key": hex::encode(k.did.public_bytes()),
        "encrypted": k.encrypted,
        "created": btl_manifest::time::format_utc(k.created),
        "path": k.path.display().to_string(),
        "insecure_permissions": k.insecure(),
    })
}

fn print_info(k: &KeyInfo) {
    let row = |label: &str, v: &dyn std::fmt::Display| println!("{label:<14}{v}");
    row("Name:", &k.name);
    row("DID:", &k.did);
    row("Method:", &k.did.verification_method());
    row("Account:", &k.account);
    row("Public key:", &hex::encode(k.did.public_bytes()));
    row(
        "Stored:",
        &if k.encrypted {
            "encrypted with a passphrase (age, scrypt)"
        } else {
            "UNENCRYPTED"
        },
    );
    row("Created:", &btl_manifest::time::format_utc(k.created));
    row("File:", &k.path.display());
    if k.insecure() {
        println!(
            "warning: {} is accessible by group or others (mode {:04o}); it will not be used until you run: chmod 600 {}",
            k.path.display(),
            k.mode,
            k.path.display()
        );
    }
}

fn print_created(k: &KeyInfo, json: bool, verb: &str) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&key_json(k))?);
    } else {
        println!("{verb} key {}", k.name);
        print_info(k);
    }
    Ok(())
}

fn list(ks: &KeyStore, json: bool) -> Result<()> {
    let (keys, bad) = ks.list()?;
    for e in &bad {
        eprintln!("warning: {e}");
    }
    if json {
        let v: Vec<Value> = keys.iter().map(key_json).collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if keys.is_empty() {
        println!(
            "No keys in {} (create one with: btl key new NAME)",
            ks.dir().display()
        );
        return Ok(());
    }
    let width = keys.iter().map(|k| k.name.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:<11}  DID", "NAME", "STORED");
    for k in &keys {
        let stored = match (k.encrypted, k.insecure()) {
            (_, true) => "INSECURE",
            (true, false) => "encrypted",
            (false, false) => "unencrypted",
        };
        println!("{:<width$}  {stored:<11}  {}", k.name, k.did);
    }
    Ok(())
}

/// Writes `bytes` to `path` with mode 0600, refusing to overwrite.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn export(ks: &KeyStore, a: ExportArgs) -> Result<()> {
    let bytes: Vec<u8> = if a.secret {
        let key = load(ks, &a.name, &a.pass)?;
        let mut s = secret_multikey(&key);
        s.push('\n');
        s.into_bytes()
    } else {
        ks.export_file(&a.name)?.to_vec()
    };
    match &a.output {
        Some(path) => {
            write_private(path, &bytes)?;
            eprintln!(
                "wrote {} of key {} to {}",
                if a.secret {
                    "the SECRET"
                } else {
                    "the key file"
                },
                a.name,
                path.display()
            );
        }
        None => {
            if a.secret && std::io::stdout().is_terminal() {
                eprintln!("warning: this is the secret key; anyone who sees it can sign as you");
            }
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(())
}

/// Largest import input.
const MAX_IMPORT: u64 = 64 << 10;

fn import(ks: &KeyStore, a: ImportArgs) -> Result<()> {
    let mut input = Vec::new();
    match a.input.as_deref() {
        None => {
            std::io::stdin()
                .take(MAX_IMPORT + 1)
                .read_to_end(&mut input)
                .context("cannot read standard input")?;
        }
        Some(p) if p == Path::new("-") => {
            std::io::stdin()
                .take(MAX_IMPORT + 1)
                .read_to_end(&mut input)
                .context("cannot read standard input")?;
        }
        Some(p) => input = crate::input::read_capped(p, MAX_IMPORT)?,
    }
    if input.len() as u64 > MAX_IMPORT {
        bail!("the input is larger than {MAX_IMPORT} bytes: not a key");
    }
    let text = String::from_utf8_lossy(&input);
    let trimmed = text.trim();
    let info = if trimmed.starts_with('{') {
        if a.protect.unencrypted || a.protect.scrypt_log_n.is_some() {
            bail!("a key file is imported as it is: --unencrypted and --scrypt-log-n do not apply");
        }
        ks.import_file(&a.name, trimmed.as_bytes())?
    } else {
        let key = parse_secret(trimmed)?;
        let protection = protection(&a.protect, &format!("Passphrase for key {}: ", a.name))?;
        ks.import(&a.name, &key, &protection, now())?
    };
    print_created(&info, a.json, "Imported")
}

/// A secret key as text: a secret Multikey (`z3u2…`) or 64 hex digits.
fn parse_secret(s: &str) -> Result<SigningKey> {
    if s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit()) {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(s, &mut seed).context("invalid hex")?;
        return Ok(SigningKey::from_bytes(&seed));
    }
    signing_key_from_secret_multikey(s).map_err(|e| {
        anyhow::anyhow!(
            "not a key file nor a secret key (expected a key file, a Multikey z3u2… or 64 hex digits): {e}"
        )
    })
}
