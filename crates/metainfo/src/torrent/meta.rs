//! Keys outside the info dictionary: trackers (BEP 3, BEP 12), web seeds
//! (BEP 19), comment, creator and creation date.

use btl_bencode::{Dict, Value};

use super::error::{Problem, TorrentError};
use super::fields::{opt_bytes, opt_int, opt_list, str_item, utf8, wrong};
use super::path::prefer_utf8;
use super::MAX_URLS;

/// The top-level metadata.
#[derive(Default)]
pub(super) struct Meta {
    pub trackers: Vec<Vec<String>>,
    pub web_seeds: Vec<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    pub creation_date: Option<i64>,
    pub encoding: Option<String>,
}

fn too_many(field: &str) -> TorrentError {
    TorrentError::new(
        field,
        Problem::TooMany {
            what: "URLs",
            max: MAX_URLS as u64,
        },
    )
}

/// Free text: `key.utf-8` preferred; invalid UTF-8 is replaced rather than
/// refused, since these fields are informational and outside the infohash.
fn text(top: &Dict<'_>, key: &str) -> Result<Option<String>, TorrentError> {
    Ok(prefer_utf8(top, "", key)?.map(|(b, _)| String::from_utf8_lossy(b).into_owned()))
}

/// Parses the top-level keys of a `.torrent`.
pub(super) fn parse(top: &Dict<'_>) -> Result<Meta, TorrentError> {
    let mut count = 0usize;
    let mut trackers = Vec::new();
    if let Some(tiers) = opt_list(top, "", "announce-list")? {
        for (i, tier) in tiers.iter().enumerate() {
            let field = format!("announce-list[{i}]");
            let Value::List(urls) = tier else {
                return Err(wrong(field, "list", tier));
            };
            let mut out = Vec::new();
            for (j, u) in urls.iter().enumerate() {
                let f = format!("{field}[{j}]");
                let url = str_item(u, &f)?;
                if url.is_empty() {
                    continue;
                }
                count += 1;
                if count > MAX_URLS {
                    return Err(too_many("announce-list"));
                }
                out.push(url);
            }
            if !out.is_empty() {
                trackers.push(out);
            }
        }
    }
    // BEP 12: `announce` is only a fallback for clients without
    // multitracker support, so it is used only if `announce-list` is empty.
    if let Some(b) = opt_bytes(top, "", "announce")? {
        let url = utf8(b, "announce")?;
        if trackers.is_empty() && !url.is_empty() {
            trackers.push(vec![url]);
        }
    }

    // BEP 19: a single URL or a list of them.
    let mut web_seeds = Vec::new();
    match top.get(b"url-list") {
        None => {}
        Some(Value::Bytes(b)) => {
            let url = utf8(b, "url-list")?;
            if !url.is_empty() {
                web_seeds.push(url);
            }
        }
        Some(Value::List(l)) => {
            if l.len() > MAX_URLS {
                return Err(too_many("url-list"));
            }
            for (i, u) in l.iter().enumerate() {
                let url = str_item(u, &format!("url-list[{i}]"))?;
                if !url.is_empty() {
                    web_seeds.push(url);
                }
            }
        }
        Some(other) => return Err(wrong("url-list", "byte string or list", other)),
    }

    Ok(Meta {
        trackers,
        web_seeds,
        comment: text(top, "comment")?,
        created_by: text(top, "created by")?,
        creation_date: opt_int(top, "", "creation date")?,
        encoding: text(top, "encoding")?,
    })
}
