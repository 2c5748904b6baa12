//! BEP 10 extension protocol: the extension handshake and dispatch of
//! extended messages.
//!
//! # Layout
//!
//! ```text
//! <len: u32><id = 20><ext id: u8><payload>
//! ```
//!
//! `ext id` 0 is the extension handshake, a bencoded dictionary. Any other
//! `ext id` names an extension by the number the **receiver** assigned in its
//! own handshake's `m` dictionary; so incoming messages carry our ids and
//! outgoing ones carry the peer's.
//!
//! # Handshake keys
//!
//! | key             | type    | meaning                                        |
//! |-----------------|---------|------------------------------------------------|
//! | `m`             | dict    | extension name → id (1..=255; 0 disables)      |
//! | `p`             | int     | the sender's TCP listen port                   |
//! | `v`             | string  | client name and version (UTF-8)                |
//! | `yourip`        | string  | the receiver's address as the sender sees it (4 or 16 bytes) |
//! | `ipv4`, `ipv6`  | string  | the sender's own addresses (4 / 16 bytes)       |
//! | `reqq`          | int     | how many outstanding requests the sender queues |
//! | `metadata_size` | int     | size of the info dictionary (BEP 9)            |
//! | `upload_only`   | int     | non-zero: the sender only uploads (BEP 21)     |
//! | `btl_prov_size` | int     | size of the sender's `.prov` document ([`crate::prov`]) |
//!
//! Decoding is forgiving where BEP 10 asks it to be: a known key with the
//! wrong type or an out-of-range value is ignored (treated as absent), `m`
//! entries that are not `name → 0..=255` are skipped, and unknown keys are kept
//! verbatim in [`ExtendedHandshake::extra`] and re-encoded. The payload itself
//! must be valid canonical bencode (see `btl-bencode`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use btl_bencode::{Owned, Value};
use bytes::Bytes;

use crate::metadata::MetadataMessage;
use crate::pex::PexMessage;
use crate::prov::{ProvMessage, BTL_PROV, BTL_PROV_SIZE, MAX_PROV_SIZE};
use crate::{Message, WireError};

/// Extended id of the extension handshake.
pub const HANDSHAKE_ID: u8 = 0;
/// Name of the BEP 9 metadata extension in `m`.
pub const UT_METADATA: &str = "ut_metadata";
/// Name of the BEP 11 peer exchange extension in `m`.
pub const UT_PEX: &str = "ut_pex";

const CTX: &str = "extension handshake";

/// A BEP 10 extension handshake.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ExtendedHandshake {
    /// `m`: extension name → the id the sender wants to receive it as
    /// (0 means the extension is disabled).
    pub m: BTreeMap<String, u8>,
    /// `p`: the sender's listen port.
    pub port: Option<u16>,
    /// `v`: client name and version.
    pub client: Option<String>,
    /// `yourip`: our address as the sender sees it.
    pub your_ip: Option<IpAddr>,
    /// `ipv4`: the sender's IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// `ipv6`: the sender's IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// `reqq`: the sender's request queue depth.
    pub reqq: Option<u32>,
    /// `metadata_size`: size in bytes of the info dictionary (BEP 9).
    pub metadata_size: Option<u64>,
    /// `upload_only` (BEP 21).
    pub upload_only: Option<bool>,
    /// `btl_prov_size`: size in bytes of the sender's `.prov` document.
    pub btl_prov_size: Option<u64>,
    /// Every other top-level key, kept verbatim.
    pub extra: BTreeMap<Vec<u8>, Owned>,
}

fn ip_from(b: &[u8]) -> Option<IpAddr> {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        return Some(IpAddr::V4(Ipv4Addr::from(a)));
    }
    <[u8; 16]>::try_from(b)
        .ok()
        .map(|a| IpAddr::V6(Ipv6Addr::from(a)))
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

impl ExtendedHandshake {
    /// Bencode limits for extension payloads: depth 32, 65 536 values.
    pub(crate) fn bencode_limits(len: usize) -> btl_bencode::Limits {
        btl_bencode::Limits {
            max_input: len,
            max_depth: 32,
            max_values: 1 << 16,
        }
    }

    /// The id the sender assigned to extension `name`, if enabled.
    pub fn extension_id(&self, name: &str) -> Option<u8> {
        self.m.get(name).copied().filter(|&id| id != 0)
    }

