//! Decoded (borrowed) and owned bencode values.

use std::collections::BTreeMap;

/// A decoded bencode value that borrows from its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// An integer (`i42e`).
    Int(i64),
    /// A byte string (`4:spam`).
    Bytes(&'a [u8]),
    /// A list (`l...e`).
    List(List<'a>),
    /// A dictionary (`d...e`).
    Dict(Dict<'a>),
}

/// A decoded list and the exact bytes it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<'a> {
    pub(crate) raw: &'a [u8],
    pub(crate) items: Vec<Value<'a>>,
}

/// A decoded dictionary and the exact bytes it was decoded from.
///
/// Entries are in strictly increasing key order (the decoder enforces it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dict<'a> {
    pub(crate) raw: &'a [u8],
    pub(crate) entries: Vec<(&'a [u8], Value<'a>)>,
}

impl<'a> Value<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, if this is a byte string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&List<'a>> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Bytes(_) => "byte string",
            Value::List(_) => "list",
            Value::Dict(_) => "dictionary",
        }
    }

    /// Converts to an owned value.
    pub fn to_owned_value(&self) -> Owned {
        match self {
            Value::Int(i) => Owned::Int(*i),
            Value::Bytes(b) => Owned::Bytes(b.to_vec()),
            Value::List(l) => Owned::List(l.items.iter().map(Value::to_owned_value).collect()),
            Value::Dict(d) => Owned::Dict(
                d.entries
                    .iter()
                    .map(|(k, v)| (k.to_vec(), v.to_owned_value()))
                    .collect(),
            ),
        }
    }

    /// Appends the canonical encoding of this value to `out`.
    ///
    /// For a decoded value this reproduces the input bytes exactly.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => crate::encode_int(out, *i),
            Value::Bytes(b) => crate::encode_bytes(out, b),
            Value::List(l) => out.extend_from_slice(l.raw),
            Value::Dict(d) => out.extend_from_slice(d.raw),
        }
    }
}

impl<'a> List<'a> {
    /// The exact input bytes of this list, from `l` to `e` inclusive.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The items.
    pub fn items(&self) -> &[Value<'a>] {
        &self.items
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Iterates over the items.
    pub fn iter(&self) -> std::slice::Iter<'_, Value<'a>> {
        self.items.iter()
    }
}

impl<'a> Dict<'a> {
    /// The exact input bytes of this dictionary, from `d` to `e` inclusive.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The entries, in strictly increasing key order.
    pub fn entries(&self) -> &[(&'a [u8], Value<'a>)] {
        &self.entries
    }

    /// Looks a key up (binary search: keys are sorted).
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.entries
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the dictionary is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Iterates over `(key, value)` pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &Value<'a>)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }
}

/// An owned bencode value, for building documents.
///
/// Dictionaries are `BTreeMap`s keyed by raw bytes, so they always encode in
/// canonical (byte-sorted) key order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owned {
    /// An integer.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Owned>),
    /// A dictionary.
    Dict(BTreeMap<Vec<u8>, Owned>),
}

impl Owned {
    /// Canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Owned::Int(i) => crate::encode_int(out, *i),
            Owned::Bytes(b) => crate::encode_bytes(out, b),
            Owned::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode_to(out);
                }
                out.push(b'e');
            }
            Owned::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    crate::encode_bytes(out, k);
                    v.encode_to(out);
                }
                out.push(b'e');
            }
        }
    }

    /// A byte-string value from anything byte-like.
    pub fn bytes(b: impl AsRef<[u8]>) -> Self {
        Owned::Bytes(b.as_ref().to_vec())
    }

    /// An empty dictionary.
    pub fn dict() -> Self {
        Owned::Dict(BTreeMap::new())
    }

    /// Inserts into a dictionary value; does nothing on other types.
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: Owned) {
        if let Owned::Dict(d) = self {
            d.insert(key.as_ref().to_vec(), value);
        }
    }
}
