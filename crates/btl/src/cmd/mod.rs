//! One module per subcommand.

pub mod convert;
pub mod create;
pub mod engine;
pub mod get;
pub mod get_prov;
pub mod info;
pub mod key;
pub mod key_ledger;
pub mod ledger;
pub mod ledger_app;
pub mod ledger_bench;
pub mod ledger_fund;
pub mod manifest;
pub mod remote;
pub mod scrape;
pub mod seed;
pub mod tracker;
pub mod up;
pub mod up_ledger;
pub mod verify;
pub mod verify_data;
// publish: registry commands
pub mod license;
pub mod publish;
pub mod registry_common;
pub mod verify_ledger;
