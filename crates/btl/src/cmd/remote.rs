//! `btl remote`: drive a running `btl up` node through its HTTP API (the
//! same `/api/v1` routes the web UI uses).

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Drive a running `btl up` node: list, add, pause, resume, remove, info.
///
/// The node is found at --url (default http://127.0.0.1:9091, `btl up`'s
/// default). A node on another machine needs its token (the file
/// DATA/api-token there): --token, BTL_TOKEN, or --token-file.
///
/// Examples:
///   btl remote list
///   btl remote add 'magnet:?xt=urn:btih:…'
///   btl remote add album.torrent --paused
///   btl remote pause 1        (a number from `list`, or the id)
///   btl remote remove 1 --delete-data
///   btl remote --url http://nas:9091 --token-file token list --json
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node's API [default: http://127.0.0.1:9091].
    #[arg(long, env = "BTL_REMOTE", value_name = "URL", global = true)]
    pub url: Option<String>,
    /// The node's API token.
    #[arg(
        long,
        env = "BTL_TOKEN",
        value_name = "TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// A file holding the API token (e.g. the node's DATA/api-token).
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Print the API's JSON.
    #[arg(long, env = "BTL_JSON", global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// `btl remote` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the node's torrents.
    List,
    /// Add a torrent: a magnet link, an http:// URL of a .torrent, or a
    /// local .torrent (or .btl) file.
    Add {
        /// Magnet link, URL or file.
        source: String,
        /// Add it paused.
        #[arg(long)]
        paused: bool,
    },
    /// Pause a torrent (by number or id).
    Pause {
        /// Number (from `list`) or id.
        id: String,
    },
    /// Resume a torrent.
    Resume {
        /// Number (from `list`) or id.
        id: String,
    },
    /// Remove a torrent from the node.
    Remove {
        /// Number (from `list`) or id.
        id: String,
        /// Also delete its downloaded files.
        #[arg(long)]
        delete_data: bool,
    },
    /// A torrent's details.
    Info {
        /// Number (from `list`) or id.
        id: String,
    },
}

/// The largest reply read.
const MAX_REPLY: usize = 64 << 20;
/// Each request must finish within this.
const TIMEOUT: Duration = Duration::from_secs(60);

struct Client {
    base: String,
    token: Option<String>,
}

impl Client {
    async fn call(&self, method: &str, path: &str, ctype: &str, body: &[u8]) -> Result<Value> {
        let url = format!("{}/api/v1{path}", self.base);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Accept", "application/json")];
        if !body.is_empty() {
            headers.push(("Content-Type", ctype));
        }
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let (status, bytes) =
            btl_node::fetch::request(method, &url, &headers, body, MAX_REPLY, TIMEOUT)
                .await
                .map_err(|e| {
                    if e.contains("refused") {
                        anyhow!(
                    "no btl node answers at {}: {e} (start one with `btl up`, or give --url)",
                    self.base
                )
                    } else {
                        anyhow!("{url}: {e}")
                    }
                })?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(v);
        }
        let msg = v["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
        if status == 401 {
            bail!(
                "the node wants its API token (HTTP 401: {msg}): give --token or --token-file \
                 (the file api-token in the node's data directory)"
            );
        }
        bail!("HTTP {status}: {msg}");
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let rt = crate::cmd::engine::runtime()?;
    rt.block_on(run_async(args))
}

fn id_path(id: &str) -> Result<&str> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("{id:?} is not a torrent number or id");
    }
    Ok(id)
}

