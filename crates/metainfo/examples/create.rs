//! Creates a torrent with `btl_metainfo::create`, for benchmarks and
//! interop tests.
//!
//! ```text
//! cargo run --release -p btl-metainfo --example create -- \
//!     PATH {v1|v2|hybrid} [PIECE_LENGTH|auto] [OUT.torrent] [THREADS]
//! ```
//!
//! Prints one JSON line: infohashes, piece length, seconds spent in
//! `create`.

use btl_metainfo::create::{create, CreateOptions, TorrentVersion};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!(
            "usage: create PATH {{v1|v2|hybrid}} [PIECE_LENGTH|auto] [OUT.torrent] [THREADS]"
        );
        return ExitCode::from(2);
    }
    let version = match args[1].as_str() {
        "v1" => TorrentVersion::V1,
        "v2" => TorrentVersion::V2,
        "hybrid" => TorrentVersion::Hybrid,
        other => {
            eprintln!("unknown version {other}");
            return ExitCode::from(2);
        }
    };
    let piece_length = match args.get(2).map(String::as_str) {
        None | Some("auto") => None,
        Some(n) => match n.parse() {
            Ok(n) => Some(n),
            Err(e) => {
                eprintln!("bad piece length {n}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let threads = args.get(4).and_then(|t| t.parse().ok());
    let opts = CreateOptions {
        version,
        piece_length,
        threads,
        ..CreateOptions::default()
    };
    let start = Instant::now();
    let created = match create(args[0].as_ref(), &opts, &|_, _| {}) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    if let Some(out) = args.get(3).filter(|o| o.as_str() != "-") {
        if let Err(e) = std::fs::write(out, &created.torrent) {
            eprintln!("error: {out}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let hex = |h: Option<String>| h.map_or("null".to_owned(), |h| format!("\"{h}\""));
    println!(
        "{{\"v1\": {}, \"v2\": {}, \"piece_length\": {}, \"total_length\": {}, \"files\": {}, \"seconds\": {seconds}}}",
        hex(created.info_hashes.v1().map(|h| h.to_hex())),
        hex(created.info_hashes.v2().map(|h| h.to_hex())),
        created.piece_length,
        created.total_length,
        created.files,
    );
    ExitCode::SUCCESS
}
