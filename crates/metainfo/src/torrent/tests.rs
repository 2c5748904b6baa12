//! Unit tests: one torrent per rule, built from `Owned` values.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use btl_bencode::Owned;

use super::*;
use crate::merkle;

// ---- builders ------------------------------------------------------------

fn s(x: impl AsRef<[u8]>) -> Owned {
    Owned::bytes(x)
}

fn int(n: i64) -> Owned {
    Owned::Int(n)
}

fn d(pairs: Vec<(&str, Owned)>) -> Owned {
    Owned::Dict(
        pairs
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect(),
    )
}

fn strs(parts: &[&str]) -> Owned {
    Owned::List(parts.iter().map(s).collect())
}

/// Looks up a dictionary key of an owned value, mutably.
fn get_mut<'a>(o: &'a mut Owned, key: &str) -> &'a mut Owned {
    match o {
        Owned::Dict(m) => m.get_mut(key.as_bytes()).unwrap(),
        _ => panic!("not a dict"),
    }
}

/// Item `i` of an owned list, mutably.
fn item_mut(o: &mut Owned, i: usize) -> &mut Owned {
    match o {
        Owned::List(l) => &mut l[i],
        _ => panic!("not a list"),
    }
}

fn remove(o: &mut Owned, key: &str) {
    if let Owned::Dict(m) = o {
        m.remove(key.as_bytes());
    }
}

const PL: u64 = 16384;

fn zero_pieces(total: u64, pl: u64) -> Owned {
    Owned::Bytes(vec![0; 20 * total.div_ceil(pl) as usize])
}

fn v1_single(len: u64) -> Owned {
    d(vec![
        ("length", int(len as i64)),
        ("name", s("a.txt")),
        ("piece length", int(PL as i64)),
        ("pieces", zero_pieces(len, PL)),
    ])
}

fn v1_file(path: &[&str], len: u64) -> Owned {
    d(vec![("length", int(len as i64)), ("path", strs(path))])
}

fn v1_multi(files: &[(&[&str], u64)]) -> Owned {
    let total: u64 = files.iter().map(|f| f.1).sum();
    d(vec![
        (
            "files",
            Owned::List(files.iter().map(|(p, l)| v1_file(p, *l)).collect()),
        ),
        ("name", s("dir")),
        ("piece length", int(PL as i64)),
        ("pieces", zero_pieces(total, PL)),
    ])
}

fn torrent(info: Owned) -> Owned {
    d(vec![
        ("announce", s("http://tracker.example/announce")),
        ("info", info),
    ])
}

fn parse(t: &Owned) -> Result<Torrent, TorrentError> {
    Torrent::from_bytes(&t.encode())
}