    /// Decodes the payload of an extended message with id 0.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let v = btl_bencode::decode_with(payload, Self::bencode_limits(payload.len())).map_err(
            |source| WireError::Bencode {
                context: CTX,
                source,
            },
        )?;
        let dict = v
            .as_dict()
            .ok_or_else(|| WireError::invalid(CTX, "not a dictionary"))?;
        let mut hs = ExtendedHandshake::default();
        let int = |v: &Value<'_>| v.as_int();
        for (key, value) in dict.iter() {
            match key {
                b"m" => {
                    if let Some(m) = value.as_dict() {
                        for (name, id) in m.iter() {
                            let name = std::str::from_utf8(name).ok();
                            let id = id.as_int().and_then(|i| u8::try_from(i).ok());
                            if let (Some(name), Some(id)) = (name, id) {
                                hs.m.insert(name.to_owned(), id);
                            }
                        }
                    }
                }
                b"p" => {
                    hs.port = int(value)
                        .and_then(|p| u16::try_from(p).ok())
                        .filter(|&p| p != 0)
                }
                b"v" => {
                    hs.client = value
                        .as_bytes()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                }
                b"yourip" => hs.your_ip = value.as_bytes().and_then(ip_from),
                b"ipv4" => {
                    hs.ipv4 = value
                        .as_bytes()
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map(Ipv4Addr::from)
                }
                b"ipv6" => {
                    hs.ipv6 = value
                        .as_bytes()
                        .and_then(|b| <[u8; 16]>::try_from(b).ok())
                        .map(Ipv6Addr::from)
                }
                b"reqq" => hs.reqq = int(value).and_then(|i| u32::try_from(i).ok()),
                b"metadata_size" => {
                    hs.metadata_size = int(value).and_then(|i| u64::try_from(i).ok())
                }
                b"upload_only" => hs.upload_only = int(value).map(|i| i != 0),
                b"btl_prov_size" => {
                    hs.btl_prov_size = int(value).and_then(|i| u64::try_from(i).ok())
                }
                other => {
                    hs.extra.insert(other.to_vec(), value.to_owned_value());
                }
            }
        }
        Ok(hs)
    }

    /// Canonical bencoding of the handshake. Known fields override entries
    /// of [`ExtendedHandshake::extra`] with the same key.
    pub fn encode(&self) -> Vec<u8> {
        let mut d = self.extra.clone();
        let mut put = |k: &str, v: Owned| {
            d.insert(k.as_bytes().to_vec(), v);
        };
        let m = self
            .m
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), Owned::Int(i64::from(*v))))
            .collect();
        put("m", Owned::Dict(m));
        if let Some(p) = self.port {
            put("p", Owned::Int(i64::from(p)));
        }
        if let Some(v) = &self.client {
            put("v", Owned::bytes(v));
        }
        if let Some(ip) = &self.your_ip {
            put("yourip", Owned::Bytes(ip_bytes(ip)));
        }
        if let Some(ip) = &self.ipv4 {
            put("ipv4", Owned::bytes(ip.octets()));
        }
        if let Some(ip) = &self.ipv6 {
            put("ipv6", Owned::bytes(ip.octets()));
        }
        if let Some(q) = self.reqq {
            put("reqq", Owned::Int(i64::from(q)));
        }
        if let Some(n) = self.metadata_size {
            put(
                "metadata_size",
                Owned::Int(i64::try_from(n).unwrap_or(i64::MAX)),
            );
        }
        if let Some(u) = self.upload_only {
            put("upload_only", Owned::Int(i64::from(u)));
        }
        if let Some(n) = self.btl_prov_size {
            put(
                BTL_PROV_SIZE,
                Owned::Int(i64::try_from(n).unwrap_or(i64::MAX)),
            );
        }
        Owned::Dict(d).encode()
    }

    /// The extended message (id 0) carrying this handshake.
    pub fn to_message(&self) -> Message {
        Message::Extended {
            id: HANDSHAKE_ID,
            payload: Bytes::from(self.encode()),
        }
    }
}

/// The extensions this side understands, the ids it assigns them in its own
/// handshake, and the limits for their payloads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ExtensionConfig {
    /// Our id for `ut_metadata` (`None`: not offered).
    pub ut_metadata: Option<u8>,
    /// Our id for `ut_pex` (`None`: not offered).
    pub ut_pex: Option<u8>,
    /// Largest info dictionary accepted via BEP 9. Default 16 MiB.
    pub max_metadata_size: u64,
    /// Our id for `btl_prov` (`None`, the default: not offered; offer it
    /// only when we hold or want a `.prov` document).
    pub btl_prov: Option<u8>,
    /// Largest `.prov` document accepted (at most
    /// [`crate::prov::MAX_PROV_SIZE`], the default).
    pub max_prov_size: u64,
}

impl Default for ExtensionConfig {
    fn default() -> Self {
        Self {
            ut_metadata: Some(1),
            ut_pex: Some(2),
            max_metadata_size: 16 << 20,
            btl_prov: None,
            max_prov_size: MAX_PROV_SIZE,
        }
    }
}

