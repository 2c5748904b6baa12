//! `btl`: the bitorrent command line.
//!
//! A thin shell: every subcommand parses its flags, calls the library
//! crates, and prints for a person (or JSON with `--json`).

mod cmd;
mod input;
mod output;
mod passphrase;
mod units;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// bitorrent: a BitTorrent client, seeder and tracker whose trust layer lets
/// anyone check where a torrent came from.
#[derive(Debug, Parser)]
#[command(name = "btl", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a .torrent from a file or directory (hybrid v1+v2 by default).
    Create(cmd::create::Args),
    /// Show what a .torrent, .btl or magnet link contains.
    Info(cmd::info::Args),
    /// Convert between .torrent and the compact .btl format, losslessly.
    Convert(cmd::convert::Args),
    /// Download a torrent or magnet link (resumes after an interruption).
    Get(cmd::get::Args),
    /// Seed a torrent whose data is on disk.
    Seed(cmd::seed::Args),
    /// Run a BitTorrent tracker (HTTP, HTTPS and UDP announce and scrape).
    Tracker(cmd::tracker::Args),
    /// Ask a tracker how many seeders and leechers swarms have.
    Scrape(cmd::scrape::Args),
    /// Manage identities: Ed25519 keys, shown as did:key and ledger accounts.
    Key(cmd::key::Args),
    /// Sign provenance manifests offline (btl publish also registers them).
    Manifest(cmd::manifest::Args),
    /// Check a torrent's provenance: signature, creator, license, roots, data.
    Verify(cmd::verify::Args),
    /// Run a node: peer engine, tracker, HTTP API and web UI.
    Up(cmd::up::Args),
    /// Drive a running `btl up` node from the command line (list, add,
    /// pause, resume, remove, info) through its HTTP API.
    Remote(cmd::remote::Args),
    /// Create and run validators of the bitorrent ledger.
    Ledger(cmd::ledger::Args),
    // publish: registry commands
    /// Sign a torrent's manifest and register it on the ledger.
    Publish(cmd::publish::Args),
    /// Amend a published torrent's license, or show its license history.
    License(cmd::license::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Create(a) => cmd::create::run(a),
        Command::Info(a) => cmd::info::run(a),
        Command::Convert(a) => cmd::convert::run(a),
        Command::Get(a) => cmd::get::run(a),
        Command::Seed(a) => cmd::seed::run(a),
        Command::Tracker(a) => cmd::tracker::run(a),
        Command::Scrape(a) => cmd::scrape::run(a),
        Command::Key(a) => cmd::key::run(a),
        Command::Manifest(a) => cmd::manifest::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Up(a) => cmd::up::run(a),
        Command::Remote(a) => cmd::remote::run(a),
        Command::Ledger(a) => cmd::ledger::run(a),
        Command::Publish(a) => cmd::publish::run(a),
        Command::License(a) => cmd::license::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by `BTL_LOG` (e.g. `BTL_LOG=debug`); warnings
/// and errors only by default.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BTL_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,arc_malachitebft_network=off")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
