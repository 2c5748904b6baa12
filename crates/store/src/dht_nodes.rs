//! The DHT node list kept between runs: where a restarted client looks
//! first, instead of starting again from the public routers.
//!
//! # Format (version 1)
//!
//! One bencoded dictionary, keys in canonical order:
//!
//! ```text
//! d
//!   5:nodes  <6·N bytes>   N IPv4 nodes, each 4 address bytes then a
//!                          big-endian port (BEP 5 "compact" form)
//!   1:v      i1e           format version
//! e
//! ```
//!
//! Unknown keys are ignored (a later version may add some). The file is
//! small and bounded: at most [`MAX_FILE_BYTES`] bytes and [`MAX_NODES`]
//! nodes; [`decode`] refuses anything larger before allocating, and drops
//! entries no node can have (port 0, the unspecified, broadcast or a
//! multicast address) and duplicates. [`save`] writes a temporary file and
//! renames it over the old one, so a crash leaves the old list or the new
//! one, never half of one.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;

/// Most nodes a file holds.
pub const MAX_NODES: usize = 256;
/// Largest file accepted (a full list is about 1.5 KiB).
pub const MAX_FILE_BYTES: usize = 4096;
/// The format version written.
pub const VERSION: i64 = 1;

/// Why a node list could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DhtNodesError {
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("the DHT node file is {0} bytes, more than the {MAX_FILE_BYTES} allowed")]
    TooLarge(usize),
    /// Not bencode, or not the expected dictionary.
    #[error("the DHT node file is not valid: {0}")]
    Invalid(String),
    /// A version this program does not know.
    #[error("the DHT node file has version {0}; this program reads version {VERSION}")]
    Version(i64),
    /// Reading or writing failed.
    #[error("DHT node file: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes `nodes` (at most [`MAX_NODES`] of them; the rest are left out).
pub fn encode(nodes: &[SocketAddrV4]) -> Vec<u8> {
    let n = nodes.len().min(MAX_NODES);
    let mut compact = Vec::with_capacity(6 * n);
    for a in &nodes[..n] {
        compact.extend_from_slice(&a.ip().octets());
        compact.extend_from_slice(&a.port().to_be_bytes());
    }
    let mut e = btl_bencode::Encoder::new();
    e.begin_dict()
        .bytes(b"nodes")
        .bytes(&compact)
        .bytes(b"v")
        .int(VERSION)
        .end();
    e.finish()
}

/// Decodes a node list, dropping entries that cannot be nodes.
pub fn decode(bytes: &[u8]) -> Result<Vec<SocketAddrV4>, DhtNodesError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(DhtNodesError::TooLarge(bytes.len()));
    }
    let limits = btl_bencode::Limits {
        max_input: MAX_FILE_BYTES,
        max_depth: 4,
        max_values: 64,
    };
    let value = btl_bencode::decode_with(bytes, limits)
        .map_err(|e| DhtNodesError::Invalid(e.to_string()))?;
    let dict = value
        .as_dict()
        .ok_or_else(|| DhtNodesError::Invalid("not a dictionary".into()))?;
    match dict.get(b"v").map(|v| v.as_int()) {
        Some(Some(VERSION)) => {}
        Some(Some(v)) => return Err(DhtNodesError::Version(v)),
        Some(None) => return Err(DhtNodesError::Invalid("`v` is not an integer".into())),
        None => return Err(DhtNodesError::Invalid("no version `v`".into())),
    }
    let compact = dict
        .get(b"nodes")
        .and_then(|v| v.as_bytes())
        .ok_or_else(|| DhtNodesError::Invalid("no `nodes` string".into()))?;
    if compact.len() % 6 != 0 {
        return Err(DhtNodesError::Invalid(format!(
            "`nodes` is {} bytes, not a multiple of 6",
            compact.len()
        )));
    }
    if compact.len() / 6 > MAX_NODES {
        return Err(DhtNodesError::Invalid(format!(
            "{} nodes, more than {MAX_NODES}",
            compact.len() / 6
        )));
    }
    let mut out: Vec<SocketAddrV4> = Vec::with_capacity(compact.len() / 6);
    for c in compact.chunks_exact(6) {
        let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
        let port = u16::from_be_bytes([c[4], c[5]]);
        let a = SocketAddrV4::new(ip, port);
        if usable(&a) && !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// Whether `a` can be a DHT node's address.
pub fn usable(a: &SocketAddrV4) -> bool {
    let ip = a.ip();
    a.port() != 0 && !ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast()
}

/// Reads the list at `path`; a missing file is an empty list.
pub fn load(path: &Path) -> Result<Vec<SocketAddrV4>, DhtNodesError> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    // Read one byte past the limit to tell "too large" without reading it all.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    decode(&bytes)
}

