//! Stream wrappers that apply an MSE/PE cipher (or nothing) to a
//! connection's halves, and hold bytes the handshake already read.

use btl_wire::mse::StreamCipher;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A reading half that first yields `prefix` (already plaintext), then
/// decrypts what it reads from `inner`.
pub struct CryptRead<R> {
    inner: R,
    cipher: Option<StreamCipher>,
    prefix: Vec<u8>,
    pos: usize,
}

impl<R> CryptRead<R> {
    /// Wraps `inner`; `cipher` `None` means plaintext.
    pub fn new(inner: R, cipher: Option<StreamCipher>, prefix: Vec<u8>) -> Self {
        CryptRead {
            inner,
            cipher,
            prefix,
            pos: 0,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CryptRead<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(c)) = (&r, this.cipher.as_mut()) {
            c.apply(&mut buf.filled_mut()[before..]);
        }
        r
    }
}

/// A writing half that encrypts what it is given. Encrypted bytes not yet
/// accepted by the socket are kept and written first, since the key stream
/// has already moved past them.
pub struct CryptWrite<W> {
    inner: W,
    cipher: StreamCipher,
    pending: Vec<u8>,
    pos: usize,
}

impl<W> CryptWrite<W> {
    /// Wraps `inner` with `cipher`.
    pub fn new(inner: W, cipher: StreamCipher) -> Self {
        CryptWrite {
            inner,
            cipher,
            pending: Vec::new(),
            pos: 0,
        }
    }
}

impl<W: AsyncWrite + Unpin> CryptWrite<W> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pos < self.pending.len() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.pos..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            self.pos += n;
        }
        self.pending.clear();
        self.pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for CryptWrite<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        this.pending.extend_from_slice(data);
        this.cipher.apply(&mut this.pending);
        // Start writing; what is left goes out on the next call or flush.
        if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}
