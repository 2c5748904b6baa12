//! `btl`: the bitorrent command line.
fn main() {}
