//! Interop: our MSE/PE handshake against libtorrent 2.0 (python3-libtorrent),
//! in both roles, with RC4 and with plaintext selected.
//!
//! `scripts/interop/lt_mse_peer.py` runs a libtorrent seed that refuses
//! anything but MSE (`pe_forced` both ways). A blocking Rust client performs
//! the MSE handshake, then the BitTorrent handshake inside it, then asks for
//! blocks and compares them with the payload: every byte after the handshake
//! went through the negotiated cipher both ways. libtorrent's own view of
//! the connection (its RC4 / plaintext-encrypted peer flags) is checked too.
//!
//! Waits are bounded by socket read timeouts and channel deadlines; nothing
//! sleeps. Without python3-libtorrent the tests fail, they never skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mse_common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use btl_types::Sha1Hash;
use btl_wire::mse::*;
use btl_wire::{BlockRequest, FrameDecoder, FrameLimits, Handshake, Message, PeerId, Reserved};
use bytes::BytesMut;
use mse_common::{unhex, TestRng};

const PYTHON: &str = "/usr/bin/python3";
const PIECE_LEN: usize = 16 * 1024;
/// A bit over five pieces, so the last piece is short.
const PAYLOAD_LEN: usize = 5 * PIECE_LEN + 1234;
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("btl-mse-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The libtorrent seed in its python process.
struct LtPeer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr_path: PathBuf,
    port: u16,
    info_hash: Sha1Hash,
    payload: Vec<u8>,
    _scratch: Scratch,
}

fn require_libtorrent() {
    let ok = Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{PYTHON} cannot import libtorrent: install the Debian package python3-libtorrent \
         (apt-get install python3-libtorrent); this interop test does not skip"
    );
}

impl LtPeer {
    fn start(tag: &str, level: &str) -> LtPeer {
        require_libtorrent();
        let scratch = Scratch::new(tag);
        let mut payload = vec![0u8; PAYLOAD_LEN];
        TestRng::new(0x7061_796c_6f61).fill(&mut payload);
        let file = scratch.0.join("payload.bin");
        std::fs::write(&file, &payload).unwrap();
        let stderr_path = scratch.0.join("lt.stderr");
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/interop/lt_mse_peer.py");
        let mut child = Command::new(PYTHON)
            .arg(&script)
            .arg(&file)
            .arg(PIECE_LEN.to_string())
            .arg(level)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {PYTHON} {}: {e}", script.display()));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut peer = LtPeer {
            child,
            stdin,
            lines,
            stderr_path,
            port: 0,
            info_hash: Sha1Hash([0; 20]),
            payload,
            _scratch: scratch,
        };
        let ready = peer.event("ready", Duration::from_secs(90));
        peer.port = ready["port"].as_u64().unwrap() as u16;
        peer.info_hash = Sha1Hash(
            unhex(ready["info_hash"].as_str().unwrap())
                .try_into()
                .unwrap(),
        );
        assert_eq!(
            ready["num_pieces"].as_u64().unwrap() as usize,
            PAYLOAD_LEN.div_ceil(PIECE_LEN)
        );
        peer
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits for the next JSON line and checks its event name.
    fn event(&self, name: &str, timeout: Duration) -> serde_json::Value {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                let v: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("bad line from lt_mse_peer.py: {line}: {e}"));
                assert_eq!(v["event"], name, "{line}");
                v
            }
            Err(e) => panic!(
                "no {name:?} from lt_mse_peer.py within {timeout:?} ({e}); its stderr:\n{}",
                self.stderr()
            ),
        }
    }

    fn command(&self, cmd: &str) {
        let mut stdin = &self.stdin;
        writeln!(stdin, "{cmd}").unwrap();
        stdin.flush().unwrap();
    }

    /// libtorrent's flags for its connections past the handshake.
    fn peers(&self) -> Vec<serde_json::Value> {
        self.command("peers");
        let v = self.event("peers", Duration::from_secs(30));
        v["peers"].as_array().unwrap().clone()
    }
}

impl Drop for LtPeer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads once from `s`; panics with libtorrent's log on timeout or EOF.
fn read_some(s: &mut TcpStream, lt: &LtPeer, what: &str) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    match s.read(&mut buf) {
        Ok(0) => panic!(
            "libtorrent closed the connection while {what}; its log:\n{}",
            lt.stderr()
        ),
        Ok(n) => {
            buf.truncate(n);
            buf
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("timed out while {what}; libtorrent's log:\n{}", lt.stderr())
        }
        Err(e) => panic!(
            "read error while {what}: {e}; libtorrent's log:\n{}",
            lt.stderr()
        ),
    }
}

