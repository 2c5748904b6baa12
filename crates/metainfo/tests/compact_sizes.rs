//! Size of `.btl` against `.torrent` on realistic synthetic torrents.
//!
//! Run with `--nocapture` to see the table (Markdown, as in BENCHMARKS.md);
//! set `BTL_SIZES_DIR` to also write the files out. Hash strings are
//! pseudo-random (incompressible, like real ones); names follow common
//! shapes (albums, photo folders, source trees). The test asserts that
//! `.btl` is never larger and round-trips, that the writer picks body codec
//! 1 (DEFLATE) exactly where it is shorter, and pins each ratio to within a
//! little of the measured one.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use btl_bencode::Owned;
use btl_metainfo::compact::{
    btl_to_torrent, torrent_to_btl, BtlHeader, CODEC_DEFLATE, CODEC_PLAIN,
};
use btl_types::Sha256Hash;
use sha2::{Digest as _, Sha256};

/// Deterministic pseudo-random bytes.
fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(seed.as_bytes());
        h.update(i.to_le_bytes());
        out.extend_from_slice(&h.finalize());
        i += 1;
    }
    out.truncate(len);
    out
}

fn rnd(seed: &str, n: u64) -> u64 {
    let b = noise(seed, 8);
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) % n
}

const WORDS: &[&str] = &[
    "river", "night", "light", "summer", "broken", "echo", "golden", "silent", "city", "dream",
    "fire", "ocean", "winter", "shadow", "heart", "road", "glass", "morning", "storm", "garden",
];

