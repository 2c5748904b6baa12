//! One module per subcommand.

pub mod convert;
pub mod create;
pub mod engine;
pub mod get;
pub mod info;
pub mod scrape;
pub mod key;
pub mod manifest;
pub mod ledger;
pub mod ledger_app;
pub mod seed;
pub mod tracker;
pub mod verify;
pub mod up;