/// The BitTorrent session over an established MSE stream.
struct Session<'a> {
    stream: TcpStream,
    cipher: Cipher,
    /// Decrypted bytes not yet parsed.
    received: BytesMut,
    decoder: FrameDecoder,
    lt: &'a LtPeer,
}

impl Session<'_> {
    fn send(&mut self, plain: &[u8]) {
        let mut b = plain.to_vec();
        self.cipher.encrypt(&mut b);
        self.stream.write_all(&b).unwrap();
    }

    fn send_msg(&mut self, m: &Message) {
        let b = m.to_bytes();
        self.send(&b);
    }

    fn fill(&mut self, what: &str) {
        let mut b = read_some(&mut self.stream, self.lt, what);
        self.cipher.decrypt(&mut b);
        self.received.extend_from_slice(&b);
    }

    fn handshake(&mut self) -> Handshake {
        loop {
            if let Some(hs) = Handshake::decode_from(&mut self.received).unwrap() {
                return hs;
            }
            self.fill("waiting for libtorrent's BitTorrent handshake");
        }
    }

    /// The next message that `pick` accepts; others are skipped.
    fn until<T>(&mut self, what: &str, mut pick: impl FnMut(&Message) -> Option<T>) -> T {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            assert!(Instant::now() < deadline, "no {what} in time");
            while let Some(m) = self
                .decoder
                .decode(&mut self.received)
                .unwrap_or_else(|e| panic!("libtorrent sent a bad frame ({e}): decryption is off"))
            {
                if let Some(t) = pick(&m) {
                    return t;
                }
            }
            self.fill(what);
        }
    }

    /// Checks the peer has everything, asks for the first block of piece 0
    /// and the last block of the last piece, and compares them.
    fn download_and_check(&mut self) {
        let pieces = PAYLOAD_LEN.div_ceil(PIECE_LEN) as u32;
        self.decoder.set_piece_count(pieces);
        self.until("have-all or full bitfield", |m| match m {
            Message::HaveAll => Some(()),
            Message::Bitfield(b) => {
                assert!(b[..b.len() - 1].iter().all(|&x| x == 0xff));
                Some(())
            }
            _ => None,
        });
        self.send_msg(&Message::Interested);
        self.until("unchoke", |m| matches!(m, Message::Unchoke).then_some(()));
        let last = pieces - 1;
        let last_len = (PAYLOAD_LEN - last as usize * PIECE_LEN) as u32;
        for (index, begin, length) in [(0u32, 0u32, 16384u32), (last, 0, last_len)] {
            self.send_msg(&Message::Request(BlockRequest {
                index,
                begin,
                length,
            }));
            let data = self.until("the requested block", |m| match m {
                Message::Piece(b) if b.index == index && b.begin == begin => Some(b.data.clone()),
                _ => None,
            });
            let off = index as usize * PIECE_LEN + begin as usize;
            assert_eq!(&data[..], &self.lt.payload[off..off + length as usize]);
        }
    }
}

fn our_handshake(info_hash: Sha1Hash) -> [u8; 68] {
    Handshake {
        reserved: Reserved::ours(false),
        info_hash,
        peer_id: PeerId(*b"-BL0001-mse-interop!"),
    }
    .to_bytes()
}

/// We connect to libtorrent, as MSE initiator with our handshake in IA.
fn initiate(level: &str, policy: MsePolicy, want: CryptoMethod) {
    let lt = LtPeer::start(&format!("init-{level}"), level);
    let mut stream = TcpStream::connect(("127.0.0.1", lt.port)).unwrap();
    stream.set_read_timeout(Some(STEP_TIMEOUT)).unwrap();
    let mut rng = TestRng::new(0x1a11_0000 + level.len() as u64);
    let mut mse = MseInitiator::new(
        lt.info_hash,
        &our_handshake(lt.info_hash),
        policy,
        &mut rng.as_fn(),
    )
    .unwrap();
    let est = loop {
        if let Some(out) = mse.poll_send() {
            stream.write_all(&out).unwrap();
        }
        let bytes = read_some(&mut stream, &lt, "in the MSE handshake");
        match mse.receive(&bytes) {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Established(e)) => break e,
            Err(e) => panic!(
                "MSE handshake with libtorrent failed: {e}; its log:\n{}",
                lt.stderr()
            ),
        }
    };
    assert_eq!(est.cipher.method(), want);
    assert_eq!(est.info_hash, lt.info_hash);
    let est = *est;
    let mut s = Session {
        stream,
        cipher: est.cipher,
        received: BytesMut::from(&est.leftover_plaintext[..]),
        decoder: FrameDecoder::new(FrameLimits::default()),
        lt: &lt,
    };
    let hs = s.handshake();
    assert_eq!(
        hs.info_hash, lt.info_hash,
        "libtorrent answered for another torrent"
    );
    assert!(hs.reserved.extension_protocol());
    s.download_and_check();

    // Asked while our connection is still open.
    let peers = lt.peers();
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0]["handshake_done"], true);
    assert_eq!(peers[0]["rc4"], want == CryptoMethod::Rc4, "{peers:?}");
    assert_eq!(
        peers[0]["plaintext_encrypted"],
        want == CryptoMethod::Plaintext,
        "{peers:?}"
    );
}

