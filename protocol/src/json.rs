//! How a JSON body that did not parse is reported: one classification for
//! WebSocket frames and HTTP bodies alike.

use crate::bytes::BAD_BASE64;
use crate::error::ErrorCode;

/// The error code for `e`, an error of parsing JSON into a request type:
/// `malformed_json` if the text is not JSON at all (syntax, truncated),
/// `bad_base64` if a binary field is not valid base64, otherwise `invalid`
/// (a missing field, a wrong type, an unknown value): `invalid_frame` for
/// frames, `invalid_request` for HTTP bodies.
#[must_use]
pub fn error_code(e: &serde_json::Error, invalid: ErrorCode) -> ErrorCode {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => ErrorCode::MalformedJson,
        Category::Data if e.to_string().contains(BAD_BASE64) => ErrorCode::BadBase64,
        Category::Data | Category::Io => invalid,
    }
}

/// Parses JSON text into a [`serde_json::Value`], refusing an object that
/// names a key twice (a plain `Value` keeps the last, silently choosing one
/// reading of an ambiguous request). The error of a duplicate is a data
/// error (`invalid_*`), of text that is not JSON a syntax error.
pub fn parse_strict(text: &str) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_str::<Strict>(text).map(|Strict(value)| value)
}

/// A JSON value whose objects have no duplicate keys.
struct Strict(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                let shown: String = key.chars().take(40).collect();
                return Err(serde::de::Error::custom(format!("duplicate key `{shown}`")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::Base64;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        key: Base64,
        n: u32,
    }

    fn code(text: &str) -> ErrorCode {
        let e = serde_json::from_str::<Body>(text).unwrap_err();
        error_code(&e, ErrorCode::InvalidRequest)
    }

    #[test]
    fn each_kind_of_failure_has_its_code() {
        assert_eq!(code("{\"key\":"), ErrorCode::MalformedJson);
        assert_eq!(code("not json"), ErrorCode::MalformedJson);
        assert_eq!(code(r#"{"key":"!!","n":1}"#), ErrorCode::BadBase64);
        assert_eq!(code(r#"{"key":"AAEC"}"#), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"key":"AAEC","n":"one"}"#), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"key":"AAEC","n":1,"n":2}"#), ErrorCode::InvalidRequest);
    }

    #[test]
    fn strict_parsing_refuses_duplicate_keys_at_any_depth() {
        let value = parse_strict(r#"{"a":[1,-2,3.5,null,true,{"b":"c"}]}"#).unwrap();
        assert_eq!(value, serde_json::json!({"a":[1,-2,3.5,null,true,{"b":"c"}]}));
        for text in [r#"{"id":"p2","id":"p3"}"#, r#"{"a":[{"b":1,"b":1}]}"#] {
            let e = parse_strict(text).unwrap_err();
            assert_eq!(
                error_code(&e, ErrorCode::InvalidFrame),
                ErrorCode::InvalidFrame,
                "{text}"
            );
            assert!(e.to_string().contains("duplicate key"), "{e}");
        }
        let e = parse_strict(r#"{"a":"#).unwrap_err();
        assert_eq!(error_code(&e, ErrorCode::InvalidFrame), ErrorCode::MalformedJson);
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse_strict(&deep).is_err(), "the recursion limit holds");
    }
}
