//! Alpine (apk-tools) package versions:
//! `N(.N)*[letter](_suffix[N])*[-rN]`, ordered like `apk version -t`:
//! numeric components as integers (later components with a leading zero as
//! decimal fractions: `1.05 < 1.5`), then the letter, then suffixes
//! (`_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`),
//! then the `-r` package revision. Any extra component (`1.2.1 > 1.2a`)
//! outranks a letter, which outranks a post-release suffix.

use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub struct Apk {
    /// Numeric components as written (digits only).
    parts: Vec<String>,
    letter: Option<u8>,
    suffixes: Vec<(Suffix, u128)>,
    revision: u128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Suffix {
    Alpha,
    Beta,
    Pre,
    Rc,
    Cvs,
    Svn,
    Git,
    Hg,
    P,
}

impl Suffix {
    fn is_pre(self) -> bool {
        self <= Suffix::Rc
    }
}

impl Apk {
    pub fn parse(text: &str) -> Result<Apk, String> {
        let err = |why: &str| format!("{text:?} is not an Alpine version: {why}");
        let s = text.trim();
        let (s, revision) = match s.rsplit_once("-r") {
            Some((v, r)) => {
                if r.is_empty() || !r.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(err("invalid -r revision"));
                }
                (v, r.parse().map_err(|_| err("revision too large"))?)
            }
            None => (s, 0),
        };
        let b = s.as_bytes();
        let mut i = 0;
        let mut parts = Vec::new();
        loop {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(err("expected a number"));
            }
            parts.push(s[start..i].to_string());
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
            } else {
                break;
            }
        }
        let mut letter = None;
        if i < b.len() && b[i].is_ascii_lowercase() {
            letter = Some(b[i]);
            i += 1;
        }
        let mut suffixes = Vec::new();
        while i < b.len() && b[i] == b'_' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_lowercase() {
                i += 1;
            }
            let kind = match &s[start..i] {
                "alpha" => Suffix::Alpha,
                "beta" => Suffix::Beta,
                "pre" => Suffix::Pre,
                "rc" => Suffix::Rc,
                "cvs" => Suffix::Cvs,
                "svn" => Suffix::Svn,
                "git" => Suffix::Git,
                "hg" => Suffix::Hg,
                "p" => Suffix::P,
                _ => return Err(err("unknown suffix")),
            };
            let nstart = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let n = if i == nstart {
                0
            } else {
                s[nstart..i].parse().map_err(|_| err("number too large"))?
            };
            suffixes.push((kind, n));
        }
        if i != b.len() {
            return Err(err("unexpected trailing characters"));
        }
        Ok(Apk {
            parts,
            letter,
            suffixes,
            revision,
        })
    }
}

fn cmp_numeric(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_part(index: usize, a: &str, b: &str) -> Ordering {
    if index > 0 && (a.starts_with('0') || b.starts_with('0')) {
        // Fractional comparison: trailing zeros carry no weight.
        a.trim_end_matches('0').cmp(b.trim_end_matches('0'))
    } else {
        cmp_numeric(a, b)
    }
}

impl Ord for Apk {
    fn cmp(&self, other: &Self) -> Ordering {
        for (i, (a, b)) in self.parts.iter().zip(&other.parts).enumerate() {
            let o = cmp_part(i, a, b);
            if o != Ordering::Equal {
                return o;
            }
        }
        let o = self.parts.len().cmp(&other.parts.len());
        if o != Ordering::Equal {
            return o;
        }
        let o = self.letter.cmp(&other.letter);
        if o != Ordering::Equal {
            return o;
        }
        for (a, b) in self.suffixes.iter().zip(&other.suffixes) {
            let o = a.cmp(b);
            if o != Ordering::Equal {
                return o;
            }
        }
        let n = self.suffixes.len().min(other.suffixes.len());
        match (self.suffixes.get(n), other.suffixes.get(n)) {
            (Some((s, _)), None) => {
                return if s.is_pre() {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            (None, Some((s, _))) => {
                return if s.is_pre() {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            _ => {}
        }
        self.revision.cmp(&other.revision)
    }
}

impl PartialOrd for Apk {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Apk {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Apk {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Apk {
        Apk::parse(s).unwrap()
    }

    #[test]
    fn apk_ordering() {
        let ordered = [
            "1.0_alpha1",
            "1.0_alpha2",
            "1.0_beta",
            "1.0_pre1",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0-r2",
            "1.0_cvs",
            "1.0_p1",
            "1.0_p1-r1",
            "1.0a",
            "1.0b",
            "1.0.1",
            "1.05",
            "1.2.3",
            "1.10",
            "2.0",
        ];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("1.0-r0"), v("1.0"));
        assert!(v("1.050") < v("1.5"));
        assert!(v("1.001") < v("1.01"));
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "", "a", "1.0_foo", "1.0-rx", "1.0-r", "1..0", "1.0AB", "1.0 1",
        ] {
            assert!(Apk::parse(bad).is_err(), "{bad:?}");
        }
    }
}