#[test]
fn we_initiate_rc4() {
    initiate("rc4", MsePolicy::default(), CryptoMethod::Rc4);
}

#[test]
fn we_initiate_and_libtorrent_selects_plaintext() {
    initiate("plaintext", MsePolicy::default(), CryptoMethod::Plaintext);
}

/// libtorrent connects to us (`connect_peer`); we are the MSE responder.
fn respond(level: &str, policy: MsePolicy, want: CryptoMethod) {
    let lt = LtPeer::start(&format!("resp-{level}"), level);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(listener.accept().map(|(s, _)| s));
    });
    lt.command(&format!("connect {port}"));
    lt.event("connecting", STEP_TIMEOUT);
    let mut stream = match rx.recv_timeout(STEP_TIMEOUT) {
        Ok(Ok(s)) => s,
        other => panic!(
            "libtorrent did not connect: {other:?}; its log:\n{}",
            lt.stderr()
        ),
    };
    stream.set_read_timeout(Some(STEP_TIMEOUT)).unwrap();

    // The listening side's first decision.
    let mut first = Vec::new();
    while classify_incoming(&first) == Incoming::NeedMore {
        first.extend(read_some(&mut stream, &lt, "classifying the connection"));
    }
    assert_eq!(classify_incoming(&first), Incoming::Mse);

    let known: KnownTorrents = [Sha1Hash([9; 20]), lt.info_hash].into_iter().collect();
    let mut rng = TestRng::new(0x2b22_0000 + level.len() as u64);
    let mut mse = MseResponder::new(&known, policy, &mut rng.as_fn());
    let mut input = first;
    let est = loop {
        match mse.receive(&input) {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Established(e)) => break e,
            Err(e) => panic!(
                "MSE handshake with libtorrent failed: {e}; its log:\n{}",
                lt.stderr()
            ),
        }
        if let Some(out) = mse.poll_send() {
            stream.write_all(&out).unwrap();
        }
        input = read_some(&mut stream, &lt, "in the MSE handshake");
    };
    let mut est = *est;
    assert_eq!(est.cipher.method(), want);
    assert_eq!(est.info_hash, lt.info_hash);
    // libtorrent puts its BitTorrent handshake in IA.
    assert!(
        est.initial_payload.len() >= 68,
        "IA of {} bytes",
        est.initial_payload.len()
    );
    let received = est.take_received();
    // Step 4 goes out before anything encrypted with the new cipher.
    stream.write_all(&mse.poll_send().unwrap()).unwrap();
    let mut s = Session {
        stream,
        cipher: est.cipher,
        received: BytesMut::from(&received[..]),
        decoder: FrameDecoder::new(FrameLimits::default()),
        lt: &lt,
    };
    let hs = s.handshake();
    assert_eq!(hs.info_hash, lt.info_hash);
    s.send(&our_handshake(lt.info_hash));
    s.send_msg(&Message::HaveNone);
    s.download_and_check();

    // Asked while our connection is still open.
    let peers = lt.peers();
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0]["port"], port);
    assert_eq!(peers[0]["rc4"], want == CryptoMethod::Rc4, "{peers:?}");
    assert_eq!(
        peers[0]["plaintext_encrypted"],
        want == CryptoMethod::Plaintext,
        "{peers:?}"
    );
}

#[test]
fn libtorrent_initiates_rc4() {
    respond("rc4", MsePolicy::default(), CryptoMethod::Rc4);
}

#[test]
fn libtorrent_initiates_and_we_select_plaintext() {
    // libtorrent provides both; we prefer plaintext.
    respond(
        "both",
        MsePolicy {
            prefer: CryptoMethod::Plaintext,
            ..MsePolicy::default()
        },
        CryptoMethod::Plaintext,
    );
}
