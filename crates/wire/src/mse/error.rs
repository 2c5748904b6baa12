//! The error type of the MSE/PE handshake.

/// Why an MSE/PE handshake was refused.
///
/// Every error is fatal for the connection: the handshake state machine is
/// finished and the socket should be closed. (Peers that fail MSE are often
/// simply non-MSE peers; whether to retry in plaintext is the caller's policy.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MseError {
    /// The peer's Diffie-Hellman public key is 0, 1, `P - 1` or not below `P`:
    /// it would give a guessable shared secret.
    #[error("the peer's Diffie-Hellman public key is out of range")]
    BadPublicKey,
    /// Responder: `HASH('req1', S)` did not end within the first `limit`
    /// bytes of the connection (96-byte key + at most 512 bytes of padding +
    /// 20). The peer does not speak MSE, or computed another secret.
    #[error("no MSE synchronisation hash within the first {limit} bytes")]
    Req1NotFound {
        /// The bound, counted from the start of the connection.
        limit: usize,
    },
    /// Initiator: the encrypted verification constant did not end within the
    /// first `limit` bytes the peer sent (96-byte key + at most 512 bytes of
    /// padding + 8). The peer does not speak MSE, or does not serve this
    /// torrent, or derived other keys.
    #[error("no encrypted MSE verification constant within the first {limit} bytes")]
    VcNotFound {
        /// The bound, counted from the start of the connection.
        limit: usize,
    },
    /// Responder: `HASH('req2', SKEY)` matches none of our torrents.
    #[error("the peer asked for a torrent we do not serve (unknown MSE SKEY)")]
    UnknownInfoHash,
    /// Responder: the verification constant did not decrypt to 8 zero bytes.
    #[error("the MSE verification constant did not decrypt to zeros")]
    BadVc,
    /// Responder: none of the methods in the peer's `crypto_provide` is
    /// allowed by our policy.
    #[error("no common MSE crypto method (peer provides {provided:#010x})")]
    NoCommonMethod {
        /// The peer's `crypto_provide` bitfield.
        provided: u32,
    },
    /// Initiator: `crypto_select` is not exactly one of the methods we
    /// provided.
    #[error("the peer selected MSE crypto method {selected:#010x}, which we did not offer")]
    BadSelect {
        /// The peer's `crypto_select` bitfield.
        selected: u32,
    },
    /// `len(PadC)` or `len(PadD)` is over 512.
    #[error("MSE padding of {len} bytes exceeds the maximum of 512")]
    PadTooLong {
        /// The announced padding length.
        len: u16,
    },
    /// The initial payload is longer than the policy allows (responder), or
    /// longer than the 65535 bytes its length field can say (initiator).
    #[error("MSE initial payload of {len} bytes exceeds the limit of {max}")]
    InitialPayloadTooLong {
        /// The announced or given length.
        len: usize,
        /// The limit that applied.
        max: usize,
    },
    /// `receive` was called after the handshake had finished or failed.
    #[error("the MSE handshake is already finished")]
    Finished,
}
