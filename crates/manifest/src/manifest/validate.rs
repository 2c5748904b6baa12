//! Field-by-field validation: the wire document ([`super::wire::Doc`]) to
//! the typed [`Manifest`] and back. Every error names its field by its
//! JSON path (`files[2].piecesRoot`).

use std::collections::BTreeSet;

use btl_types::{Sha1Hash, Sha256Hash};

use super::wire::{Doc, FileDoc, LicenseDoc, PaymentDoc, SplitDoc, TermsDoc};
use super::{
    License, Manifest, ManifestError, ManifestFile, Payment, Split, Terms, DOC_TYPE, MAX_FILES,
    MAX_NAME_LEN, MAX_REGIONS, MAX_SPDX_LEN, MAX_SPLITS, MULTIHASH_SHA256_PREFIX, TOTAL_BPS,
    VERSION,
};
use crate::account::Account;
use crate::did::{truncate, DidKey};
use crate::time;

fn bad(field: impl Into<String>, problem: impl Into<String>) -> ManifestError {
    ManifestError::Field {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A non-negative integer written as a decimal string: digits only, no
/// sign, no leading zero (except "0" itself), at most `u64::MAX`.
pub(crate) fn parse_decimal(field: &str, s: &str) -> Result<u64, ManifestError> {
    let ok = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|c| c.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(bad(
            field,
            format!(
                "{:?} is not a decimal string (digits only, no leading zeros)",
                truncate(s)
            ),
        ));
    }
    s.parse()
        .map_err(|_| bad(field, format!("{s} is larger than 2^64 - 1")))
}

fn lower_hex<const N: usize>(field: &str, s: &str) -> Result<[u8; N], ManifestError> {
    let mut out = [0u8; N];
    if s.len() != 2 * N
        || !s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        || hex::decode_to_slice(s, &mut out).is_err()
    {
        return Err(bad(
            field,
            format!("expected {} lowercase hex digits", 2 * N),
        ));
    }
    Ok(out)
}

fn sha256_hex(field: &str, s: &str) -> Result<Sha256Hash, ManifestError> {
    lower_hex::<32>(field, s).map(Sha256Hash)
}

/// Parses the multihash text form: lowercase hex of `0x12 0x20 || digest`.
pub(crate) fn parse_multihash(field: &str, s: &str) -> Result<Sha256Hash, ManifestError> {
    let rest = s.strip_prefix(MULTIHASH_SHA256_PREFIX).ok_or_else(|| {
        bad(
            field,
            "expected a SHA-256 multihash: \"1220\" and 64 lowercase hex digits",
        )
    })?;
    sha256_hex(field, rest)
}

/// The multihash text form of a SHA-256 digest.
pub(crate) fn multihash(h: &Sha256Hash) -> String {
    format!("{MULTIHASH_SHA256_PREFIX}{}", h.to_hex())
}

/// Checks a display string (a name, a path component): non-empty, at most
/// `max` bytes, no control characters.
fn check_text(field: &str, s: &str, max: usize) -> Result<(), ManifestError> {
    if s.is_empty() {
        return Err(bad(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(bad(field, format!("longer than {max} bytes")));
    }
    if s.chars().any(char::is_control) {
        return Err(bad(field, "contains a control character"));
    }
    Ok(())
}

/// A relative file path: components joined by `/`, each a plain name.
pub(crate) fn parse_path(field: &str, s: &str) -> Result<Vec<String>, ManifestError> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() > btl_metainfo::torrent::MAX_PATH_DEPTH {
        return Err(bad(field, "too many path components"));
    }
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        if p.is_empty() || p == "." || p == ".." || p.contains('\\') {
            return Err(bad(
                field,
                format!(
                    "{:?} is not a relative path of plain names joined by '/'",
                    truncate(s)
                ),
            ));
        }
        check_text(field, p, btl_metainfo::torrent::MAX_COMPONENT_LEN)?;
        out.push(p.to_string());
    }
    Ok(out)
}

/// A light check of an SPDX license expression (SPDX spec Annex D): ids
/// made of letters, digits, `.` and `-` (with an optional trailing `+`,
/// `LicenseRef-…`/`DocumentRef-…:LicenseRef-…` allowed), joined by `AND`,
/// `OR`, `WITH`, with balanced parentheses. The list of known ids is not
/// checked: new ones appear every release.
pub(crate) fn check_spdx(field: &str, s: &str) -> Result<(), ManifestError> {
    let fail = |why: &str| {
        bad(
            field,
            format!("{:?} is not an SPDX expression: {why}", truncate(s)),
        )
    };
    if s.is_empty() || s.len() > MAX_SPDX_LEN {
        return Err(fail("empty or too long"));
    }
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let mut depth = 0usize;
    // Alternates: expect an operand (id or "("), then an operator or ")".
    let mut want_operand = true;
    let mut after_with = false;
    for tok in spaced.split_ascii_whitespace() {
        match tok {
            "(" if want_operand => depth += 1,
            ")" if !want_operand => {
                depth = depth.checked_sub(1).ok_or_else(|| fail("unbalanced ')'"))?;
            }
            "AND" | "OR" | "WITH" if !want_operand => {
                want_operand = true;
                after_with = tok == "WITH";
            }
            id if want_operand => {
                let core = id.strip_suffix('+').filter(|_| !after_with).unwrap_or(id);
                let core = core.split_once(':').map_or(core, |(doc, lic)| {
                    if doc.starts_with("DocumentRef-") {
                        lic
                    } else {
                        "\0"
                    }
                });
                if core.is_empty()
                    || !core
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
                {
                    return Err(fail("bad license id"));
                }
                want_operand = false;
                after_with = false;
            }
            _ => return Err(fail("unexpected token")),
        }
    }
    if want_operand || depth != 0 {
        return Err(fail("incomplete expression"));
    }
    Ok(())
}

/// ISO 3166-1 alpha-2 shape: two uppercase ASCII letters.
fn check_region(field: &str, s: &str) -> Result<(), ManifestError> {
    if s.len() == 2 && s.bytes().all(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(bad(
            field,
            format!(
                "{:?} is not an ISO 3166-1 alpha-2 region code (two capital letters)",
                truncate(s)
            ),
        ))
    }
}

fn account(field: &str, s: &str) -> Result<Account, ManifestError> {
    s.parse()
        .map_err(|e| bad(field, format!("{:?}: {e}", truncate(s))))
}

/// The typed manifest. `known` is a key already decoded (the proof's):
/// when `creator` is its text, it is used instead of decoding again.
pub(crate) fn from_doc(d: &Doc<'_>, known: Option<DidKey>) -> Result<Manifest, ManifestError> {
    if d.kind != DOC_TYPE {
        return Err(bad(
            "type",
            format!("{:?}, expected {DOC_TYPE:?}", truncate(&d.kind)),
        ));
    }
    if d.version != VERSION {
        return Err(bad(
            "version",
            format!("{} is not supported (this is version {VERSION})", d.version),
        ));
    }
    let creator: DidKey = match known {
        Some(k)
            if d.creator.strip_prefix(crate::did::DID_KEY_PREFIX)
                == Some(k.multikey().as_str()) =>
        {
            k
        }
        _ => d
            .creator
            .parse()
            .map_err(|e| bad("creator", format!("{e}")))?,
    };
    if !time::is_canonical_utc(&d.created) {
        return Err(bad(
            "created",
            format!(
                "{:?} is not of the form YYYY-MM-DDTHH:MM:SSZ",
                truncate(&d.created)
            ),
        ));
    }
    let created = time::parse_datetime(&d.created).map_err(|e| bad("created", e.to_string()))?;
    check_text("name", &d.name, MAX_NAME_LEN)?;
    let infohash_v2 = parse_multihash("infohashV2", &d.infohash_v2)?;
    let infohash_v1 = match &d.infohash_v1 {
        None => None,
        Some(s) => Some(Sha1Hash(lower_hex::<20>("infohashV1", s)?)),
    };
    let piece_length = parse_decimal("pieceLength", &d.piece_length)?;
    if !piece_length.is_power_of_two() || piece_length < 16 * 1024 {
        return Err(bad(
            "pieceLength",
            format!("{piece_length} is not a power of two of at least 16384 (BEP 52)"),
        ));
    }
    if d.files.is_empty() || d.files.len() > MAX_FILES {
        return Err(bad("files", format!("must list 1 to {MAX_FILES} files")));
    }
    let mut files = Vec::with_capacity(d.files.len());
    let mut seen = BTreeSet::new();
    for (i, f) in d.files.iter().enumerate() {
        let field = |name: &str| format!("files[{i}].{name}");
        let path = parse_path(&field("path"), &f.path)?;
        if !seen.insert(&*f.path) {
            return Err(bad(
                field("path"),
                format!("{:?} is listed twice", truncate(&f.path)),
            ));
        }
        let length = parse_decimal(&field("length"), &f.length)?;
        let pieces_root = match (&f.pieces_root, length) {
            (None, 0) => None,
            (Some(_), 0) => {
                return Err(bad(
                    field("piecesRoot"),
                    "an empty file has no pieces root (BEP 52)",
                ))
            }
            (None, _) => {
                return Err(bad(
                    field("piecesRoot"),
                    "missing: every non-empty file has a pieces root",
                ))
            }
            (Some(r), _) => Some(sha256_hex(&field("piecesRoot"), r)?),
        };
        files.push(ManifestFile {
            path,
            length,
            pieces_root,
        });
    }
    check_spdx("license.spdx", &d.license.spdx)?;
    let terms = match &d.license.terms {
        None => None,
        Some(t) => Some(terms(t)?),
    };
    let payment = match &d.payment {
        None => None,
        Some(p) => Some(payment(p)?),
    };
    Ok(Manifest {
        creator,
        created,
        name: d.name.to_string(),
        infohash_v2,
        infohash_v1,
        piece_length,
        files,
        license: License {
            spdx: d.license.spdx.to_string(),
            terms,
        },
        payment,
    })
}

fn terms(t: &TermsDoc<'_>) -> Result<Terms, ManifestError> {
    let regions = match &t.regions {
        None => None,
        Some(r) => {
            if r.is_empty() || r.len() > MAX_REGIONS {
                return Err(bad(
                    "license.terms.regions",
                    format!("must list 1 to {MAX_REGIONS} regions (leave it out for worldwide)"),
                ));
            }
            let mut seen = BTreeSet::new();
            for (i, code) in r.iter().enumerate() {
                let field = format!("license.terms.regions[{i}]");
                check_region(&field, code)?;
                if !seen.insert(&**code) {
                    return Err(bad(field, format!("{code} is listed twice")));
                }
            }
            Some(r.iter().map(|c| c.to_string()).collect())
        }
    };
    let distribution_limit = match &t.distribution_limit {
        None => None,
        Some(s) => {
            let n = parse_decimal("license.terms.distributionLimit", s)?;
            if n == 0 {
                return Err(bad("license.terms.distributionLimit", "must be at least 1"));
            }
            Some(n)
        }
    };
    Ok(Terms {
        regions,
        commercial_use: t.commercial_use,
        distribution_limit,
    })
}

fn payment(p: &PaymentDoc<'_>) -> Result<Payment, ManifestError> {
    let address = account("payment.address", &p.address)?;
    let mut splits = Vec::new();
    if let Some(list) = &p.splits {
        if list.is_empty() || list.len() > MAX_SPLITS {
            return Err(bad(
                "payment.splits",
                format!(
                    "must list 1 to {MAX_SPLITS} splits (leave it out to pay the address alone)"
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut total = 0u64;
        for (i, s) in list.iter().enumerate() {
            let acc = account(&format!("payment.splits[{i}].account"), &s.account)?;
            if !seen.insert(acc) {
                return Err(bad(
                    format!("payment.splits[{i}].account"),
                    "this account is listed twice",
                ));
            }
            if s.bps == 0 || s.bps > u64::from(TOTAL_BPS) {
                return Err(bad(
                    format!("payment.splits[{i}].bps"),
                    format!("{} is not between 1 and {TOTAL_BPS} basis points", s.bps),
                ));
            }
            total += s.bps;
            splits.push(Split {
                account: acc,
                bps: s.bps as u16,
            });
        }
        if total != u64::from(TOTAL_BPS) {
            return Err(bad(
                "payment.splits",
                format!("the basis points add up to {total}, not {TOTAL_BPS}"),
            ));
        }
    }
    Ok(Payment { address, splits })
}

pub(crate) fn to_doc(m: &Manifest) -> Doc<'static> {
    Doc {
        kind: DOC_TYPE.into(),
        version: VERSION,
        creator: m.creator.to_string().into(),
        created: time::format_utc(m.created).into(),
        name: m.name.clone().into(),
        infohash_v2: multihash(&m.infohash_v2).into(),
        infohash_v1: m.infohash_v1.map(|h| h.to_hex().into()),
        piece_length: m.piece_length.to_string().into(),
        files: m
            .files
            .iter()
            .map(|f| FileDoc {
                path: f.path.join("/").into(),
                length: f.length.to_string().into(),
                pieces_root: f.pieces_root.map(|r| r.to_hex().into()),
            })
            .collect(),
        license: LicenseDoc {
            spdx: m.license.spdx.clone().into(),
            terms: m.license.terms.as_ref().map(|t| TermsDoc {
                regions: t
                    .regions
                    .as_ref()
                    .map(|r| r.iter().map(|x| x.clone().into()).collect()),
                commercial_use: t.commercial_use,
                distribution_limit: t.distribution_limit.map(|n| n.to_string().into()),
            }),
        },
        payment: m.payment.as_ref().map(|p| PaymentDoc {
            address: p.address.to_string().into(),
            splits: (!p.splits.is_empty()).then(|| {
                p.splits
                    .iter()
                    .map(|s| SplitDoc {
                        account: s.account.to_string().into(),
                        bps: u64::from(s.bps),
                    })
                    .collect()
            }),
        }),
        proof: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("x", "0").unwrap(), 0);
        assert_eq!(
            parse_decimal("x", "18446744073709551615").unwrap(),
            u64::MAX
        );
        for bad in [
            "",
            "01",
            "-1",
            "+1",
            "1.0",
            "1e3",
            " 1",
            "18446744073709551616",
            "١",
        ] {
            let e = parse_decimal("files[0].length", bad).unwrap_err();
            assert!(e.to_string().contains("files[0].length"), "{e}");
        }
    }

    #[test]
    fn spdx_expressions() {
        for ok in [
            "MIT",
            "CC-BY-4.0",
            "GPL-2.0+",
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
            "(MIT OR Apache-2.0) AND CC0-1.0",
            "LicenseRef-my-license",
            "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2",
        ] {
            check_spdx("license.spdx", ok).unwrap();
        }
        for bad in [
            "",
            "MIT OR",
            "(MIT",
            "MIT)",
            "MIT AND AND CC0-1.0",
            "MIT CC0-1.0",
            "M!T",
            "OR MIT",
            "foo:bar",
            "a WITH b+",
        ] {
            assert!(check_spdx("license.spdx", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(parse_path("p", "a/b.txt").unwrap(), vec!["a", "b.txt"]);
        for bad in ["", "/a", "a/", "a//b", "../a", "a/./b", "a\\b", "a/\u{0}"] {
            assert!(parse_path("p", bad).is_err(), "{bad:?}");
        }
    }
}
