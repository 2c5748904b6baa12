//! Typed access to dictionary fields, with errors that name the field.

use btl_bencode::{Dict, List, Value};

use super::error::{Problem, TorrentError};

/// `base.key`, or `key` at the top level.
pub(super) fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

/// A wrong-type error for `field`.
pub(super) fn wrong(
    field: impl Into<String>,
    expected: &'static str,
    v: &Value<'_>,
) -> TorrentError {
    TorrentError::new(
        field,
        Problem::WrongType {
            expected,
            found: v.type_name(),
        },
    )
}

/// A missing-field error.
pub(super) fn missing(field: impl Into<String>) -> TorrentError {
    TorrentError::new(field, Problem::Missing)
}

/// An optional integer field.
pub(super) fn opt_int(d: &Dict<'_>, base: &str, key: &str) -> Result<Option<i64>, TorrentError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        Some(v) => Err(wrong(join(base, key), "integer", v)),
    }
}

/// An optional byte-string field.
pub(super) fn opt_bytes<'a>(
    d: &Dict<'a>,
    base: &str,
    key: &str,
) -> Result<Option<&'a [u8]>, TorrentError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::Bytes(b)) => Ok(Some(b)),
        Some(v) => Err(wrong(join(base, key), "byte string", v)),
    }
}

/// An optional dictionary field.
pub(super) fn opt_dict<'d, 'a>(
    d: &'d Dict<'a>,
    base: &str,
    key: &str,
) -> Result<Option<&'d Dict<'a>>, TorrentError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::Dict(x)) => Ok(Some(x)),
        Some(v) => Err(wrong(join(base, key), "dictionary", v)),
    }
}

/// An optional list field.
pub(super) fn opt_list<'d, 'a>(
    d: &'d Dict<'a>,
    base: &str,
    key: &str,
) -> Result<Option<&'d List<'a>>, TorrentError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::List(x)) => Ok(Some(x)),
        Some(v) => Err(wrong(join(base, key), "list", v)),
    }
}

/// A non-negative integer as `u64`.
pub(super) fn non_negative(i: i64, field: &str) -> Result<u64, TorrentError> {
    u64::try_from(i).map_err(|_| TorrentError::new(field, Problem::Negative(i)))
}

/// Strict UTF-8.
pub(super) fn utf8(b: &[u8], field: &str) -> Result<String, TorrentError> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|_| TorrentError::new(field, Problem::NotUtf8))
}

/// A byte string item of a list, as strict UTF-8.
pub(super) fn str_item(v: &Value<'_>, field: &str) -> Result<String, TorrentError> {
    match v {
        Value::Bytes(b) => utf8(b, field),
        other => Err(wrong(field, "byte string", other)),
    }
}
