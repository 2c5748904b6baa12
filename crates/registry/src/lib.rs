//! The registry side of bitorrent's trust layer, as a client sees it.
//!
//! | module | what |
//! |---|---|
//! | [`client`] | async HTTP client for the ledger node's routes (`/status`, `/tx`, `/receipt`, `/registry/*`), bounded and with timeouts |
//! | [`api`] | the JSON shapes of those routes |
//! | [`verdict`] | **pure**: every check of a signed manifest against a torrent, a receipt, the creator key's status and the ledger record, as one [`verdict::Verdict`] |
//!
//! `verdict` does no I/O: `btl verify`, `btl get` and the node's provenance
//! badges gather the inputs (from files, peers or the [`client`]) and show
//! the same checks.

pub mod api;
pub mod client;
pub mod verdict;

pub use api::{KeyStatusView, TorrentView, Verifiers};
pub use client::{ClientError, RegistryClient, DEFAULT_LEDGER_URL};
pub use verdict::{check, Check, CheckStatus, TorrentRoots, Verdict, VerdictInput};
