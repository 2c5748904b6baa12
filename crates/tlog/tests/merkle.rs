//! RFC 6962 trees: published vectors, and property tests of the stored-node
//! implementation against a naive one written straight from the RFC.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use btl_tlog::merkle::*;
use proptest::prelude::*;

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// The Certificate Transparency reference leaves (RFC 6962 test data).
fn ct_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| hex::decode(s).unwrap())
    .collect()
}

const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn ct_reference_roots_and_proofs() {
    let mut log = MemoryLog::new();
    assert_eq!(log.root(), h(CT_ROOTS[0]));
    for (i, leaf) in ct_leaves().iter().enumerate() {
        log.append(leaf);
        assert_eq!(log.root(), h(CT_ROOTS[i + 1]), "size {}", i + 1);
        assert_eq!(
            root_from_nodes(&log, (i + 1) as u64).unwrap(),
            h(CT_ROOTS[i + 1])
        );
    }
    let incl = [
        (
            0u64,
            vec![
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            vec![
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    let leaves = ct_leaves();
    for (index, want) in incl {
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(inclusion_proof(&log, index, 8).unwrap(), want);
        verify_inclusion(
            &leaf_hash(&leaves[index as usize]),
            index,
            8,
            &want,
            &h(CT_ROOTS[8]),
        )
        .unwrap();
    }
    let cons = [
        (
            2u64,
            8u64,
            vec![
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            vec![
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            vec![
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (old, new, want) in cons {
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(consistency_proof(&log, old, new).unwrap(), want);
        verify_consistency(
            old,
            new,
            &want,
            &h(CT_ROOTS[old as usize]),
            &h(CT_ROOTS[new as usize]),
        )
        .unwrap();
    }
}

// ---- naive RFC 6962 ---------------------------------------------------------

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = k_of(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn leaves(n: usize, salt: u8) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&[salt, (i & 0xff) as u8, (i >> 8) as u8]))
        .collect()
}

fn build(d: &[Hash]) -> MemoryLog {
    let mut log = MemoryLog::new();
    for l in d {
        log.append_hash(*l);
    }
    log
}

proptest! {
    #[test]
    fn inclusion_matches_naive(n in 1usize..300, m_seed in any::<usize>(), salt in any::<u8>()) {
        let d = leaves(n, salt);
        let log = build(&d);
        let m = m_seed % n;
        // Proof in the full tree and in every smaller tree that holds m.
        for size in [n, m + 1, (m + n).div_ceil(2)] {
            let want = path(m, &d[..size]);
            let got = inclusion_proof(&log, m as u64, size as u64).unwrap();
            prop_assert_eq!(&got, &want);
            let root = mth(&d[..size]);
            prop_assert_eq!(root_from_nodes(&log, size as u64).unwrap(), root);
            verify_inclusion(&d[m], m as u64, size as u64, &got, &root).unwrap();
            // Wrong leaf, index or size: rejected.
            prop_assert!(verify_inclusion(&leaf_hash(b"x"), m as u64, size as u64, &got, &root).is_err());
            if size > 1 {
                let other = (m + 1) % size;
                prop_assert!(verify_inclusion(&d[m], other as u64, size as u64, &got, &root).is_err());
                let mut bad = got.clone();
                bad[0][0] ^= 1;
                prop_assert!(verify_inclusion(&d[m], m as u64, size as u64, &bad, &root).is_err());
                prop_assert!(verify_inclusion(&d[m], m as u64, size as u64, &got[1..], &root).is_err());
            }
            // (The size alone is not bound by a proof: a checkpoint binds size and root.)
        }
    }

    #[test]
    fn consistency_matches_naive(n in 1usize..300, m_seed in any::<usize>(), salt in any::<u8>()) {
        let d = leaves(n, salt);
        let log = build(&d);
        let m = 1 + m_seed % n;
        let want = if m == n { vec![] } else { subproof(m, &d, true) };
        let got = consistency_proof(&log, m as u64, n as u64).unwrap();
        prop_assert_eq!(&got, &want);
        let (r1, r2) = (mth(&d[..m]), mth(&d));
        verify_consistency(m as u64, n as u64, &got, &r1, &r2).unwrap();
        prop_assert!(verify_consistency(m as u64, n as u64, &got, &r2, &r1).is_err() || r1 == r2);
        if !got.is_empty() {
            let mut bad = got.clone();
            let last = bad.len() - 1;
            bad[last][5] ^= 0x80;
            prop_assert!(verify_consistency(m as u64, n as u64, &bad, &r1, &r2).is_err());
            prop_assert!(verify_consistency(m as u64, n as u64, &got[..last], &r1, &r2).is_err());
        }
        if m < n {
            let wrong_old = mth(&d[..m - 1]);
            prop_assert!(verify_consistency(m as u64, n as u64, &got, &wrong_old, &r2).is_err() || m == 1);
        }
    }

    #[test]
    fn frontier_emits_every_stored_node(n in 0usize..600) {
        let d = leaves(n, 9);
        let mut f = Frontier::new();
        let mut count = 0usize;
        for (i, l) in d.iter().enumerate() {
            let nodes = f.push(*l);
            prop_assert_eq!(nodes[0], (0, i as u64, *l));
            for (level, index, hash) in &nodes {
                let lo = (*index as usize) << level;
                let hi = lo + (1usize << level);
                prop_assert_eq!(*hash, mth(&d[lo..hi]));
            }
            count += nodes.len();
            prop_assert_eq!(f.root(), mth(&d[..=i]));
        }
        // A tree of n leaves has 2n - popcount(n) stored nodes.
        prop_assert_eq!(count, 2 * n - n.count_ones() as usize);
        let rebuilt = Frontier::from_parts(f.size(), f.hashes().to_vec()).unwrap();
        prop_assert_eq!(rebuilt, f);
    }
}

#[test]
fn errors_are_reported() {
    let log = build(&leaves(5, 1));
    assert_eq!(
        inclusion_proof(&log, 5, 5),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        consistency_proof(&log, 6, 5),
        Err(ProofError::SizeOrder { old: 6, new: 5 })
    );
    assert!(matches!(
        inclusion_proof(&log, 0, 9),
        Err(ProofError::MissingNode { .. })
    ));
    assert!(Frontier::from_parts(3, vec![[0; 32]]).is_none());
    // Consistency from the empty tree needs no proof.
    verify_consistency(0, 5, &[], &empty_root(), &log.root()).unwrap();
}
