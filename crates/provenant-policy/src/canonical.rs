//! Digests over canonical JSON (RFC 8785: sorted keys, no insignificant
//! white space, ECMAScript numbers).

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::PolicyError;

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The canonical JSON text of `value`; `what` names it in the error.
pub(crate) fn canonical_json(value: &Value, what: &'static str) -> Result<String, PolicyError> {
    provenant_tlog::canonicalize(value).map_err(|e| PolicyError::Canonical {
        what,
        reason: e.to_string(),
    })
}

/// The input digest of a decision: `sha256:` hex of the SHA-256 of the
/// input's canonical JSON.
///
/// # Errors
/// [`PolicyError::Canonical`] when a number is not exactly representable as
/// an IEEE 754 double (such an input has no canonical form).
pub fn input_digest(input: &Value) -> Result<String, PolicyError> {
    Ok(sha256_digest(canonical_json(input, "input")?.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_digest_ignores_key_order_and_white_space() {
        let a: Value = serde_json::from_str(r#"{ "b": 1, "a": [true, null] }"#).unwrap();
        let b = json!({"a": [true, null], "b": 1});
        assert_eq!(input_digest(&a).unwrap(), input_digest(&b).unwrap());
        assert_eq!(
            input_digest(&b).unwrap(),
            sha256_digest(br#"{"a":[true,null],"b":1}"#)
        );
        assert_ne!(
            input_digest(&b).unwrap(),
            input_digest(&json!({"a": [true], "b": 1})).unwrap()
        );
    }
}
