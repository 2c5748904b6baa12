use crate::*;
use proptest::prelude::*;

fn kind(input: &[u8]) -> DecodeErrorKind {
    decode(input).unwrap_err().kind
}

#[test]
fn decodes_basic_values() {
    assert_eq!(decode(b"i42e").unwrap(), Value::Int(42));
    assert_eq!(decode(b"i-7e").unwrap(), Value::Int(-7));
    assert_eq!(decode(b"i0e").unwrap(), Value::Int(0));
    assert_eq!(decode(b"4:spam").unwrap(), Value::Bytes(b"spam"));
    assert_eq!(decode(b"0:").unwrap(), Value::Bytes(b""));
    let v = decode(b"d3:bar4:spam3:fooi42ee").unwrap();
    let d = v.as_dict().unwrap();
    assert_eq!(d.get(b"foo"), Some(&Value::Int(42)));
    assert_eq!(d.get(b"bar").and_then(Value::as_str), Some("spam"));
    assert_eq!(d.get(b"baz"), None);
    assert_eq!(d.raw(), b"d3:bar4:spam3:fooi42ee");
}

#[test]
fn extreme_integers() {
    assert_eq!(
        decode(b"i9223372036854775807e").unwrap(),
        Value::Int(i64::MAX)
    );
    assert_eq!(
        decode(b"i-9223372036854775808e").unwrap(),
        Value::Int(i64::MIN)
    );
    assert_eq!(kind(b"i9223372036854775808e"), DecodeErrorKind::IntOverflow);
    assert_eq!(
        kind(b"i-9223372036854775809e"),
        DecodeErrorKind::IntOverflow
    );
}

#[test]
fn empty_key_is_valid() {
    let v = decode(b"d0:i1ee").unwrap();
    assert_eq!(v.as_dict().unwrap().get(b""), Some(&Value::Int(1)));
}

#[test]
fn keeps_raw_spans() {
    let input = b"d4:infod4:name1:xe3:zzzi1ee";
    let v = decode(input).unwrap();
    let info = v
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap();
    assert_eq!(info.raw(), b"d4:name1:xe");
}

#[test]
fn refuses_non_canonical() {
    assert_eq!(kind(b"i03e"), DecodeErrorKind::NonCanonicalInt);
    assert_eq!(kind(b"i-0e"), DecodeErrorKind::NonCanonicalInt);
    assert_eq!(kind(b"ie"), DecodeErrorKind::NonCanonicalInt);
    assert_eq!(kind(b"i-e"), DecodeErrorKind::NonCanonicalInt);
    assert_eq!(kind(b"i+1e"), DecodeErrorKind::NonCanonicalInt);
    assert_eq!(kind(b"i1 e"), DecodeErrorKind::NonCanonicalInt);
    assert_eq!(kind(b"04:spam"), DecodeErrorKind::BadLength);
    assert_eq!(kind(b"d3:fooi1e3:bari2ee"), DecodeErrorKind::UnsortedKeys);
    assert_eq!(kind(b"d3:fooi1e3:fooi2ee"), DecodeErrorKind::DuplicateKey);
    assert_eq!(kind(b"di1ei2ee"), DecodeErrorKind::KeyNotString);
    assert_eq!(kind(b"i1ei2e"), DecodeErrorKind::TrailingData);
    assert_eq!(kind(b"x"), DecodeErrorKind::UnexpectedByte(b'x'));
}

#[test]
fn refuses_truncated() {
    for input in [
        &b""[..],
        b"i12",
        b"l",
        b"d",
        b"d3:foo",
        b"5:abc",
        b"12",
        b"li1e",
    ] {
        let e = decode(input).unwrap_err();
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::UnexpectedEof | DecodeErrorKind::LengthPastEnd(_)
            ),
            "{input:?}: {e}"
        );
    }
}

#[test]
fn huge_length_does_not_allocate() {
    assert_eq!(
        kind(b"9999999999:x"),
        DecodeErrorKind::LengthPastEnd(9_999_999_999)
    );
    // 20 digits do not fit in 64 bits.
    assert_eq!(kind(b"99999999999999999999:x"), DecodeErrorKind::BadLength);
}

#[test]
fn limits_are_enforced() {
    let deep = "l".repeat(200) + &"e".repeat(200);
    assert_eq!(kind(deep.as_bytes()), DecodeErrorKind::TooDeep(128));
    let limits = Limits {
        max_values: 3,
        ..Limits::default()
    };
    assert_eq!(
        decode_with(b"li1ei2ei3ee", limits).unwrap_err().kind,
        DecodeErrorKind::TooManyValues(3)
    );
    let limits = Limits {
        max_input: 3,
        ..Limits::default()
    };
    assert_eq!(
        decode_with(b"4:spam", limits).unwrap_err().kind,
        DecodeErrorKind::InputTooLarge(6)
    );
}

#[test]
fn owned_encodes_sorted() {
    let mut d = Owned::dict();
    d.insert("zeta", Owned::Int(1));
    d.insert(
        "alpha",
        Owned::List(vec![Owned::bytes("x"), Owned::Int(-3)]),
    );
    d.insert("", Owned::dict());
    assert_eq!(d.encode(), b"d0:de5:alphal1:xi-3ee4:zetai1ee");
}

fn arb_owned() -> impl Strategy<Value = Owned> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Owned::Int),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Owned::Bytes),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Owned::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..6),
                inner,
                0..6
            )
            .prop_map(Owned::Dict),
        ]
    })
}

proptest! {
    #[test]
    fn round_trip(v in arb_owned()) {
        let bytes = v.encode();
        let decoded = decode(&bytes).unwrap();
        prop_assert_eq!(decoded.to_owned_value(), v);
        let mut again = Vec::new();
        decoded.encode_to(&mut again);
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(v) = decode(&input) {
            // Anything accepted is canonical: it re-encodes to the input.
            let mut again = Vec::new();
            v.encode_to(&mut again);
            prop_assert_eq!(again, input);
        }
    }
}
