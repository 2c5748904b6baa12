//! RFC 8785 (JCS) conformance: the RFC's own examples (sections 3.2.2,
//! 3.2.3 and Appendix B), the sample files published with the RFC
//! (`testdata/input` → `testdata/output`), and properties.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use btl_manifest::jcs::{self, canonicalize_text, format_number};
use btl_manifest::json::{parse, Limits, Value};
use proptest::prelude::*;

fn canon(s: &str) -> String {
    String::from_utf8(canonicalize_text(s.as_bytes(), Limits::default()).unwrap()).unwrap()
}

#[test]
fn appendix_b_numbers() {
    // IEEE-754 bit pattern → canonical text.
    let table = [
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"),
        ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ];
    for (bits, want) in table {
        let v = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        assert_eq!(format_number(v).as_deref(), Some(want), "{bits}");
        // And through the parser: the canonical text reads back as the
        // same double and canonicalizes to itself.
        assert_eq!(canon(want), want);
    }
    // NaN and infinities have no form.
    for bits in ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"] {
        let v = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        assert_eq!(format_number(v), None, "{bits}");
        assert!(jcs::canonicalize(&Value::Number(v)).is_err());
    }
}

#[test]
fn section_3_2_2_example() {
    let input = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
    let want = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(canon(input), want);
}

#[test]
fn section_3_2_3_sorting() {
    let input = r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"#;
    let v = parse(input.as_bytes(), Limits::default()).unwrap();
    let Value::Object(_) = &v else { panic!() };
    let got = canon(input);
    let order: Vec<&str> = [
        "\\r",
        "1",
        "\u{80}",
        "\u{f6}",
        "\u{20ac}",
        "\u{1f600}",
        "\u{fb33}",
    ]
    .to_vec();
    let mut at = 0;
    for k in order {
        let needle = format!("\"{k}\":");
        let pos = got[at..]
            .find(&needle)
            .unwrap_or_else(|| panic!("{k} out of order in {got}"));
        at += pos + needle.len();
    }
}

/// The sample files published with the RFC (cyberphone/json-canonicalization
/// `testdata/`), as input → expected output.
#[test]
fn published_samples() {
    let samples: &[(&str, &str)] = &[
        (
            // arrays.json
            "[\n  56,\n  {\n    \"d\": true,\n    \"10\": null,\n    \"1\": [ ]\n  }\n]",
            "[56,{\"1\":[],\"10\":null,\"d\":true}]",
        ),
        (
            // french.json
            "{\n  \"peach\": \"This sorting order\",\n  \"péché\": \"is wrong according to French\",\n  \"pêche\": \"but canonicalization MUST\",\n  \"sin\":   \"ingnore locale\"\n}\n",
            "{\"peach\":\"This sorting order\",\"péché\":\"is wrong according to French\",\"pêche\":\"but canonicalization MUST\",\"sin\":\"ingnore locale\"}",
        ),
        (
            // structures.json
            "{\n  \"1\": {\"f\": {\"f\": \"hi\",\"F\": 5} ,\"\\n\": 56.0},\n  \"10\": { },\n  \"\": \"empty\",\n  \"a\": { },\n  \"111\": [ { } ],\n  \"A\": { }\n}",
            "{\"\":\"empty\",\"1\":{\"\\n\":56,\"f\":{\"F\":5,\"f\":\"hi\"}},\"10\":{},\"111\":[{}],\"A\":{},\"a\":{}}",
        ),
        (
            // unicode.json: no normalization.
            "{\n  \"Unnormalized Unicode\":\"\\u1e0d\\u0307\"\n}\n",
            "{\"Unnormalized Unicode\":\"\u{1e0d}\u{307}\"}",
        ),
        (
            // values.json
            "{\n  \"numbers\": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],\n  \"escaping\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n  \"literals\": [null, true, false]\n}",
            "{\"escaping\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\",\"literals\":[null,true,false],\"numbers\":[1e+30,4.5,333333333.3333333,0.002,1e-27]}",
        ),
        (
            // weird.json
            "{\n  \"\\u20ac\": \"Euro Sign\",\n  \"1\": \"One\",\n  \"\\u0080\": \"Control\\u007f\",\n  \"\\ud83d\\ude02\": \"Smiley\",\n  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\",\n  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n  \"</script>\": \"Browser Challenge\"\n}\n",
            "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\u{80}\":\"Control\u{7f}\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😂\":\"Smiley\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}",
        ),
    ];
    for (input, want) in samples {
        assert_eq!(canon(input), *want, "input: {input}");
    }
}

#[test]
fn input_domain_is_i_json() {
    for bad in [
        r#"{"a":1,"a":2}"#,
        r#""\udead""#,
        "1e999",
        "[1,2",
        "{\"a\" 1}",
    ] {
        assert!(
            canonicalize_text(bad.as_bytes(), Limits::default()).is_err(),
            "{bad}"
        );
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Value::Number(if f == 0.0 { 0.0 } else { f })),
        any::<i32>().prop_map(|i| Value::Number(f64::from(i))),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(".*", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Every number's canonical text reads back as the same double.
    #[test]
    fn numbers_round_trip(bits in any::<u64>()) {
        let v = f64::from_bits(bits);
        if let Some(s) = format_number(v) {
            let back: f64 = s.parse().unwrap();
            prop_assert!(back == v || (back == 0.0 && v == 0.0), "{s} != {v:e}");
        } else {
            prop_assert!(!v.is_finite());
        }
    }

    /// The canonical form parses back to the same value, and is a fixed
    /// point of canonicalization.
    #[test]
    fn canonical_form_is_stable(v in arb_value()) {
        let c = jcs::canonicalize(&v).unwrap();
        let back = parse(&c, Limits { max_bytes: 1 << 24, max_depth: 64, max_values: 1 << 20 }).unwrap();
        prop_assert_eq!(jcs::canonicalize(&back).unwrap(), c.clone());
        // Reordering members does not change it.
        let reversed = reverse_members(&v);
        prop_assert_eq!(jcs::canonicalize(&reversed).unwrap(), c);
    }

    /// The parser never panics on arbitrary bytes.
    #[test]
    fn parser_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse(&bytes, Limits::default());
    }
}

fn reverse_members(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reverse_members(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(reverse_members).collect()),
        other => other.clone(),
    }
}
