//! One module per subcommand.

pub mod convert;
pub mod create;
pub mod engine;
pub mod get;
pub mod info;
pub mod key;
pub mod ledger;
pub mod ledger_app;
pub mod ledger_bench;
pub mod manifest;
pub mod remote;
pub mod scrape;
pub mod seed;
pub mod tracker;
pub mod up;
pub mod up_ledger;
pub mod verify;
