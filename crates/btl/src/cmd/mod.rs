//! One module per subcommand.

pub mod convert;
pub mod create;
pub mod info;