async fn run_async(args: Args) -> Result<()> {
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:9091".into())
        .trim_end_matches('/')
        .to_string();
    if !base.starts_with("http://") {
        bail!("--url {base}: want http://HOST:PORT");
    }
    let token = match &args.token_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("cannot read the token file {}", f.display()))?
                .trim()
                .to_string(),
        ),
        None => args.token.clone(),
    };
    let c = Client { base, token };
    let out = match &args.command {
        Command::List => c.call("GET", "/torrents", "", b"").await?,
        Command::Add { source, paused } => {
            let (ctype, body) = if source.starts_with("magnet:") {
                let b = json!({"magnet": source, "paused": paused});
                ("application/json", serde_json::to_vec(&b)?)
            } else if source.starts_with("http://") || source.starts_with("https://") {
                let b = json!({"url": source, "paused": paused});
                ("application/json", serde_json::to_vec(&b)?)
            } else {
                let meta =
                    std::fs::metadata(source).with_context(|| format!("cannot read {source}"))?;
                if meta.len() > btl_node::MAX_TORRENT_BYTES as u64 {
                    bail!("{source} is over the torrent file size limit");
                }
                let bytes =
                    std::fs::read(source).with_context(|| format!("cannot read {source}"))?;
                if *paused {
                    use base64_lite::encode;
                    let b = json!({"torrent": encode(&bytes), "paused": true});
                    ("application/json", serde_json::to_vec(&b)?)
                } else {
                    ("application/x-bittorrent", bytes)
                }
            };
            c.call("POST", "/torrents", ctype, &body).await?
        }
        Command::Pause { id } => {
            c.call(
                "POST",
                &format!("/torrents/{}/pause", id_path(id)?),
                "",
                b"",
            )
            .await?
        }
        Command::Resume { id } => {
            c.call(
                "POST",
                &format!("/torrents/{}/resume", id_path(id)?),
                "",
                b"",
            )
            .await?
        }
        Command::Remove { id, delete_data } => {
            c.call(
                "DELETE",
                &format!("/torrents/{}?delete_data={delete_data}", id_path(id)?),
                "",
                b"",
            )
            .await?
        }
        Command::Info { id } => {
            c.call("GET", &format!("/torrents/{}", id_path(id)?), "", b"")
                .await?
        }
    };
    if args.json {
        println!("{out}");
        return Ok(());
    }
    match &args.command {
        Command::List => {
            let list = out.as_array().cloned().unwrap_or_default();
            println!(
                "{:>4}  {:>6}  {:<11}  {:<13}  NAME",
                "NUM", "DONE", "STATE", "PROVENANCE"
            );
            for t in &list {
                println!(
                    "{:>4}  {:>5.1}%  {:<11}  {:<13}  {}",
                    t["num"],
                    t["progress"].as_f64().unwrap_or(0.0) * 100.0,
                    t["state"].as_str().unwrap_or("?"),
                    t["provenance"]["status"].as_str().unwrap_or("?"),
                    t["name"].as_str().unwrap_or("?"),
                );
            }
            println!("{} torrent(s)", list.len());
        }
        Command::Add { .. } => println!(
            "{} {} (number {}, id {})",
            if out["duplicate"] == true {
                "already there:"
            } else {
                "added"
            },
            out["name"].as_str().unwrap_or("?"),
            out["num"],
            out["id"].as_str().unwrap_or("?")
        ),
        Command::Pause { id } => println!("paused {id}"),
        Command::Resume { id } => println!("resumed {id}"),
        Command::Remove { id, delete_data } => println!(
            "removed {id}{}",
            if *delete_data { " and its files" } else { "" }
        ),
        Command::Info { .. } => {
            if let Some(o) = out.as_object() {
                for (k, v) in o {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    println!("{k:<16} {v}");
                }
            }
        }
    }
    Ok(())
}

/// A small standard base64 encoder (RFC 4648, with padding) for adding a
/// torrent file paused.
mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Encodes `data`.
    pub fn encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn rfc4648_vectors() {
            for (i, o) in [
                ("", ""),
                ("f", "Zg=="),
                ("fo", "Zm8="),
                ("foo", "Zm9v"),
                ("foob", "Zm9vYg=="),
                ("fooba", "Zm9vYmE="),
                ("foobar", "Zm9vYmFy"),
            ] {
                assert_eq!(super::encode(i.as_bytes()), o);
            }
        }
    }
}
