//! DHT tests on loopback: small networks of our own nodes (server mode),
//! never the public routers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::items::{immutable_target, mutable_target, ItemError, MutableItem, MAX_VALUE};
use super::*;
use std::time::Instant;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn sha1(s: &str) -> Sha1Hash {
    Sha1Hash::from_slice(&hex(s)).unwrap()
}

/// A server node on 127.0.0.1 bootstrapping from `bootstrap`.
async fn node(bootstrap: &[SocketAddrV4], nodes_file: Option<PathBuf>) -> Dht {
    Dht::start(DhtConfig {
        bind: Ipv4Addr::LOCALHOST,
        port: 0,
        bootstrap: bootstrap.iter().map(|a| a.to_string()).collect(),
        nodes_file,
        server: true,
    })
    .await
    .unwrap()
}

/// A network of `n` server nodes: the first has no bootstrap node, the
/// others bootstrap from it. Returns once every node's routing table
/// holds at least one other node.
async fn network(n: usize) -> Vec<Dht> {
    let first = node(&[], None).await;
    let mut nodes = vec![first.clone()];
    for _ in 1..n {
        nodes.push(node(&[first.local_addr()], None).await);
    }
    let end = Instant::now() + Duration::from_secs(20);
    for d in &nodes[1..] {
        // A lookup of anything makes the node ask its bootstrap node.
        while d.routing_nodes().await.is_empty() {
            assert!(Instant::now() < end, "the DHT did not form");
            d.get_peers(Sha1Hash([1; 20]), Duration::from_secs(5)).await;
        }
    }
    nodes
}

/// BEP 44's test vectors for targets.
#[test]
fn bep44_targets() {
    assert_eq!(
        immutable_target(b"Hello World!"),
        sha1("e5f96f6f38320f0f33959cb4d3d656452117aadb")
    );
    let key: [u8; 32] = hex("77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548")
        .try_into()
        .unwrap();
    assert_eq!(
        mutable_target(&key, None),
        sha1("4a533d47ec9c7d95b1ad75f576cffc641853b750")
    );
    assert_eq!(
        mutable_target(&key, Some(b"foobar")),
        sha1("411eba73b6f087ca51a3795d9c8c938d365e32c1")
    );
}

/// Signing is deterministic (Ed25519): pinned bytes for a fixed seed.
#[test]
fn mutable_item_golden() {
    let item = MutableItem::sign(&[7; 32], b"Hello World!", 1, Some(b"foobar")).unwrap();
    assert_eq!(
        hex_of(item.public_key()),
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
    );
    // Checked with Python's `cryptography` (Ed25519) over BEP 44's
    // signable bytes `4:salt6:foobar3:seqi1e1:v12:Hello World!`.
    assert_eq!(
        hex_of(item.signature()),
        "10aaa6110c96a1d3c550993aaf72434d2012022651efeb387fdb2aa4c2fcb169\
         67921bb1d51d602dfe52d9d9efbb61cb9493be059c8b9d2aacb6eef758549409"
    );
    assert_eq!(
        item.target(),
        mutable_target(item.public_key(), Some(b"foobar"))
    );
    assert_eq!(
        MutableItem::sign(&[7; 32], &[0; MAX_VALUE + 1], 1, None),
        Err(ItemError::ValueTooLong(MAX_VALUE + 1))
    );
    assert_eq!(
        MutableItem::sign(&[7; 32], b"x", 1, Some(&[0; 65])),
        Err(ItemError::SaltTooLong(65))
    );
    assert_eq!(
        MutableItem::sign(&[7; 32], b"x", -1, None),
        Err(ItemError::NegativeSeq(-1))
    );
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One node announces, another finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announce_and_lookup() {
    let nodes = network(4).await;
    let id = Sha1Hash([0xab; 20]);
    nodes[1].announce(id, 4242).await.unwrap();
    let peers = nodes[2].get_peers(id, Duration::from_secs(10)).await;
    assert!(
        peers.contains(&"127.0.0.1:4242".parse().unwrap()),
        "{peers:?}"
    );
    let s = nodes[2].stats().borrow().clone();
    assert_eq!((s.lookups, s.peers_found), (1, peers.len() as u64));
    assert_eq!(nodes[1].stats().borrow().announces, 1);
}

/// BEP 44 through our API: an immutable and a mutable item put by one
/// node and read by another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bep44_put_get_between_nodes() {
    let nodes = network(4).await;
    let (writer, reader) = (&nodes[1], &nodes[2]);

    let target = writer.put_immutable(b"a provenance record").await.unwrap();
    assert_eq!(target, immutable_target(b"a provenance record"));
    assert_eq!(
        reader.get_immutable(target).await.as_deref(),
        Some(&b"a provenance record"[..])
    );
    assert_eq!(reader.get_immutable(Sha1Hash([9; 20])).await, None);

    let seed = [42u8; 32];
    let salt = Some(&b"manifest"[..]);
    let v1 = MutableItem::sign(&seed, b"version 1", 1, salt).unwrap();
    let key = *v1.public_key();
    assert_eq!(writer.put_mutable(&v1, None).await.unwrap(), v1.target());
    let got = reader.get_mutable(&key, salt).await.expect("mutable item");
    assert_eq!(got, v1);

    // A newer version, conditional on the one it replaces.
    let v2 = MutableItem::sign(&seed, b"version 2", 2, salt).unwrap();
    writer.put_mutable(&v2, Some(1)).await.unwrap();
    let got = nodes[3]
        .get_mutable(&key, salt)
        .await
        .expect("mutable item");
    assert_eq!((got.seq(), got.value()), (2, &b"version 2"[..]));
    // Another salt is another item.
    assert_eq!(reader.get_mutable(&key, Some(b"other")).await, None);
}

/// The routing table survives a restart through the nodes file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_table_saved_and_restored() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dht.nodes");
    let nodes = network(3).await;
    let client = node(&[nodes[0].local_addr()], Some(file.clone())).await;
    client
        .get_peers(Sha1Hash([3; 20]), Duration::from_secs(10))
        .await;
    let saved = client.save_nodes().await.unwrap();
    assert!(saved >= 1, "nothing saved");
    let on_disk = btl_store::dht_nodes::load(&file).unwrap();
    assert_eq!(on_disk.len(), saved);
    drop(client);

    // No bootstrap node given: the saved ones are enough to find a peer.
    nodes[1].announce(Sha1Hash([5; 20]), 5555).await.unwrap();
    let restarted = node(&[], Some(file)).await;
    let peers = restarted
        .get_peers(Sha1Hash([5; 20]), Duration::from_secs(10))
        .await;
    assert!(
        peers.contains(&"127.0.0.1:5555".parse().unwrap()),
        "{peers:?}"
    );
}