fn ok(t: &Owned) -> Torrent {
    match parse(t) {
        Ok(x) => {
            fuzz_torrent(&t.encode());
            x
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[track_caller]
fn bad(t: &Owned, field: &str) -> Problem {
    fuzz_torrent(&t.encode());
    match parse(t) {
        Ok(_) => panic!("accepted, expected an error on {field}"),
        Err(e) => {
            assert_eq!(e.field(), field, "wrong field in `{e}`");
            e.problem().clone()
        }
    }
}

/// Deterministic file content: `len` bytes of `seed`.
fn content(seed: u8, len: u64) -> Vec<u8> {
    vec![seed; len as usize]
}

/// Pieces root and piece layer of a file.
fn merkle_of(data: &[u8], pl: u64) -> (Sha256Hash, Vec<Sha256Hash>) {
    let leaves: Vec<Sha256Hash> = data
        .chunks(merkle::BLOCK_SIZE)
        .map(merkle::hash_block)
        .collect();
    let root = merkle::root_from_leaves(&leaves).unwrap();
    let bpp = (pl / merkle::BLOCK_SIZE as u64) as usize;
    let layer = leaves
        .chunks(bpp)
        .map(|c| merkle::piece_hash_from_leaves(c, bpp as u64).unwrap())
        .collect();
    (root, layer)
}

struct V2Spec {
    tree: Owned,
    layers: BTreeMap<Vec<u8>, Owned>,
}

/// A v2 file tree for `files` (path, length), content seeded by index.
fn v2_tree(files: &[(&[&str], u64)], pl: u64) -> V2Spec {
    let mut tree = Owned::dict();
    let mut layers = BTreeMap::new();
    for (i, (path, len)) in files.iter().enumerate() {
        let mut leaf = d(vec![("length", int(*len as i64))]);
        if *len > 0 {
            let (root, layer) = merkle_of(&content(i as u8 + 1, *len), pl);
            leaf.insert("pieces root", s(root.0));
            if *len > pl {
                let bytes: Vec<u8> = layer.iter().flat_map(|h| h.0).collect();
                layers.insert(root.0.to_vec(), Owned::Bytes(bytes));
            }
        }
        let mut node = &mut tree;
        for c in path.iter() {
            if let Owned::Dict(m) = node {
                node = m.entry(c.as_bytes().to_vec()).or_insert_with(Owned::dict);
            }
        }
        node.insert("", leaf);
    }
    V2Spec { tree, layers }
}

fn v2_info(name: &str, files: &[(&[&str], u64)]) -> (Owned, Owned) {
    let spec = v2_tree(files, PL);
    let info = d(vec![
        ("file tree", spec.tree),
        ("meta version", int(2)),
        ("name", s(name)),
        ("piece length", int(PL as i64)),
    ]);
    (info, Owned::Dict(spec.layers))
}

fn v2_torrent(name: &str, files: &[(&[&str], u64)]) -> Owned {
    let (info, layers) = v2_info(name, files);
    let mut t = torrent(info);
    t.insert("piece layers", layers);
    t
}

/// A hybrid multi-file torrent: `files` must be in tree order; pad files
/// named `.pad/<n>` follow every file but the last that does not end on a
/// piece boundary.
fn hybrid_torrent(files: &[(&[&str], u64)]) -> Owned {
    let (mut info, layers) = v2_info("dir", files);
    let mut list = Vec::new();
    let mut total = 0;
    for (i, (p, len)) in files.iter().enumerate() {
        list.push(v1_file(p, *len));
        total += len;
        let gap = (PL - len % PL) % PL;
        if gap > 0 && i + 1 < files.len() {
            list.push(pad(gap));
            total += gap;
        }
    }
    info.insert("files", Owned::List(list));
    info.insert("pieces", zero_pieces(total, PL));
    let mut t = torrent(info);
    t.insert("piece layers", layers);
    t
}

fn pad(len: u64) -> Owned {
    d(vec![
        ("attr", s("p")),
        ("length", int(len as i64)),
        ("path", strs(&[".pad", &len.to_string()])),
    ])
}

fn sha1_of(b: &[u8]) -> Sha1Hash {
    Sha1Hash(Sha1::digest(b).into())
}

fn sha256_of(b: &[u8]) -> Sha256Hash {
    Sha256Hash(Sha256::digest(b).into())
}

// ---- v1 ------------------------------------------------------------------

#[test]
fn v1_single_file() {
    let info = v1_single(40_000);
    let t = ok(&torrent(info.clone()));
    assert_eq!(t.version(), Version::V1);
    assert_eq!(t.info_bytes(), info.encode());
    assert_eq!(t.info_hashes(), InfoHashes::V1(sha1_of(&info.encode())));
    assert_eq!(t.name(), "a.txt");
    assert!(!t.is_multi_file());
    assert_eq!(t.piece_length(), PL);
    assert_eq!(t.piece_count(), 3);
    assert_eq!(t.total_length(), 40_000);
    assert_eq!(t.files().len(), 1);
    assert_eq!(t.files()[0].path, vec!["a.txt"]);
    assert_eq!(t.files()[0].offset, 0);
    assert_eq!(
        t.trackers(),
        &[vec!["http://tracker.example/announce".to_owned()]]
    );
    assert!(t.web_seeds().is_empty());
    assert!(!t.is_private());
    assert!(!t.has_piece_layers());
    assert_eq!(t.v1_piece_hash(2), Some(Sha1Hash([0; 20])));
    assert_eq!(t.v1_piece_hash(3), None);
    assert_eq!(t.v1_piece_hash(u64::MAX), None);
}

#[test]
fn v1_multi_file_offsets() {
    let t = ok(&torrent(v1_multi(&[
        (&["b", "x.bin"], 100),
        (&["a.txt"], 0),
        (&["b", "y"], 20_000),
    ])));
    assert!(t.is_multi_file());
    assert_eq!(t.name(), "dir");
    // List order is storage order, whatever the path order.
    let offsets: Vec<_> = t
        .files()
        .iter()
        .map(|f| (f.display_path(), f.offset))
        .collect();
    assert_eq!(
        offsets,
        vec![
            ("b/x.bin".into(), 0),
            ("a.txt".into(), 100),
            ("b/y".into(), 100)
        ]
    );
    assert_eq!(t.total_length(), 20_100);
    assert_eq!(t.piece_count(), 2);
}

#[test]
fn metadata_outside_info() {
    let mut t = torrent(v1_single(10));
    t.insert(
        "announce-list",
        Owned::List(vec![
            strs(&["udp://a:1", ""]),
            strs(&[]),
            strs(&["http://b/ann", "http://c/ann"]),
        ]),
    );
    t.insert("url-list", strs(&["http://seed/", ""]));
    t.insert("comment", s("hi"));
    t.insert("comment.utf-8", s("h\u{e9}"));
    t.insert("created by", Owned::Bytes(vec![b'x', 0xff]));
    t.insert("creation date", int(1_700_000_000));
    t.insert("encoding", s("UTF-8"));
    get_mut(&mut t, "info").insert("private", int(1));
    let p = ok(&t);
    assert_eq!(
        p.trackers(),
        &[
            vec!["udp://a:1".to_owned()],
            vec!["http://b/ann".to_owned(), "http://c/ann".to_owned()]
        ]
    );
    assert_eq!(p.web_seeds(), &["http://seed/".to_owned()]);
    assert_eq!(p.comment(), Some("h\u{e9}"));
    assert_eq!(p.created_by(), Some("x\u{fffd}"));
    assert_eq!(p.creation_date(), Some(1_700_000_000));
    assert_eq!(p.encoding(), Some("UTF-8"));
    assert!(p.is_private());

    // url-list as a single string; announce-list that yields nothing falls
    // back to announce.
    let mut t = torrent(v1_single(10));
    t.insert("url-list", s("http://one/"));
    t.insert("announce-list", Owned::List(vec![strs(&[""])]));
    let p = ok(&t);
    assert_eq!(p.web_seeds(), &["http://one/".to_owned()]);
    assert_eq!(p.trackers().len(), 1);

    // No trackers at all is fine.
    let mut t = torrent(v1_single(10));
    remove(&mut t, "announce");
    assert!(ok(&t).trackers().is_empty());
}

#[test]
fn metadata_type_errors() {
    let mut t = torrent(v1_single(10));
    t.insert("announce-list", Owned::List(vec![s("udp://a:1")]));
    assert!(matches!(
        bad(&t, "announce-list[0]"),
        Problem::WrongType {
            expected: "list",
            ..
        }
    ));

    let mut t = torrent(v1_single(10));
    t.insert(
        "announce-list",
        Owned::List(vec![Owned::List(vec![int(1)])]),
    );
    bad(&t, "announce-list[0][0]");

    let mut t = torrent(v1_single(10));
    t.insert("announce", Owned::Bytes(vec![0xff]));
    assert_eq!(bad(&t, "announce"), Problem::NotUtf8);

    let mut t = torrent(v1_single(10));
    t.insert("url-list", int(3));
    bad(&t, "url-list");

    let mut t = torrent(v1_single(10));
    t.insert("url-list", Owned::List(vec![s("ok"), Owned::List(vec![])]));
    bad(&t, "url-list[1]");

    let mut t = torrent(v1_single(10));
    t.insert("creation date", s("yesterday"));
    bad(&t, "creation date");
}

#[test]
fn private_must_be_zero_or_one() {
    let mut info = v1_single(10);
    info.insert("private", int(0));
    assert!(!ok(&torrent(info.clone())).is_private());
    info.insert("private", int(2));
    assert_eq!(
        bad(&torrent(info), "info.private"),
        Problem::NotZeroOrOne(2)
    );
}

#[test]
fn not_bencode_or_not_a_dict() {
    let e = Torrent::from_bytes(b"d4:info").unwrap_err();
    assert_eq!(e.field(), "torrent");
    assert!(matches!(e.problem(), Problem::Bencode(_)));
    // Unsorted keys are not canonical.
    let e = Torrent::from_bytes(b"d1:bi1e1:ai1ee").unwrap_err();
    assert!(matches!(e.problem(), Problem::Bencode(_)));
    assert_eq!(Torrent::from_bytes(b"le").unwrap_err().field(), "torrent");
    assert_eq!(
        Torrent::from_bytes(b"de").unwrap_err(),
        TorrentError::new("info", Problem::Missing)
    );
    let t = d(vec![("info", s("x"))]);
    assert!(matches!(
        bad(&t, "info"),
        Problem::WrongType {
            expected: "dictionary",
            found: "byte string"
        }
    ));
    assert_eq!(
        Torrent::from_info_bytes(b"i1e").unwrap_err().field(),
        "info"
    );
}

#[test]
fn name_rules() {
    let mut info = v1_single(10);
    remove(&mut info, "name");
    assert_eq!(bad(&torrent(info.clone()), "info.name"), Problem::Missing);
    for (name, problem) in [
        ("", Problem::Empty),
        ("..", Problem::UnsafePath("`.` and `..` are not allowed")),
        (".", Problem::UnsafePath("`.` and `..` are not allowed")),
        ("/etc", Problem::UnsafePath("contains `/`")),
        ("a\\b", Problem::UnsafePath("contains `\\`")),
        ("a\0b", Problem::UnsafePath("contains NUL")),
    ] {
        info.insert("name", s(name));
        assert_eq!(
            bad(&torrent(info.clone()), "info.name"),
            problem,
            "{name:?}"
        );
    }
    info.insert("name", Owned::Bytes(vec![0xc3, 0x28]));
    assert_eq!(bad(&torrent(info.clone()), "info.name"), Problem::NotUtf8);
    info.insert("name", s("x".repeat(256)));
    assert_eq!(
        bad(&torrent(info.clone()), "info.name"),
        Problem::TooLong { max: 255, got: 256 }
    );
    info.insert("name", s("x".repeat(255)));
    ok(&torrent(info.clone()));
    // `name.utf-8` wins, and is what gets checked.
    info.insert("name", Owned::Bytes(vec![0xff]));
    info.insert("name.utf-8", s("caf\u{e9}"));
    assert_eq!(ok(&torrent(info.clone())).name(), "caf\u{e9}");
    info.insert("name.utf-8", s(".."));
    bad(&torrent(info), "info.name.utf-8");
}

#[test]
fn path_rules() {
    let cases: Vec<(Owned, &str, Problem)> = vec![
        (
            strs(&["ok", ".."]),
            "info.files[1].path[1]",
            Problem::UnsafePath("`.` and `..` are not allowed"),
        ),
        (
            strs(&["ok", "a/b"]),
            "info.files[1].path[1]",
            Problem::UnsafePath("contains `/`"),
        ),
        (strs(&["", "b"]), "info.files[1].path[0]", Problem::Empty),
        (strs(&[]), "info.files[1].path", Problem::Empty),
        (
            Owned::List(vec![int(1)]),
            "info.files[1].path[0]",
            Problem::WrongType {
                expected: "byte string",
                found: "integer",
            },
        ),
        (
            s("a/b"),
            "info.files[1].path",
            Problem::WrongType {
                expected: "list",
                found: "byte string",
            },
        ),
    ];
    for (path, field, problem) in cases {
        let mut info = v1_multi(&[(&["a"], 1), (&["b"], 1)]);
        let files = get_mut(&mut info, "files");
        item_mut(files, 1).insert("path", path);
        assert_eq!(bad(&torrent(info), field), problem);
    }
    // Depth cap.
    let deep: Vec<String> = (0..=MAX_PATH_DEPTH).map(|i| i.to_string()).collect();
    let deep: Vec<&str> = deep.iter().map(String::as_str).collect();
    assert!(matches!(
        bad(&torrent(v1_multi(&[(&deep, 1)])), "info.files[0].path"),
        Problem::TooMany {
            what: "path components",
            ..
        }
    ));
    ok(&torrent(v1_multi(&[(&deep[..MAX_PATH_DEPTH], 1)])));
    // Missing path.
    let mut info = v1_multi(&[(&["a"], 1)]);
    remove(item_mut(get_mut(&mut info, "files"), 0), "path");
    assert_eq!(bad(&torrent(info), "info.files[0].path"), Problem::Missing);
}

#[test]
fn path_utf8_variant_is_preferred() {
    let mut info = v1_multi(&[(&["a"], 1)]);
    let f = item_mut(get_mut(&mut info, "files"), 0);
    f.insert("path", Owned::List(vec![Owned::Bytes(vec![0xff])]));
    f.insert("path.utf-8", strs(&["\u{65e5}\u{672c}"]));
    let t = ok(&torrent(info.clone()));
    assert_eq!(t.files()[0].path, vec!["\u{65e5}\u{672c}"]);
    item_mut(get_mut(&mut info, "files"), 0).insert("path.utf-8", strs(&[".."]));
    bad(&torrent(info.clone()), "info.files[0].path.utf-8[0]");
    // Without the variant, the raw path must be UTF-8.
    remove(item_mut(get_mut(&mut info, "files"), 0), "path.utf-8");
    assert_eq!(
        bad(&torrent(info), "info.files[0].path[0]"),
        Problem::NotUtf8
    );
}

#[test]
fn lengths() {
    let mut info = v1_multi(&[(&["a"], 1), (&["b"], 1)]);
    item_mut(get_mut(&mut info, "files"), 1).insert("length", int(-1));
    assert_eq!(
        bad(&torrent(info), "info.files[1].length"),
        Problem::Negative(-1)
    );

    let mut info = v1_multi(&[(&["a"], 1), (&["b"], 1)]);
    item_mut(get_mut(&mut info, "files"), 0).insert("length", int(i64::MAX));
    item_mut(get_mut(&mut info, "files"), 1).insert("length", int(i64::MAX));
    let mut t = torrent(info.clone());
    // 2 * i64::MAX fits in u64; a third file overflows.
    if let Owned::List(l) = get_mut(&mut info, "files") {
        l.push(v1_file(&["c"], 2));
    }
    t.insert("info", info);
    assert_eq!(bad(&t, "info.files[2].length"), Problem::Overflow);

    let mut info = v1_single(1);
    info.insert("length", s("1"));
    bad(&torrent(info), "info.length");
}

#[test]
fn pieces_must_match_length() {
    let mut info = v1_single(40_000);
    info.insert("pieces", Owned::Bytes(vec![0; 40]));
    let p = bad(&torrent(info.clone()), "info.pieces");
    assert_eq!(
        p,
        Problem::PieceCount {
            expected: 3,
            pieces_len: 60,
            total: 40_000,
            piece_length: PL,
            got_len: 40
        }
    );
    info.insert("pieces", Owned::Bytes(vec![0; 61]));
    bad(&torrent(info.clone()), "info.pieces");
    remove(&mut info, "pieces");
    assert_eq!(bad(&torrent(info), "info.pieces"), Problem::Missing);
    // Zero bytes: zero pieces.
    let t = ok(&torrent(v1_single(0)));
    assert_eq!(t.piece_count(), 0);
}

#[test]
fn v1_piece_length() {
    for (pl, rule) in [
        (0, "positive"),
        (-5, "positive"),
        (1 << 30, "at most 536870912 (512 MiB)"),
    ] {
        let mut info = v1_single(10);
        info.insert("piece length", int(pl));
        assert_eq!(
            bad(&torrent(info), "info.piece length"),
            Problem::PieceLength { rule, got: pl }
        );
    }
    // v1 does not need a power of two.
    let mut info = v1_single(10);
    info.insert("piece length", int(1000));
    info.insert("pieces", Owned::Bytes(vec![0; 20]));
    assert_eq!(ok(&torrent(info.clone())).piece_length(), 1000);
    remove(&mut info, "piece length");
    assert_eq!(bad(&torrent(info), "info.piece length"), Problem::Missing);
}

#[test]
fn length_xor_files() {
    let mut info = v1_multi(&[(&["a"], 1)]);
    info.insert("length", int(1));
    assert_eq!(bad(&torrent(info.clone()), "info"), Problem::LengthOrFiles);
    remove(&mut info, "length");
    remove(&mut info, "files");
    assert_eq!(bad(&torrent(info), "info"), Problem::LengthOrFiles);
    let mut info = v1_multi(&[(&["a"], 1)]);
    info.insert("files", Owned::List(vec![]));
    assert_eq!(bad(&torrent(info), "info.files"), Problem::NoFiles);
}

#[test]
fn collisions() {
    let t = torrent(v1_multi(&[(&["a", "b"], 1), (&["c"], 1), (&["a", "b"], 1)]));
    assert_eq!(
        bad(&t, "info.files[2].path"),
        Problem::DuplicatePath("a/b".into())
    );
    let t = torrent(v1_multi(&[(&["a", "b", "c"], 1), (&["a", "b"], 1)]));
    assert_eq!(
        bad(&t, "info.files[1].path"),
        Problem::FileAndDirectory("a/b".into())
    );
    // Siblings that merely share a prefix string are fine.
    ok(&torrent(v1_multi(&[
        (&["a", "b"], 1),
        (&["a", "bc"], 1),
        (&["a.b"], 1),
    ])));
}

#[test]
fn pad_files_v1() {
    // Two pad files with the same name are not a collision.
    let mut info = v1_multi(&[(&["a"], 100), (&["b"], 100), (&["c"], 100)]);
    if let Owned::List(l) = get_mut(&mut info, "files") {
        l.insert(1, pad(PL - 100));
        l.insert(3, pad(PL - 100));
    }
    info.insert("pieces", zero_pieces(2 * PL + 100, PL));
    let t = ok(&torrent(info));
    assert_eq!(t.files().len(), 5);
    assert!(t.files()[1].is_pad());
    assert_eq!(t.files()[4].offset, 2 * PL);
    assert_eq!(t.total_length(), 300);
    assert_eq!(t.piece_count(), 3);
}

#[test]
fn attributes_and_symlinks() {
    let mut info = v1_multi(&[(&["a"], 1), (&["link"], 0)]);
    let files = get_mut(&mut info, "files");
    item_mut(files, 0).insert("attr", s("xhz"));
    item_mut(files, 0).insert("sha1", Owned::Bytes(vec![7; 20]));
    item_mut(files, 1).insert("attr", s("l"));
    let t = torrent(info.clone());
    assert_eq!(
        bad(&t, "info.files[1].symlink path"),
        Problem::SymlinkWithoutTarget
    );
    item_mut(get_mut(&mut info, "files"), 1).insert("symlink path", strs(&["..", "etc"]));
    bad(&torrent(info.clone()), "info.files[1].symlink path[0]");
    item_mut(get_mut(&mut info, "files"), 1).insert("symlink path", strs(&["a"]));
    let t = ok(&torrent(info.clone()));
    let a = &t.files()[0];
    assert!(a.attr.executable && a.attr.hidden && !a.attr.pad && !a.attr.symlink);
    assert_eq!(a.sha1, Some(Sha1Hash([7; 20])));
    assert_eq!(t.files()[1].symlink_path, Some(vec!["a".to_owned()]));
    item_mut(get_mut(&mut info, "files"), 0).insert("sha1", Owned::Bytes(vec![7; 19]));
    assert_eq!(
        bad(&torrent(info), "info.files[0].sha1"),
        Problem::HashLength {
            expected: 20,
            got: 19
        }
    );
}

#[test]
fn unknown_keys_are_kept() {
    let mut info = v1_single(10);
    info.insert("x-source", s("somewhere"));
    let t = ok(&torrent(info.clone()));
    assert_eq!(t.info_bytes(), info.encode());
    assert_ne!(t.info_hashes(), ok(&torrent(v1_single(10))).info_hashes());
    let mut top = torrent(v1_single(10));
    top.insert("zzz", d(vec![("q", int(1))]));
    ok(&top);
}

#[test]
fn piece_layers_refused_in_v1() {
    let mut t = torrent(v1_single(10));
    t.insert("piece layers", Owned::dict());
    assert_eq!(
        bad(&t, "piece layers"),
        Problem::NotAllowed("v2 and hybrid")
    );
}

#[test]
fn from_info_bytes_matches() {
    let t = torrent(v1_single(100));
    let full = ok(&t);
    let info = Torrent::from_info_bytes(full.info_bytes()).unwrap();
    assert_eq!(info.info_hashes(), full.info_hashes());
    assert!(info.trackers().is_empty());
    assert_eq!(info.files(), full.files());
}

// ---- v2 ------------------------------------------------------------------

#[test]
fn v2_single_file() {
    let t = v2_torrent("big.bin", &[(&["big.bin"], 40_000)]);
    let p = ok(&t);
    let info = get_mut(&mut t.clone(), "info").encode();
    assert_eq!(p.version(), Version::V2);
    assert_eq!(p.info_hashes(), InfoHashes::V2(sha256_of(&info)));
    assert!(!p.is_multi_file());
    assert_eq!(p.piece_count(), 3);
    assert_eq!(p.total_length(), 40_000);
    let f = &p.files()[0];
    assert_eq!(f.path, vec!["big.bin"]);
    let (root, layer) = merkle_of(&content(1, 40_000), PL);
    assert_eq!(f.pieces_root, Some(root));
    assert_eq!(p.piece_layer(&root), Some(layer.as_slice()));
    assert!(p.has_piece_layers());
    assert!(p.v1_piece_hashes().is_empty());
    assert_eq!(p.v1_piece_hash(0), None);
}

#[test]
fn v2_multi_file_order_and_offsets() {
    let t = v2_torrent(
        "dir",
        &[
            (&["z.txt"], 10),
            (&["a", "b.bin"], 40_000),
            (&["a", "a"], 0),
            (&["a.txt"], PL),
        ],
    );
    let p = ok(&t);
    assert!(p.is_multi_file());
    let got: Vec<_> = p
        .files()
        .iter()
        .map(|f| (f.display_path(), f.offset, f.pieces_root.is_some()))
        .collect();
    // Tree order: keys sorted bytewise at each level.
    assert_eq!(
        got,
        vec![
            ("a/a".into(), 0, false),
            ("a/b.bin".into(), 0, true),
            ("a.txt".into(), 3 * PL, true),
            ("z.txt".into(), 4 * PL, true),
        ]
    );
    assert_eq!(p.piece_count(), 5);
    assert_eq!(p.total_length(), 40_000 + PL + 10);
    // Only the file larger than one piece has a layer.
    assert_eq!(p.piece_layers().count(), 1);
    // A one-file tree under a different key is still single-file.
    let p = ok(&v2_torrent("name", &[(&["other"], 5)]));
    assert!(!p.is_multi_file());
    assert_eq!(p.files()[0].path, vec!["other"]);
    // One file in a directory is multi-file.
    assert!(ok(&v2_torrent("name", &[(&["d", "f"], 5)])).is_multi_file());
}

#[test]
fn v2_piece_length_rule_message() {
    let mut t = v2_torrent("f", &[(&["f"], 10)]);
    get_mut(&mut t, "info").insert("piece length", int(1000));
    let e = parse(&t).unwrap_err();
    assert_eq!(
        e.to_string(),
        "info.piece length: must be a power of two >= 16384 for v2, got 1000"
    );
    get_mut(&mut t, "info").insert("piece length", int(3 * 16384));
    bad(&t, "info.piece length");
    get_mut(&mut t, "info").insert("piece length", int(8192));
    bad(&t, "info.piece length");
}

#[test]
fn meta_version() {
    let mut t = v2_torrent("f", &[(&["f"], 10)]);
    get_mut(&mut t, "info").insert("meta version", int(3));
    assert_eq!(
        bad(&t, "info.meta version"),
        Problem::UnsupportedMetaVersion(3)
    );
    remove(get_mut(&mut t, "info"), "meta version");
    assert_eq!(bad(&t, "info.meta version"), Problem::Missing);
    let mut t = v2_torrent("f", &[(&["f"], 10)]);
    remove(get_mut(&mut t, "info"), "file tree");
    assert_eq!(bad(&t, "info.file tree"), Problem::Missing);
    let mut t = v2_torrent("f", &[(&["f"], 10)]);
    get_mut(&mut t, "info").insert("file tree", Owned::dict());
    assert_eq!(bad(&t, "info.file tree"), Problem::NoFiles);
}

#[test]
fn v2_file_rules() {
    let base = || v2_torrent("d", &[(&["a", "f"], 100), (&["e"], 0)]);
    let leaf = |t: &mut Owned, path: &[&str]| -> Owned {
        let mut node = get_mut(get_mut(t, "info"), "file tree");
        for c in path {
            node = get_mut(node, c);
        }
        get_mut(node, "").clone()
    };
    let set_leaf = |t: &mut Owned, path: &[&str], v: Owned| {
        let mut node = get_mut(get_mut(t, "info"), "file tree");
        for c in path {
            node = get_mut(node, c);
        }
        node.insert("", v);
    };

    let mut t = base();
    let mut l = leaf(&mut t, &["a", "f"]);
    remove(&mut l, "pieces root");
    set_leaf(&mut t, &["a", "f"], l);
    assert_eq!(bad(&t, "info.file tree[a/f].pieces root"), Problem::Missing);

    let mut t = base();
    let mut l = leaf(&mut t, &["a", "f"]);
    l.insert("pieces root", Owned::Bytes(vec![1; 20]));
    set_leaf(&mut t, &["a", "f"], l);
    assert_eq!(
        bad(&t, "info.file tree[a/f].pieces root"),
        Problem::HashLength {
            expected: 32,
            got: 20
        }
    );

    let mut t = base();
    let mut l = leaf(&mut t, &["e"]);
    l.insert("pieces root", Owned::Bytes(vec![1; 32]));
    set_leaf(&mut t, &["e"], l);
    assert_eq!(
        bad(&t, "info.file tree[e].pieces root"),
        Problem::RootOnEmptyFile
    );

    let mut t = base();
    let mut l = leaf(&mut t, &["e"]);
    l.insert("attr", s("p"));
    set_leaf(&mut t, &["e"], l);
    assert_eq!(bad(&t, "info.file tree[e].attr"), Problem::PadInFileTree);

    let mut t = base();
    let mut l = leaf(&mut t, &["a", "f"]);
    l.insert("length", int(-3));
    set_leaf(&mut t, &["a", "f"], l);
    assert_eq!(bad(&t, "info.file tree[a/f].length"), Problem::Negative(-3));

    let mut t = base();
    let mut l = leaf(&mut t, &["e"]);
    l.insert("attr", s("lx"));
    set_leaf(&mut t, &["e"], l.clone());
    assert_eq!(
        bad(&t, "info.file tree[e].symlink path"),
        Problem::SymlinkWithoutTarget
    );
    l.insert("symlink path", strs(&["a", "f"]));
    set_leaf(&mut t, &["e"], l);
    let p = ok(&t);
    assert!(p.files()[1].attr.symlink && p.files()[1].attr.executable);
    assert_eq!(
        p.files()[1].symlink_path,
        Some(vec!["a".to_owned(), "f".to_owned()])
    );

    // A file dictionary with siblings: both a file and a directory.
    let mut t = base();
    get_mut(get_mut(get_mut(&mut t, "info"), "file tree"), "e").insert("x", Owned::dict());
    assert_eq!(
        bad(&t, "info.file tree[e]"),
        Problem::FileAndDirectory("e".into())
    );

    // Empty directory.
    let mut t = base();
    get_mut(get_mut(&mut t, "info"), "file tree").insert("zdir", Owned::dict());
    assert_eq!(bad(&t, "info.file tree[zdir]"), Problem::EmptyDirectory);

    // Unsafe keys.
    let mut t = base();
    let tree = get_mut(get_mut(&mut t, "info"), "file tree");
    let e = get_mut(tree, "e").clone();
    tree.insert("..", e);
    assert!(matches!(
        bad(&t, "info.file tree[..]"),
        Problem::UnsafePath(_)
    ));
    let mut t = base();
    let tree = get_mut(get_mut(&mut t, "info"), "file tree");
    let e = get_mut(tree, "e").clone();
    tree.insert("", e);
    assert!(matches!(
        bad(&t, "info.file tree[]"),
        Problem::UnsafePath(_)
    ));

    // Non-dictionary nodes.
    let mut t = base();
    get_mut(get_mut(&mut t, "info"), "file tree").insert("q", int(1));
    bad(&t, "info.file tree[q]");
    let mut t = base();
    set_leaf(&mut t, &["e"], s("x"));
    bad(&t, "info.file tree[e][\"\"]");
}

#[test]
fn v2_depth_cap() {
    let deep: Vec<String> = (0..=MAX_PATH_DEPTH).map(|i| format!("{i}")).collect();
    let deep: Vec<&str> = deep.iter().map(String::as_str).collect();
    let t = v2_torrent("d", &[(&deep, 5)]);
    let e = parse(&t).unwrap_err();
    assert!(
        matches!(
            e.problem(),
            Problem::TooMany {
                what: "path components",
                ..
            }
        ),
        "{e}"
    );
    ok(&v2_torrent("d", &[(&deep[..MAX_PATH_DEPTH], 5)]));
}

#[test]
fn piece_layer_rules() {
    let files: &[(&[&str], u64)] = &[(&["a"], 40_000), (&["b"], 100_000), (&["c"], PL)];
    let (root_a, _) = merkle_of(&content(1, 40_000), PL);
    let (root_b, layer_b) = merkle_of(&content(2, 100_000), PL);
    let (root_c, _) = merkle_of(&content(3, PL), PL);
    fn layers(t: &mut Owned) -> &mut Owned {
        get_mut(t, "piece layers")
    }

    let p = ok(&v2_torrent("d", files));
    assert_eq!(p.piece_layers().count(), 2);
    assert_eq!(p.piece_layer(&root_c), None);

    // Missing entry.
    let mut t = v2_torrent("d", files);
    if let Owned::Dict(m) = layers(&mut t) {
        m.remove(root_b.0.as_slice());
    }
    assert_eq!(
        bad(&t, "piece layers"),
        Problem::MissingPieceLayer {
            file: "b".into(),
            root: root_b.to_string()
        }
    );

    // Wrong length.
    let mut t = v2_torrent("d", files);
    let short: Vec<u8> = layer_b[..6].iter().flat_map(|h| h.0).collect();
    if let Owned::Dict(m) = layers(&mut t) {
        m.insert(root_b.0.to_vec(), Owned::Bytes(short));
    }
    assert_eq!(
        bad(&t, &format!("piece layers[{root_b}]")),
        Problem::PieceLayerLength {
            file: "b".into(),
            expected: 7,
            got_bytes: 192
        }
    );

    // Tampered hash.
    let mut t = v2_torrent("d", files);
    let mut wrong: Vec<u8> = layer_b.iter().flat_map(|h| h.0).collect();
    wrong[40] ^= 1;
    if let Owned::Dict(m) = layers(&mut t) {
        m.insert(root_b.0.to_vec(), Owned::Bytes(wrong));
    }
    assert_eq!(
        bad(&t, &format!("piece layers[{root_b}]")),
        Problem::PieceLayerMismatch { file: "b".into() }
    );

    // Entry for a one-piece file, or for no file at all.
    for extra in [root_c, Sha256Hash([9; 32])] {
        let mut t = v2_torrent("d", files);
        if let Owned::Dict(m) = layers(&mut t) {
            m.insert(extra.0.to_vec(), Owned::Bytes(root_c.0.to_vec()));
        }
        assert_eq!(
            bad(&t, &format!("piece layers[{extra}]")),
            Problem::UnexpectedPieceLayer
        );
    }

    // Key of the wrong size; value of the wrong type; not a dictionary.
    let mut t = v2_torrent("d", files);
    if let Owned::Dict(m) = layers(&mut t) {
        m.insert(vec![1; 31], Owned::Bytes(vec![]));
    }
    assert_eq!(
        bad(&t, "piece layers[#0]"),
        Problem::HashLength {
            expected: 32,
            got: 31
        }
    );
    let mut t = v2_torrent("d", files);
    if let Owned::Dict(m) = layers(&mut t) {
        m.insert(root_a.0.to_vec(), int(1));
    }
    bad(&t, &format!("piece layers[{root_a}]"));
    let mut t = v2_torrent("d", files);
    t.insert("piece layers", Owned::List(vec![]));
    bad(&t, "piece layers");

    // Identical files share one root and one layer.
    let same = v2_tree(&[(&["x"], 40_000)], PL);
    let leaf = get_mut(&mut get_mut(&mut same.tree.clone(), "x").clone(), "").clone();
    let mut t = v2_torrent("d", &[(&["x"], 40_000)]);
    let mut dir = Owned::dict();
    dir.insert("", leaf);
    get_mut(get_mut(&mut t, "info"), "file tree").insert("y", dir);
    let p = ok(&t);
    assert_eq!(p.files().len(), 2);
    assert_eq!(p.piece_layers().count(), 1);
    assert!(p.has_piece_layers());
}

#[test]
fn missing_piece_layers_and_insert() {
    let mut t = v2_torrent("d", &[(&["a"], 40_000), (&["b"], 10)]);
    remove(&mut t, "piece layers");
    let mut p = ok(&t);
    assert!(!p.has_piece_layers());
    let (root, layer) = merkle_of(&content(1, 40_000), PL);
    let mut wrong = layer.clone();
    wrong[0].0[0] ^= 1;
    let e = p.insert_piece_layer(root, &wrong).unwrap_err();
    assert_eq!(
        e.problem(),
        &Problem::PieceLayerMismatch { file: "a".into() }
    );
    assert_eq!(
        p.insert_piece_layer(root, &layer[..2])
            .unwrap_err()
            .problem(),
        &Problem::PieceLayerLength {
            file: "a".into(),
            expected: 3,
            got_bytes: 64
        }
    );
    let (root_b, layer_b) = merkle_of(&content(2, 10), PL);
    assert_eq!(
        p.insert_piece_layer(root_b, &layer_b)
            .unwrap_err()
            .problem(),
        &Problem::UnexpectedPieceLayer
    );
    assert!(!p.has_piece_layers());
    p.insert_piece_layer(root, &layer).unwrap();
    assert!(p.has_piece_layers());
    assert_eq!(p.piece_layer(&root), Some(layer.as_slice()));

    // From info bytes: no layers, unless none is needed.
    let i = Torrent::from_info_bytes(p.info_bytes()).unwrap();
    assert_eq!(i.info_hashes(), p.info_hashes());
    assert!(!i.has_piece_layers());
    let small = ok(&v2_torrent("d", &[(&["a"], 10)]));
    assert!(Torrent::from_info_bytes(small.info_bytes())
        .unwrap()
        .has_piece_layers());
}

// ---- hybrid ----------------------------------------------------------------

#[test]
fn hybrid_multi_file() {
    let files: &[(&[&str], u64)] = &[
        (&["a", "x"], 100),
        (&["a", "y"], 40_000),
        (&["b"], 0),
        (&["c"], PL),
        (&["d"], 7),
    ];
    let t = hybrid_torrent(files);
    let p = ok(&t);
    let info = get_mut(&mut t.clone(), "info").encode();
    assert_eq!(p.version(), Version::Hybrid);
    assert_eq!(
        p.info_hashes(),
        InfoHashes::Hybrid(sha1_of(&info), sha256_of(&info))
    );
    assert_eq!(p.info_hashes().v1(), Some(sha1_of(&info)));
    let got: Vec<_> = p
        .files()
        .iter()
        .map(|f| {
            (
                f.display_path(),
                f.offset,
                f.is_pad(),
                f.pieces_root.is_some(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("a/x".into(), 0, false, true),
            (format!(".pad/{}", PL - 100), 100, true, false),
            ("a/y".into(), PL, false, true),
            (
                format!(".pad/{}", 3 * PL - 40_000),
                40_000 + PL,
                true,
                false
            ),
            ("b".into(), 4 * PL, false, false),
            ("c".into(), 4 * PL, false, true),
            ("d".into(), 5 * PL, false, true),
        ]
    );
    assert_eq!(p.piece_count(), 6);
    assert_eq!(p.v1_piece_hashes().len(), 6);
    assert_eq!(p.total_length(), 100 + 40_000 + PL + 7);
    assert!(p.has_piece_layers());

    // A trailing pad file (libtorrent may write one) is accepted.
    let mut t = hybrid_torrent(files);
    let info = get_mut(&mut t, "info");
    if let Owned::List(l) = get_mut(info, "files") {
        l.push(pad(PL - 7));
    }
    ok(&t);
}

#[test]
fn hybrid_single_file() {
    let (mut info, layers) = v2_info("f.bin", &[(&["f.bin"], 40_000)]);
    info.insert("length", int(40_000));
    info.insert("pieces", zero_pieces(40_000, PL));
    let mut t = torrent(info.clone());
    t.insert("piece layers", layers.clone());
    let p = ok(&t);
    assert_eq!(p.version(), Version::Hybrid);
    assert!(!p.is_multi_file());
    assert!(p.files()[0].pieces_root.is_some());

    // Name and tree key disagree.
    info.insert("name", s("g.bin"));
    let mut t = torrent(info);
    t.insert("piece layers", layers);
    assert!(matches!(bad(&t, "info"), Problem::HybridMismatch { .. }));
}

#[test]
fn hybrid_mismatches() {
    let files: &[(&[&str], u64)] = &[(&["a"], 100), (&["b"], 200)];

    // Different order in the v1 list.
    let mut t = hybrid_torrent(files);
    if let Owned::List(l) = get_mut(get_mut(&mut t, "info"), "files") {
        *l = vec![v1_file(&["b"], 200), pad(PL - 200), v1_file(&["a"], 100)];
    }
    assert_eq!(
        bad(&t, "info.files[0]"),
        Problem::HybridMismatch {
            v1: "`b` (200 bytes)".into(),
            v2: "`a` (100 bytes)".into()
        }
    );

    // Different length.
    let mut t = hybrid_torrent(files);
    item_mut(get_mut(get_mut(&mut t, "info"), "files"), 2).insert("length", int(201));
    assert!(matches!(
        bad(&t, "info.files[2]"),
        Problem::HybridMismatch { .. }
    ));

    // Different attributes.
    let mut t = hybrid_torrent(files);
    item_mut(get_mut(get_mut(&mut t, "info"), "files"), 0).insert("attr", s("x"));
    assert!(matches!(
        bad(&t, "info.files[0]"),
        Problem::HybridMismatch { .. }
    ));

    // Missing pad file: b is not aligned.
    let mut t = hybrid_torrent(files);
    let info = get_mut(&mut t, "info");
    if let Owned::List(l) = get_mut(info, "files") {
        l.remove(1);
    }
    info.insert("pieces", zero_pieces(300, PL));
    assert_eq!(
        bad(&t, "info.files[1]"),
        Problem::Misaligned {
            offset: 100,
            expected: PL
        }
    );

    // Pad file one piece too long: b starts a piece late.
    let mut t = hybrid_torrent(files);
    let info = get_mut(&mut t, "info");
    *item_mut(get_mut(info, "files"), 1) = pad(2 * PL - 100);
    info.insert("pieces", zero_pieces(2 * PL + 200, PL));
    assert_eq!(
        bad(&t, "info.files[2]"),
        Problem::Misaligned {
            offset: 2 * PL,
            expected: PL
        }
    );

    // Trailing pad that adds a piece.
    let mut t = hybrid_torrent(files);
    let info = get_mut(&mut t, "info");
    if let Owned::List(l) = get_mut(info, "files") {
        l.push(pad(2 * PL - 200));
    }
    info.insert("pieces", zero_pieces(3 * PL, PL));
    assert_eq!(
        bad(&t, "info.pieces"),
        Problem::HybridPieceCount { v1: 3, v2: 2 }
    );

    // A file only in the tree.
    let mut t = hybrid_torrent(files);
    let extra = v2_tree(&[(&["c"], 5)], PL).tree;
    let c = get_mut(&mut extra.clone(), "c").clone();
    get_mut(get_mut(&mut t, "info"), "file tree").insert("c", c);
    assert_eq!(
        bad(&t, "info.files"),
        Problem::HybridFileCount { v1: 2, v2: 3 }
    );

    // v1 single-file, tree multi-file.
    let mut t = hybrid_torrent(files);
    let info = get_mut(&mut t, "info");
    remove(info, "files");
    info.insert("length", int(100));
    info.insert("pieces", zero_pieces(100, PL));
    assert_eq!(
        bad(&t, "info.file tree"),
        Problem::HybridLayout {
            v1: "single-file",
            v2: "multi-file"
        }
    );

    // `pieces` present but no `length`/`files`.
    let mut t = hybrid_torrent(files);
    remove(get_mut(&mut t, "info"), "files");
    assert_eq!(bad(&t, "info"), Problem::LengthOrFiles);
}

#[test]
fn error_display() {
    let t = d(vec![("info", s("x"))]);
    assert_eq!(
        parse(&t).unwrap_err().to_string(),
        "info: must be of type dictionary, got byte string"
    );
    let e = TorrentError::new("info.files[3].path[1]", Problem::UnsafePath("contains `/`"));
    assert_eq!(
        e.to_string(),
        "info.files[3].path[1]: is not a safe path component: contains `/`"
    );
}

// ---- fuzz smoke ------------------------------------------------------------

/// Every truncation and many byte flips of valid torrents: never a panic.
#[test]
fn fuzz_smoke() {
    let samples = [
        torrent(v1_multi(&[(&["a"], 100), (&["b", "c"], 20_000)])),
        v2_torrent("d", &[(&["a"], 40_000), (&["b", "c"], 10), (&["e"], 0)]),
        hybrid_torrent(&[(&["a"], 100), (&["b"], 40_000)]),
    ];
    let mut seed: u32 = 1;
    for t in &samples {
        let bytes = t.encode();
        fuzz_torrent(&bytes);
        for cut in 0..bytes.len() {
            fuzz_torrent(&bytes[..cut]);
        }
        for _ in 0..2000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let mut m = bytes.clone();
            let at = (seed >> 8) as usize % m.len();
            m[at] = (seed >> 3) as u8;
            fuzz_torrent(&m);
        }
    }
}
