//! The policy input document (version 1) and its JSON Schema.

use std::sync::OnceLock;

use serde_json::Value;

use crate::InputError;

/// The JSON Schema (draft 2020-12) of the policy input document, version 1.
pub const INPUT_SCHEMA: &str = include_str!("policy-input.v1.schema.json");

/// The value of the input's `schema` member.
pub const INPUT_SCHEMA_ID: &str = "https://provenant.dev/policy-input/v1";

fn validator() -> Result<&'static jsonschema::Validator, InputError> {
    static V: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(INPUT_SCHEMA).map_err(|e| e.to_string())?;
        jsonschema::draft202012::new(&schema).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| InputError {
        pointer: String::new(),
        // A constant of this crate; a unit test checks that it compiles.
        message: format!("the input schema does not compile: {e}"),
    })
}

/// Checks `input` against [`INPUT_SCHEMA`].
///
/// # Errors
/// The first fault, with its JSON pointer (`/artifact/digest`).
pub fn validate_input(input: &Value) -> Result<(), InputError> {
    let validator = validator()?;
    match validator.iter_errors(input).next() {
        None => Ok(()),
        Some(e) => Err(InputError {
            pointer: e.instance_path().to_string(),
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_compiles_and_names_itself() {
        assert!(validator().is_ok());
        let schema: Value = serde_json::from_str(INPUT_SCHEMA).unwrap();
        assert_eq!(schema["$id"], INPUT_SCHEMA_ID);
        assert_eq!(schema["properties"]["schema"]["const"], INPUT_SCHEMA_ID);
    }
}
