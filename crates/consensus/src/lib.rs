//! The bitorrent ledger node: Malachite BFT consensus (the published
//! `arc-malachitebft-*` crates, app-channel interface) running a state
//! machine ([`app::App`]), with redb storage, a mempool and an HTTP JSON
//! API.
//!
//! - [`context`]: our Malachite `Context` (heights, validators, votes,
//!   proposals, proposer choice that skips recently absent proposers);
//! - [`signing`]: Ed25519 signatures over domain-tagged encodings;
//! - [`codec`]: the bounded binary encoding of every consensus message;
//! - [`handler`]: the application loop over Malachite's `AppMsg`;
//! - [`store`]: redb tables (blocks, certificates, state, pending proposals);
//! - [`mempool`], [`http`], [`config`], [`node`].

pub mod app;
pub mod codec;
pub mod config;
pub mod context;
pub mod handler;
pub mod http;
pub mod ledger_app;
pub mod ledger_receipts;
pub mod ledger_registry;
pub mod mempool;
pub mod node;
pub mod parts;
pub mod relay;
pub mod replay;
pub mod signing;
pub mod store;