fn title(seed: &str, words: usize) -> String {
    (0..words)
        .map(|i| {
            let w = WORDS[rnd(&format!("{seed}/{i}"), WORDS.len() as u64) as usize];
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

struct File {
    path: Vec<String>,
    len: i64,
}

fn s(x: &str) -> Owned {
    Owned::bytes(x)
}

fn d(entries: Vec<(&str, Owned)>) -> Owned {
    Owned::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect(),
    )
}

fn top(info: Owned, extra: Vec<(&str, Owned)>) -> Vec<u8> {
    let mut t = d(vec![
        ("announce", s("udp://tracker.opentrackr.org:1337/announce")),
        (
            "announce-list",
            Owned::List(vec![
                Owned::List(vec![s("udp://tracker.opentrackr.org:1337/announce")]),
                Owned::List(vec![s("udp://open.demonii.com:1337/announce")]),
                Owned::List(vec![s("https://tracker.example.org:443/announce")]),
            ]),
        ),
        ("comment", s("Released under CC BY 4.0")),
        ("created by", s("btl 0.1.0")),
        ("creation date", Owned::Int(1_717_171_717)),
        ("info", info),
    ]);
    for (k, v) in extra {
        t.insert(k, v);
    }
    t.encode()
}

/// A v1 torrent (single file if `files` has one entry with an empty path).
fn v1(name: &str, files: &[File], piece_len: i64) -> Vec<u8> {
    let total: i64 = files.iter().map(|f| f.len).sum();
    let pieces = ((total + piece_len - 1) / piece_len) as usize;
    let mut info = d(vec![
        ("name", s(name)),
        ("piece length", Owned::Int(piece_len)),
        ("pieces", Owned::Bytes(noise(name, pieces * 20))),
    ]);
    if files.len() == 1 && files[0].path.is_empty() {
        info.insert("length", Owned::Int(total));
    } else {
        let list = files
            .iter()
            .map(|f| {
                d(vec![
                    ("length", Owned::Int(f.len)),
                    ("path", Owned::List(f.path.iter().map(|p| s(p)).collect())),
                ])
            })
            .collect();
        info.insert("files", Owned::List(list));
    }
    top(info, vec![])
}

/// A hybrid torrent: v2 file tree and piece layers, v1 file list with BEP 47
/// pad files.
fn hybrid(name: &str, files: &[File], piece_len: i64) -> Vec<u8> {
    let mut tree = Owned::dict();
    let mut layers = BTreeMap::new();
    let mut list = Vec::new();
    let mut v1_total = 0i64;
    let n = files.len();
    for (i, f) in files.iter().enumerate() {
        let root = noise(&format!("{name}/root/{i}"), 32);
        let pieces = (f.len + piece_len - 1) / piece_len;
        if pieces > 1 {
            layers.insert(
                root.clone(),
                Owned::Bytes(noise(&format!("{name}/layer/{i}"), pieces as usize * 32)),
            );
        }
        // Insert into the nested file tree.
        let mut node = &mut tree;
        for part in &f.path {
            let Owned::Dict(m) = node else { unreachable!() };
            node = m
                .entry(part.as_bytes().to_vec())
                .or_insert_with(Owned::dict);
        }
        node.insert(
            "",
            d(vec![
                ("length", Owned::Int(f.len)),
                ("pieces root", Owned::Bytes(root)),
            ]),
        );
        list.push(d(vec![
            ("length", Owned::Int(f.len)),
            ("path", Owned::List(f.path.iter().map(|p| s(p)).collect())),
        ]));
        v1_total += f.len;
        let pad = (piece_len - f.len % piece_len) % piece_len;
        if pad > 0 && i + 1 < n {
            list.push(d(vec![
                ("attr", s("p")),
                ("length", Owned::Int(pad)),
                ("path", Owned::List(vec![s(".pad"), s(&pad.to_string())])),
            ]));
            v1_total += pad;
        }
    }
    let pieces = ((v1_total + piece_len - 1) / piece_len) as usize;
    let info = d(vec![
        ("file tree", tree),
        ("files", Owned::List(list)),
        ("meta version", Owned::Int(2)),
        ("name", s(name)),
        ("piece length", Owned::Int(piece_len)),
        (
            "pieces",
            Owned::Bytes(noise(&format!("{name}/v1"), pieces * 20)),
        ),
    ]);
    top(info, vec![("piece layers", Owned::Dict(layers))])
}

fn album_files() -> Vec<File> {
    // 40 albums of 12 tracks, FLAC, ~30 MB each: 480 files, ~14 GB.
    let mut out = Vec::new();
    for a in 0..40 {
        let album = format!(
            "Artist {} - {} ({})",
            a % 7,
            title(&format!("a{a}"), 3),
            1990 + a
        );
        for t in 1..=12 {
            out.push(File {
                path: vec![
                    album.clone(),
                    format!("{t:02} - {}.flac", title(&format!("t{a}/{t}"), 2)),
                ],
                len: 20_000_000 + rnd(&format!("len{a}/{t}"), 20_000_000) as i64,
            });
        }
        out.push(File {
            path: vec![album.clone(), "cover.jpg".into()],
            len: 300_000 + rnd(&format!("cover{a}"), 200_000) as i64,
        });
    }
    out
}

fn photo_files() -> Vec<File> {
    // 5,000 photos in 100 day folders, ~4 MB each: ~20 GB.
    (0..5000)
        .map(|i| File {
            path: vec![
                format!("2023-{:02}-{:02}", 1 + i / 50 / 28 % 12, 1 + i / 50 % 28),
                format!("IMG_{:04}.JPG", 1000 + i),
            ],
            len: 3_000_000 + rnd(&format!("p{i}"), 2_000_000) as i64,
        })
        .collect()
}

fn source_files() -> Vec<File> {
    // A source tree: 8,000 small files, deep paths, ~200 MB.
    let dirs = ["src", "include", "tests", "docs", "tools", "third_party"];
    (0..8000)
        .map(|i| {
            let mut path = vec![dirs[i % dirs.len()].to_string()];
            for depth in 0..(1 + i % 4) {
                path.push(WORDS[(i / (depth + 1) / 7) % WORDS.len()].to_string());
            }
            path.push(format!("{}_{i}.c", WORDS[i % WORDS.len()]));
            File {
                path,
                len: 1_000 + rnd(&format!("s{i}"), 50_000) as i64,
            }
        })
        .collect()
}

#[test]
fn sizes_on_realistic_torrents() {
    let single = vec![File {
        path: vec![],
        len: 4_700_000_000,
    }];
    // (name, torrent, expected codec, most .btl / .torrent ratio allowed:
    // the measured one rounded up by about 0.01).
    let cases: Vec<(&str, Vec<u8>, u8, f64)> = vec![
        (
            "v1 single 4.7 GB, 4 MiB pieces",
            v1("ubuntu.iso", &single, 4 << 20),
            CODEC_PLAIN,
            1.0,
        ),
        (
            "v1 480-track music, 1 MiB pieces",
            v1("Discography", &album_files(), 1 << 20),
            CODEC_DEFLATE,
            0.89,
        ),
        (
            "v1 5000 photos, 4 MiB pieces",
            v1("Photos 2023", &photo_files(), 4 << 20),
            CODEC_DEFLATE,
            0.36,
        ),
        (
            "v1 8000-file source tree, 256 KiB",
            v1("project-src", &source_files(), 256 << 10),
            CODEC_DEFLATE,
            0.17,
        ),
        (
            "hybrid 480-track music, 1 MiB",
            hybrid("Discography", &album_files(), 1 << 20),
            CODEC_DEFLATE,
            0.89,
        ),
        (
            "hybrid 5000 photos, 4 MiB",
            hybrid("Photos 2023", &photo_files(), 4 << 20),
            CODEC_DEFLATE,
            0.44,
        ),
        (
            "hybrid 8000-file source, 256 KiB",
            hybrid("project-src", &source_files(), 256 << 10),
            CODEC_DEFLATE,
            0.36,
        ),
    ];
    let header = BtlHeader {
        ledger_ref: Some(Sha256Hash([7; 32])),
        ..BtlHeader::default()
    };
    // Magic, version, flags, ledger marker and reference, extension count.
    let codec_at = 4 + 1 + 2 + 1 + 32 + 1;
    let dir = std::env::var_os("BTL_SIZES_DIR");
    println!(
        "| torrent | .torrent | .btl, codec 0 only | ratio | .btl | ratio | codec | vs codec 0 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, torrent, want_codec, max_ratio) in cases {
        let btl = torrent_to_btl(&torrent, &header).unwrap();
        let (_, back) = btl_to_torrent(&btl).unwrap();
        assert_eq!(back, torrent, "{name}");
        // The size the file would have with the plain (codec 0) body.
        let codec = btl[codec_at];
        let stored = &btl[codec_at + 1..btl.len() - 4];
        let plain_len = if codec == CODEC_DEFLATE {
            let body = miniz_oxide::inflate::decompress_to_vec(stored).unwrap();
            btl.len() - stored.len() + body.len()
        } else {
            btl.len()
        };
        let ratio = btl.len() as f64 / torrent.len() as f64;
        let plain_ratio = plain_len as f64 / torrent.len() as f64;
        println!(
            "| {name} | {} | {plain_len} | {plain_ratio:.3} | {} | {ratio:.3} | {codec} | {:.2} |",
            torrent.len(),
            btl.len(),
            btl.len() as f64 / plain_len as f64,
        );
        assert!(btl.len() <= plain_len, "{name}");
        assert!(plain_len <= torrent.len(), "{name}");
        assert_eq!(codec, want_codec, "{name}");
        assert!(ratio <= max_ratio, "{name}: ratio {ratio:.3} > {max_ratio}");
        if let Some(dir) = &dir {
            let base = std::path::Path::new(dir).join(name.replace([' ', ',', '.'], "_"));
            std::fs::write(base.with_extension("torrent"), &torrent).unwrap();
            std::fs::write(base.with_extension("btl"), &btl).unwrap();
        }
    }
}
