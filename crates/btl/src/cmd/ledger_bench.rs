//! `btl ledger bench`: register-torrent throughput and finality latency
//! against running nodes (their HTTP APIs).
//!
//! Transactions are signed before the clock starts by the deterministic
//! benchmark accounts that `btl ledger init --bench-accounts N` funds. They
//! are submitted in batches (POST /txs) round-robin over the given nodes;
//! a watcher polls the first node's /status and reads each new block's
//! transaction ids, so a transaction's finality latency is the time from
//! its submission to the moment its block was seen committed.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use btl_ledger as l;
use serde_json::{json, Value};

/// `btl ledger bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Node HTTP API addresses (transactions go round-robin; the first is
    /// watched for commits).
    #[arg(long, value_delimiter = ',', required = true, value_name = "ADDR,...")]
    pub http: Vec<SocketAddr>,
    /// Transactions to submit.
    #[arg(long, default_value_t = 20_000)]
    pub txs: usize,
    /// Benchmark accounts to sign with (as funded by init --bench-accounts).
    #[arg(long, default_value_t = 512)]
    pub accounts: u32,
    /// Transactions per POST.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Submit at this many transactions per second (paced batches) instead
    /// of as fast as the nodes accept them: finality latency under a given
    /// load rather than under a flood that queues faster than it commits.
    #[arg(long, value_name = "TX/S")]
    pub rate: Option<f64>,
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Result<(u16, Value)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connect {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("bad HTTP reply"))?;
    let code: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("bad HTTP status"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut b = String::new();
        let mut r = rest;
        while let Some((len, tail)) = r.split_once("\r\n") {
            let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            b.push_str(&tail[..n]);
            r = tail[n..].trim_start_matches("\r\n");
        }
        b
    } else {
        rest.to_string()
    };
    Ok((code, serde_json::from_str(&body).unwrap_or(Value::Null)))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the benchmark and prints one JSON line.
