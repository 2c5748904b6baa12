//! Where passphrases come from: a file, the environment, or the terminal.

use std::path::PathBuf;

use age::secrecy::SecretString;
use anyhow::{bail, Context, Result};

/// The environment variable holding a passphrase.
pub const ENV: &str = "BTL_PASSPHRASE";

/// Passphrase options shared by the commands that need one.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PassArgs {
    /// Read the passphrase from the first line of FILE (else from
    /// BTL_PASSPHRASE, else from a prompt on the terminal).
    #[arg(long, env = "BTL_PASSPHRASE_FILE", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// Gets a passphrase: from `--passphrase-file`, else `BTL_PASSPHRASE`, else
/// a prompt on the controlling terminal (asked twice when `confirm`).
pub fn get(args: &PassArgs, prompt: &str, confirm: bool) -> Result<SecretString> {
    if let Some(path) = &args.passphrase_file {
        let bytes = crate::input::read_capped(path, 64 << 10)
            .with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
        let line = text.lines().next().unwrap_or("").to_string();
        if line.is_empty() {
            bail!("the passphrase file {} is empty", path.display());
        }
        return Ok(SecretString::from(line));
    }
    if let Some(v) = std::env::var_os(ENV) {
        let s = v
            .into_string()
            .map_err(|_| anyhow::anyhow!("{ENV} is not valid UTF-8"))?;
        if s.is_empty() {
            bail!("{ENV} is set but empty");
        }
        return Ok(SecretString::from(s));
    }
    let first = rpassword::prompt_password(prompt).map_err(|e| {
        anyhow::anyhow!(
            "no passphrase: cannot prompt on a terminal ({e}); use --passphrase-file FILE or set {ENV}"
        )
    })?;
    if first.is_empty() {
        bail!("empty passphrase (for an unencrypted key, say --unencrypted)");
    }
    if confirm {
        let again = rpassword::prompt_password("Repeat the passphrase: ")
            .map_err(|e| anyhow::anyhow!("cannot read the passphrase: {e}"))?;
        if again != first {
            bail!("the two passphrases differ");
        }
    }
    Ok(SecretString::from(first))
}