/// Writes the list to `path` atomically (temporary file, fsync, rename).
pub fn save(path: &Path, nodes: &[SocketAddrV4]) -> Result<(), DhtNodesError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&encode(nodes))?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    /// The stored encoding is pinned.
    #[test]
    fn golden() {
        let nodes = [a("127.0.0.1:6881"), a("192.0.2.7:25401")];
        let bytes = encode(&nodes);
        assert_eq!(
            bytes,
            b"d5:nodes12:\x7f\x00\x00\x01\x1a\xe1\xc0\x00\x02\x07\x63\x39\x31:vi1ee".to_vec()
        );
        assert_eq!(decode(&bytes).unwrap(), nodes);
        assert_eq!(encode(&[]), b"d5:nodes0:1:vi1ee".to_vec());
    }

    #[test]
    fn drops_unusable_and_duplicates() {
        let nodes = [
            a("10.0.0.1:0"),
            a("0.0.0.0:6881"),
            a("255.255.255.255:6881"),
            a("239.192.152.143:6771"),
            a("198.51.100.1:6881"),
            a("198.51.100.1:6881"),
        ];
        assert_eq!(decode(&encode(&nodes)).unwrap(), [a("198.51.100.1:6881")]);
    }

    #[test]
    fn bounded() {
        let many: Vec<SocketAddrV4> = (0..1000u32)
            .map(|i| SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 + i), 6881))
            .collect();
        assert_eq!(decode(&encode(&many)).unwrap().len(), MAX_NODES);
        assert!(matches!(
            decode(&vec![b' '; MAX_FILE_BYTES + 1]),
            Err(DhtNodesError::TooLarge(_))
        ));
        // 257 entries in a file under the byte limit.
        let mut e = btl_bencode::Encoder::new();
        e.begin_dict()
            .bytes(b"nodes")
            .bytes(&[1u8; 6 * (MAX_NODES + 1)])
            .bytes(b"v")
            .int(1)
            .end();
        assert!(matches!(
            decode(&e.finish()),
            Err(DhtNodesError::Invalid(_))
        ));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b""[..],
            b"le",
            b"d5:nodes6:abcdefe",
            b"d5:nodes5:abcde1:vi1ee",
            b"d1:v1:1e",
            b"d5:nodes0:1:vi2ee",
            b"d5:nodesi3e1:vi1ee",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        // Unknown keys are ignored.
        assert_eq!(
            decode(b"d2:id20:aaaaaaaaaaaaaaaaaaaa5:nodes0:1:vi1ee").unwrap(),
            []
        );
    }

    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dht.nodes");
        assert_eq!(load(&path).unwrap(), []);
        let nodes = [a("203.0.113.9:51413")];
        save(&path, &nodes).unwrap();
        assert_eq!(load(&path).unwrap(), nodes);
        std::fs::write(&path, vec![b'x'; MAX_FILE_BYTES * 4]).unwrap();
        assert!(matches!(load(&path), Err(DhtNodesError::TooLarge(_))));
    }
}