pub fn run(a: BenchArgs) -> Result<()> {
    let first = a.http[0];
    let (_, st) = http(first, "GET", "/status", "")?;
    let chain = st["chain_id"]
        .as_str()
        .ok_or_else(|| anyhow!("{first}: no chain id in /status"))?
        .to_string();
    let accounts = a.accounts.max(1);
    // Sign everything first.
    let keys: Vec<_> = (0..accounts)
        .map(|i| l::ed25519_dalek::SigningKey::from_bytes(&crate::cmd::ledger::bench_secret(i)))
        .collect();
    let mut nonces: Vec<u64> = Vec::with_capacity(keys.len());
    for k in &keys {
        let addr = l::PublicKey::from_signing_key(k).address();
        let (code, v) = http(first, "GET", &format!("/account/{addr}"), "")?;
        if code != 200 {
            bail!("benchmark account {addr} is not funded: run `btl ledger init --bench-accounts {accounts}`");
        }
        nonces.push(v["account"]["nonce"].as_u64().unwrap_or(0));
    }
    let run_id = std::process::id().to_be_bytes();
    let mut txs = Vec::with_capacity(a.txs);
    for n in 0..a.txs {
        let ai = n % keys.len();
        let key = &keys[ai];
        let from = l::PublicKey::from_signing_key(key).address();
        let mut ih = [0u8; 32];
        ih[..4].copy_from_slice(&run_id);
        ih[4..12].copy_from_slice(&(n as u64).to_be_bytes());
        let body = l::TxBody::RegisterTorrent(l::RegisterTorrent {
            manifest_hash: [7; 32],
            infohash_v2: ih,
            infohash_v1: None,
            creator: from,
            file_roots: vec![[1; 32]],
            name: format!("bench-{n}"),
            size: 1 << 20,
            license: "CC-BY-4.0".into(),
        });
        let tx = l::Tx {
            from,
            nonce: nonces[ai],
            fee: 1,
            body,
        }
        .sign(&chain, key);
        nonces[ai] += 1;
        txs.push((hex::encode(tx.id(&chain).0), hex::encode(tx.encode())));
    }

    // Watcher: new blocks and the time they were seen.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(String, Instant)>();
    let start_height = st["height"].as_u64().unwrap_or(0);
    let total = a.txs;
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let watcher = std::thread::spawn(move || -> Result<(u64, u64)> {
        let mut h = start_height;
        let mut seen = 0usize;
        while seen < total && Instant::now() < deadline {
            let (_, st) = http(first, "GET", "/status", "")?;
            let tip = st["height"].as_u64().unwrap_or(h);
            let now = Instant::now();
            while h < tip {
                h += 1;
                // The raw block, decoded here: the node does not render
                // thousands of transactions as JSON for the benchmark.
                let (_, b) = http(first, "GET", &format!("/block/{h}?raw=true"), "")?;
                let bytes = hex::decode(b["block_hex"].as_str().unwrap_or_default())
                    .with_context(|| format!("block {h}: block_hex"))?;
                let block = l::Block::decode(&bytes)
                    .map_err(|e| anyhow!("block {h} does not decode: {e}"))?;
                for t in &block.txs {
                    seen += 1;
                    let id = hex::encode(t.id(&block.header.chain_id).0);
                    let _ = done_tx.send((id, now));
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok((start_height, h))
    });

    let t0 = Instant::now();
    let mut submitted: HashMap<String, Instant> = HashMap::with_capacity(a.txs);
    let mut rejected = 0usize;
    let batch = a.batch.max(1);
    for (bi, chunk) in txs.chunks(batch).enumerate() {
        if let Some(rate) = a.rate.filter(|r| *r > 0.0) {
            // Open-loop pacing: batch bi is due at t0 + bi·batch/rate.
            let due = t0 + Duration::from_secs_f64((bi * batch) as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let node = a.http[bi % a.http.len()];
        let body = json!({"txs": chunk.iter().map(|(_, t)| t).collect::<Vec<_>>()}).to_string();
        let now = Instant::now();
        let (code, v) = http(node, "POST", "/txs", &body)?;
        if code != 202 {
            bail!("{node}: POST /txs answered {code}: {v}");
        }
        for ((id, _), r) in chunk
            .iter()
            .zip(v["results"].as_array().into_iter().flatten())
        {
            if r["status"] == "pending" {
                submitted.insert(id.clone(), now);
            } else {
                rejected += 1;
            }
        }
    }
    let submit_secs = t0.elapsed().as_secs_f64();
    let mut lat = Vec::with_capacity(submitted.len());
    let mut last = t0;
    while lat.len() < submitted.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left) {
            Ok((id, at)) => {
                if let Some(s) = submitted.get(&id) {
                    lat.push(at.saturating_duration_since(*s).as_secs_f64() * 1000.0);
                    last = last.max(at);
                }
            }
            Err(_) => break,
        }
    }
    let (h0, h1) = watcher.join().map_err(|_| anyhow!("watcher panicked"))??;
    lat.sort_by(|x, y| x.total_cmp(y));
    let secs = last.saturating_duration_since(t0).as_secs_f64();
    let out = json!({
        "nodes": a.http.len(),
        "rate_limit": a.rate,
        "submitted": submitted.len(),
        "rejected_at_submit": rejected,
        "committed": lat.len(),
        "blocks": h1 - h0,
        "submit_seconds": (submit_secs * 1000.0).round() / 1000.0,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "tx_per_sec": if secs > 0.0 { (lat.len() as f64 / secs).round() } else { 0.0 },
        "latency_ms_p50": percentile(&lat, 0.50).round(),
        "latency_ms_p99": percentile(&lat, 0.99).round(),
    });
    println!("{out}");
    if lat.len() < submitted.len() {
        bail!(
            "only {} of {} transactions committed within {}s",
            lat.len(),
            submitted.len(),
            a.timeout
        );
    }
    Ok(())
}
