//! Small shared helpers.

use sha2::{Digest, Sha256};

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// SHA-256 of bytes, lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// 1-based line number of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Decode base64 (standard or URL-safe alphabet, padding optional).
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::DecodePaddingMode;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    let cfg = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let s = s.trim();
    if s.contains(['-', '_']) {
        GeneralPurpose::new(&base64::alphabet::URL_SAFE, cfg)
            .decode(s)
            .ok()
    } else {
        GeneralPurpose::new(&base64::alphabet::STANDARD, cfg)
            .decode(s)
            .ok()
    }
}

/// Normalise a Python distribution name (PEP 503): lowercase, runs of `-_.` → `-`.
pub(crate) fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for ch in name.trim().chars() {
        if matches!(ch, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(ch.to_ascii_lowercase());
        }
    }
    out
}

/// Format seconds since the Unix epoch as RFC 3339 UTC (`2024-01-02T03:04:05Z`).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm), for days >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

/// Split `Name <email>` into its parts.
pub(crate) fn split_contact(s: &str) -> (String, Option<String>) {
    let s = s.trim();
    if let (Some(lt), Some(gt)) = (s.rfind('<'), s.rfind('>'))
        && lt < gt
    {
        let name = s[..lt].trim().trim_matches('"').trim().to_string();
        let email = s[lt + 1..gt].trim().to_string();
        let name = if name.is_empty() { email.clone() } else { name };
        return (name, (!email.is_empty()).then_some(email));
    }
    if s.contains('@') && !s.contains(' ') {
        return (s.to_string(), Some(s.to_string()));
    }
    (s.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_normalises() {
        assert_eq!(pep503("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(pep503("PyYAML"), "pyyaml");
    }

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn base64_both_alphabets() {
        assert_eq!(b64_decode("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(b64_decode("+/8=").as_deref(), Some(&[0xfb, 0xff][..]));
    }

    #[test]
    fn contacts() {
        assert_eq!(
            split_contact("Jane Doe <jane@example.org>"),
            ("Jane Doe".into(), Some("jane@example.org".into()))
        );
        assert_eq!(split_contact("PSF"), ("PSF".into(), None));
    }
}
