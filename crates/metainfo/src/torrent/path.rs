//! Names and path components that are safe to join under a download
//! directory.

use btl_bencode::{Dict, List, Value};

use super::error::{Problem, TorrentError};
use super::fields::{join, missing, opt_bytes, wrong};
use super::{MAX_COMPONENT_LEN, MAX_PATH_DEPTH};

/// Checks one path component (or the torrent name) and returns it as text.
///
/// Refused: empty, longer than [`MAX_COMPONENT_LEN`] bytes, not UTF-8,
/// `.` or `..`, or containing `/`, `\` or NUL. A path made of such
/// components is always relative and can never leave the directory it is
/// joined to.
pub(super) fn component(b: &[u8], field: &str) -> Result<String, TorrentError> {
    let err = |p| Err(TorrentError::new(field, p));
    if b.is_empty() {
        return err(Problem::Empty);
    }
    if b.len() > MAX_COMPONENT_LEN {
        return err(Problem::TooLong {
            max: MAX_COMPONENT_LEN,
            got: b.len(),
        });
    }
    let Ok(s) = std::str::from_utf8(b) else {
        return err(Problem::NotUtf8);
    };
    if s == "." || s == ".." {
        return err(Problem::UnsafePath("`.` and `..` are not allowed"));
    }
    if s.contains('/') {
        return err(Problem::UnsafePath("contains `/`"));
    }
    if s.contains('\\') {
        return err(Problem::UnsafePath("contains `\\`"));
    }
    if s.contains('\0') {
        return err(Problem::UnsafePath("contains NUL"));
    }
    Ok(s.to_owned())
}

/// The string field `key` of `d`, preferring its `key.utf-8` variant when
/// present; the field name used in errors is the variant that was read.
pub(super) fn prefer_utf8<'a>(
    d: &Dict<'a>,
    base: &str,
    key: &str,
) -> Result<Option<(&'a [u8], String)>, TorrentError> {
    let alt = format!("{key}.utf-8");
    if let Some(b) = opt_bytes(d, base, &alt)? {
        return Ok(Some((b, join(base, &alt))));
    }
    Ok(opt_bytes(d, base, key)?.map(|b| (b, join(base, key))))
}

/// The torrent name (`name.utf-8` preferred over `name`), checked like a
/// path component.
pub(super) fn name(info: &Dict<'_>) -> Result<String, TorrentError> {
    let (b, field) = prefer_utf8(info, "info", "name")?.ok_or_else(|| missing("info.name"))?;
    component(b, &field)
}

/// A list of path components (`path`, `path.utf-8` or `symlink path`).
pub(super) fn component_list(list: &List<'_>, field: &str) -> Result<Vec<String>, TorrentError> {
    if list.is_empty() {
        return Err(TorrentError::new(field, Problem::Empty));
    }
    if list.len() > MAX_PATH_DEPTH {
        return Err(TorrentError::new(
            field,
            Problem::TooMany {
                what: "path components",
                max: MAX_PATH_DEPTH as u64,
            },
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let f = format!("{field}[{i}]");
            match v {
                Value::Bytes(b) => component(b, &f),
                other => Err(wrong(f, "byte string", other)),
            }
        })
        .collect()
}

/// `a/b/c`, for messages.
pub(super) fn display(path: &[String]) -> String {
    path.join("/")
}