/// A decoded extended message.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum ExtendedMessage {
    /// The extension handshake (ext id 0).
    Handshake(ExtendedHandshake),
    /// BEP 9 ut_metadata.
    Metadata(MetadataMessage),
    /// BEP 11 ut_pex.
    Pex(PexMessage),
    /// `btl_prov` (provenance document exchange).
    Prov(ProvMessage),
    /// An extension this codec does not parse (or an id we never assigned).
    Other {
        /// The extended id.
        id: u8,
        /// The raw payload.
        payload: Bytes,
    },
}

impl ExtensionConfig {
    /// Our `m` dictionary, to put in our handshake.
    pub fn m(&self) -> BTreeMap<String, u8> {
        let mut m = BTreeMap::new();
        if let Some(id) = self.ut_metadata {
            m.insert(UT_METADATA.to_owned(), id);
        }
        if let Some(id) = self.ut_pex {
            m.insert(UT_PEX.to_owned(), id);
        }
        if let Some(id) = self.btl_prov {
            m.insert(BTL_PROV.to_owned(), id);
        }
        m
    }

    /// Decodes an incoming extended message by the ids we assigned.
    pub fn decode(&self, id: u8, payload: Bytes) -> Result<ExtendedMessage, WireError> {
        if id == HANDSHAKE_ID {
            return ExtendedHandshake::decode(&payload).map(ExtendedMessage::Handshake);
        }
        if Some(id) == self.ut_metadata {
            return MetadataMessage::decode(payload, self.max_metadata_size)
                .map(ExtendedMessage::Metadata);
        }
        if Some(id) == self.ut_pex {
            return PexMessage::decode(&payload).map(ExtendedMessage::Pex);
        }
        if Some(id) == self.btl_prov {
            return ProvMessage::decode(payload, self.max_prov_size).map(ExtendedMessage::Prov);
        }
        Ok(ExtendedMessage::Other { id, payload })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decodes_a_typical_handshake() {
        let raw: &[u8] = b"d1:ei1e1:md11:lt_donthavei7e11:ut_metadatai2e6:ut_pexi1e5:weirdi300e4:zerol1:xee13:metadata_sizei31235e1:pi6881e4:reqqi500e11:upload_onlyi0e1:v13:qBittorrent/56:yourip4:\x7f\x00\x00\x01e";
        let hs = ExtendedHandshake::decode(raw).unwrap();
        assert_eq!(hs.extension_id(UT_METADATA), Some(2));
        assert_eq!(hs.extension_id(UT_PEX), Some(1));
        assert_eq!(hs.extension_id("lt_donthave"), Some(7));
        assert_eq!(hs.m.get("weird"), None);
        assert_eq!(hs.m.get("zero"), None);
        assert_eq!(hs.metadata_size, Some(31235));
        assert_eq!(hs.port, Some(6881));
        assert_eq!(hs.reqq, Some(500));
        assert_eq!(hs.upload_only, Some(false));
        assert_eq!(hs.client.as_deref(), Some("qBittorrent/5"));
        assert_eq!(hs.your_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(hs.extra.get(&b"e"[..]), Some(&Owned::Int(1)));
        let again = ExtendedHandshake::decode(&hs.encode()).unwrap();
        assert_eq!(again, hs);
    }

    #[test]
    fn ignores_bad_known_values() {
        let raw = b"d1:md6:ut_pexi-1ee13:metadata_sizei-5e1:pi70000e4:reqq1:x6:yourip3:abce";
        let hs = ExtendedHandshake::decode(raw).unwrap();
        assert!(hs.m.is_empty());
        assert_eq!(hs.metadata_size, None);
        assert_eq!(hs.port, None);
        assert_eq!(hs.reqq, None);
        assert_eq!(hs.your_ip, None);
    }

    #[test]
    fn refuses_non_dict_and_bad_bencode() {
        assert!(matches!(
            ExtendedHandshake::decode(b"i1e"),
            Err(WireError::InvalidPayload { .. })
        ));
        assert!(matches!(
            ExtendedHandshake::decode(b"d1:m"),
            Err(WireError::Bencode { .. })
        ));
        let deep = "l".repeat(100) + &"e".repeat(100);
        assert!(ExtendedHandshake::decode(deep.as_bytes()).is_err());
    }

    #[test]
    fn dispatch_by_our_ids() {
        let cfg = ExtensionConfig::default();
        let other = cfg.decode(9, Bytes::from_static(b"xyz")).unwrap();
        assert_eq!(
            other,
            ExtendedMessage::Other {
                id: 9,
                payload: Bytes::from_static(b"xyz")
            }
        );
        let req = cfg
            .decode(1, Bytes::from_static(b"d8:msg_typei0e5:piecei0ee"))
            .unwrap();
        assert_eq!(
            req,
            ExtendedMessage::Metadata(MetadataMessage::Request { piece: 0 })
        );
        assert_eq!(cfg.m().get(UT_PEX), Some(&2));
    }
}
