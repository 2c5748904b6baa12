//! `serde` deserialization straight from a parsed [`Value`], so typed
//! views (the manifest schema) need no second parse and no copy.

use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};

use crate::json::Value;

/// A [`Value`] as a `serde` deserializer. Integral numbers up to 2^53 in
/// magnitude are offered as integers, other numbers as floats.
#[derive(Clone, Copy)]
pub(crate) struct ValueDe<'a>(pub &'a Value);

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Number(n) => {
                const EXACT: f64 = 9_007_199_254_740_992.0;
                if n.fract() == 0.0 && n.abs() <= EXACT {
                    if *n >= 0.0 {
                        v.visit_u64(*n as u64)
                    } else {
                        v.visit_i64(*n as i64)
                    }
                } else {
                    v.visit_f64(*n)
                }
            }
            Value::String(s) => v.visit_borrowed_str(s),
            Value::Array(a) => {
                let mut seq = SeqDeserializer::new(a.iter().map(ValueDe));
                let out = v.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Value::Object(m) => {
                let mut map = MapDeserializer::new(m.iter().map(|(k, v)| (k.as_str(), ValueDe(v))));
                let out = v.visit_map(&mut map)?;
                map.end()?;
                Ok(out)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple tuple_struct
        map struct enum identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Error> for ValueDe<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}
