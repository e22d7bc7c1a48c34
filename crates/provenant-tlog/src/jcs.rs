//! RFC 8785 JSON Canonicalization Scheme (<https://www.rfc-editor.org/rfc/rfc8785>)
//! for log entries: object members sorted by UTF-16 code units, ECMAScript
//! number formatting, minimal string escaping, no white space.
//!
//! Written here rather than taken from a crate: the format is small, it must
//! be exact (entry hashes depend on every byte), and it is tested against the
//! RFC's own examples.

use std::fmt::Write as _;

use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::Error;

/// Serializes `value` to canonical JSON.
pub fn to_canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let value = serde_json::to_value(value).map_err(|e| Error::Json {
        path: "$".into(),
        reason: e.to_string(),
    })?;
    canonicalize(&value)
}

/// Canonical JSON of a [`Value`].
pub fn canonicalize(value: &Value) -> Result<String, Error> {
    let mut out = String::new();
    let mut path = String::from("$");
    write_value(&mut out, value, &mut path)?;
    Ok(out)
}

/// Parses JSON text (rejecting duplicate object member names, as I-JSON
/// requires) and returns its canonical form.
pub fn canonicalize_str(json: &str) -> Result<String, Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = StrictValue::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| Error::Json {
            path: format!("line {} column {}", e.line(), e.column()),
            reason: e.to_string(),
        })?;
    canonicalize(&value.0)
}

fn write_value(out: &mut String, value: &Value, path: &mut String) -> Result<(), Error> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n, path)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let len = path.len();
                let _ = write!(path, "[{i}]");
                write_value(out, item, path)?;
                path.truncate(len);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                let len = path.len();
                let _ = write!(path, ".{k}");
                write_value(out, v, path)?;
                path.truncate(len);
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, n: &Number, path: &str) -> Result<(), Error> {
    let not_exact = || Error::Json {
        path: path.to_owned(),
        reason: format!("number {n} is not exactly representable as an IEEE 754 double"),
    };
    let f = if let Some(u) = n.as_u64() {
        let f = u as f64;
        // Integers above 2^53 must survive the round trip through f64 exactly.
        if f >= 18_446_744_073_709_551_616.0 || f as u64 != u {
            return Err(not_exact());
        }
        f
    } else if let Some(i) = n.as_i64() {
        let f = i as f64;
        if f < -9_223_372_036_854_775_808.0 || f as i64 != i {
            return Err(not_exact());
        }
        f
    } else {
        n.as_f64().ok_or_else(not_exact)?
    };
    if !f.is_finite() {
        return Err(Error::Json {
            path: path.to_owned(),
            reason: "NaN and infinities have no JSON form".into(),
        });
    }
    write_es_number(out, f);
    Ok(())
}

/// ECMAScript `Number.prototype.toString` for finite doubles
/// (ECMA-262 Number::toString, as RFC 8785 §3.2.2.3 requires).
fn write_es_number(out: &mut String, f: f64) {
    if f == 0.0 {
        out.push('0'); // also for -0
        return;
    }
    if f < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` prints the shortest digit string that round-trips, in the
    // form d[.ddd]e<exp>. ECMAScript wants, among the shortest strings that
    // round-trip, the one closest to the value (ties to even): the correctly
    // rounded string of that length, which `{:.N$e}` gives (half to even),
    // whenever it round-trips.
    let shortest = format!("{:e}", f.abs());
    let k = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.chars().filter(char::is_ascii_digit).count());
    let nearest = format!("{:.*e}", k.saturating_sub(1), f.abs());
    let sci = if nearest.parse::<f64>() == Ok(f.abs()) {
        nearest
    } else {
        shortest
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exp + 1; // position of the decimal point relative to the digits
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        let _ = write!(out, "{}", (n - 1).abs());
    }
}

/// A JSON value parsed with duplicate member names rejected.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Number(u.into()))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Number(i.into()))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(v) = map.next_value()?;
            if out.insert(key.clone(), v).is_some() {
                return Err(de::Error::custom(format!("duplicate member name {key:?}")));
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(f: f64) -> String {
        let mut s = String::new();
        write_es_number(&mut s, f);
        s
    }

    #[test]
    fn rfc8785_number_examples() {
        // RFC 8785 Appendix B (IEEE 754 bit pattern → expected text).
        for (bits, want) in [
            (0x0000000000000000u64, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ] {
            assert_eq!(es(f64::from_bits(bits)), want, "bits {bits:016x}");
        }
    }

    #[test]
    fn rfc8785_sorting_example() {
        // RFC 8785 §3.2.3: keys sorted by UTF-16 code units.
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        assert_eq!(
            canonicalize_str(input).unwrap(),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    #[test]
    fn rfc8785_main_example() {
        // RFC 8785 §3.2.2.
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50,
                      2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        assert_eq!(
            canonicalize_str(input).unwrap(),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    #[test]
    fn rejects_what_has_no_canonical_form() {
        assert!(
            canonicalize_str(r#"{"a":1,"a":2}"#)
                .unwrap_err()
                .to_string()
                .contains("duplicate")
        );
        let err = canonicalize(&serde_json::json!({"big": [1, u64::MAX - 1]})).unwrap_err();
        assert!(err.to_string().contains("$.big[1]"), "{err}");
        assert_eq!(
            canonicalize(&serde_json::json!(9007199254740992u64)).unwrap(),
            "9007199254740992"
        );
        assert!(canonicalize_str("[1] x").is_err());
    }
}
