//! Base64, hex and PEM helpers.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Encodes with the standard alphabet and padding (what model_signing writes).
pub(crate) fn b64encode(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Decodes standard or URL-safe base64, padded or not (DSSE allows both).
pub(crate) fn b64decode(s: &str) -> Result<Vec<u8>, String> {
    let engine = if s.contains(['-', '_']) {
        &URL_SAFE_LENIENT
    } else {
        &STANDARD_LENIENT
    };
    engine.decode(s).map_err(|e| format!("invalid base64: {e}"))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// One PEM block: its label and DER contents.
pub(crate) struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
}

/// Splits a file into its PEM blocks (text outside blocks is ignored, as
/// OpenSSL does).
pub(crate) fn pem_blocks(text: &[u8]) -> Result<Vec<PemBlock>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "not a PEM file (not UTF-8)".to_owned())?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            return Err("unterminated PEM header".into());
        };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            return Err(format!("missing `{end_marker}`"));
        };
        let block = &rest[start..start + end + end_marker.len()];
        let (label, der) = pem_rfc7468::decode_vec(block.as_bytes())
            .map_err(|e| format!("invalid PEM block `{label}`: {e}"))?;
        out.push(PemBlock {
            label: label.to_owned(),
            der,
        });
        rest = &rest[start + end + end_marker.len()..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_variants() {
        let data = [0xfbu8, 0xff, 0xfe, 0x00];
        for s in ["+//+AA==", "+//+AA", "-__-AA==", "-__-AA"] {
            assert_eq!(b64decode(s).unwrap(), data, "{s}");
        }
        assert!(b64decode("not base64!").is_err());
        assert_eq!(b64encode(&data), "+//+AA==");
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(unhex(&hex(&[0, 1, 254])).unwrap(), [0, 1, 254]);
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
    }
}
