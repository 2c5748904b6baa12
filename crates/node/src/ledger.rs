//! The seam where the ledger (issue 5) plugs into the node.
//!
//! A node runs with or without the ledger: [`crate::Node`] holds an
//! `Option<LedgerHandle>`, and every ledger query of the [`crate::Api`]
//! answers [`crate::ApiError::LedgerNotEnabled`] while it is `None`. The
//! queries are typed here so that the HTTP routes, the web UI's ledger
//! explorer and reputation pages, and the OpenAPI description exist
//! already; the embedded ledger fills in the answers.

use serde::{Deserialize, Serialize};

/// A handle on the ledger this node runs or follows. Empty until the
/// ledger crates are embedded.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LedgerHandle {}

/// A ledger query, as the explorer asks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LedgerQuery {
    /// Height, latest block hash, validators' count.
    Status,
    /// Recent blocks, newest first.
    Blocks {
        /// Start below this height (default: the tip).
        before: Option<u64>,
        /// How many (at most 100).
        limit: u32,
    },
    /// One block.
    Block {
        /// Its height.
        height: u64,
    },
    /// An account's balance, stake and keys.
    Account {
        /// The account id.
        id: String,
    },
    /// The current validator set.
    Validators,
    /// A torrent's registration (its manifest and receipt).
    Torrent {
        /// The torrent's id.
        id: String,
    },
    /// An identity's reputation score.
    Reputation {
        /// The identity (account id).
        id: String,
    },
}
