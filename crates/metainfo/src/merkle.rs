//! BEP 52 Merkle trees.
