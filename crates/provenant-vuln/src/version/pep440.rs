//! PEP 440 versions (<https://peps.python.org/pep-0440/>): parsing with the
//! spec's normalisation rules and the total order of its "summary of
//! permitted suffixes and relative ordering".

use std::cmp::Ordering;
use std::fmt;

/// A parsed PEP 440 version. Equality and order follow the spec:
/// `1.0 == 1.0.0`, `1.0.dev1 < 1.0a1 < 1.0 < 1.0+local < 1.0.post1`.
#[derive(Debug, Clone)]
pub struct Pep440 {
    epoch: u128,
    release: Vec<u128>,
    pre: Option<(PreKind, u128)>,
    post: Option<u128>,
    dev: Option<u128>,
    local: Vec<LocalSegment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PreKind {
    Alpha,
    Beta,
    Rc,
}

/// A local version label segment: strings sort before numbers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalSegment {
    Str(String),
    Num(u128),
}

/// A key extended with the infinities the spec's ordering needs.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Bound<T> {
    NegInf,
    Val(T),
    PosInf,
}

impl Pep440 {
    /// Parses a version with PEP 440's normalisation (case, `v` prefix,
    /// alternate spellings and separators, implicit numbers).
    pub fn parse(text: &str) -> Result<Pep440, String> {
        let lower = text.trim().to_ascii_lowercase();
        let b = lower.as_bytes();
        let err = || format!("{text:?} is not a PEP 440 version");
        let mut i = usize::from(b.first() == Some(&b'v'));
        let (first, mut j) = number(b, i).ok_or_else(err)?;
        let mut epoch = 0;
        let mut release = Vec::new();
        if b.get(j) == Some(&b'!') {
            epoch = first;
            let (n, k) = number(b, j + 1).ok_or_else(err)?;
            release.push(n);
            j = k;
        } else {
            release.push(first);
        }
        i = j;
        while b.get(i) == Some(&b'.') {
            match number(b, i + 1) {
                Some((n, k)) => {
                    release.push(n);
                    i = k;
                }
                None => break,
            }
        }
        // Pre-release: [-_.]?(a|alpha|b|beta|c|rc|pre|preview)[-_.]?N?
        let mut pre = None;
        if let Some((word, k)) = labelled(b, i) {
            let kind = match word {
                "a" | "alpha" => Some(PreKind::Alpha),
                "b" | "beta" => Some(PreKind::Beta),
                "c" | "rc" | "pre" | "preview" => Some(PreKind::Rc),
                _ => None,
            };
            if let Some(kind) = kind {
                let (n, k) = optional_number(b, k);
                pre = Some((kind, n));
                i = k;
            }
        }
        // Post-release: -N | [-_.]?(post|rev|r)[-_.]?N?
        let mut post = None;
        if b.get(i) == Some(&b'-')
            && let Some((n, k)) = number(b, i + 1)
        {
            post = Some(n);
            i = k;
        } else if let Some((word, k)) = labelled(b, i)
            && matches!(word, "post" | "rev" | "r")
        {
            let (n, k) = optional_number(b, k);
            post = Some(n);
            i = k;
        }
        // Development release: [-_.]?dev[-_.]?N?
        let mut dev = None;
        if let Some((word, k)) = labelled(b, i)
            && word == "dev"
        {
            let (n, k) = optional_number(b, k);
            dev = Some(n);
            i = k;
        }
        // Local version label: +seg([-_.]seg)*
        let mut local = Vec::new();
        if b.get(i) == Some(&b'+') {
            i += 1;
            loop {
                let start = i;
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let seg = lower.get(start..i).ok_or_else(err)?;
                if seg.is_empty() {
                    return Err(err());
                }
                local.push(if seg.bytes().all(|c| c.is_ascii_digit()) {
                    LocalSegment::Num(seg.parse().map_err(|_| err())?)
                } else {
                    LocalSegment::Str(seg.to_string())
                });
                if i < b.len() && is_sep(b[i]) {
                    i += 1;
                } else {
                    break;
                }
            }
        }
        if i != b.len() {
            return Err(err());
        }
        Ok(Pep440 {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// True for pre-releases and development releases.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    fn release_trimmed(&self) -> &[u128] {
        let mut end = self.release.len();
        while end > 1 && self.release[end - 1] == 0 {
            end -= 1;
        }
        &self.release[..end]
    }

    fn pre_key(&self) -> Bound<(PreKind, u128)> {
        match (self.pre, self.post, self.dev) {
            // 1.0.dev0 sorts before 1.0a0.
            (None, None, Some(_)) => Bound::NegInf,
            (None, _, _) => Bound::PosInf,
            (Some(p), _, _) => Bound::Val(p),
        }
    }

    fn post_key(&self) -> Bound<u128> {
        self.post.map_or(Bound::NegInf, Bound::Val)
    }

    fn dev_key(&self) -> Bound<u128> {
        self.dev.map_or(Bound::PosInf, Bound::Val)
    }

    fn local_key(&self) -> Bound<&[LocalSegment]> {
        if self.local.is_empty() {
            Bound::NegInf
        } else {
            Bound::Val(&self.local)
        }
    }
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.release_trimmed().cmp(other.release_trimmed()))
            .then_with(|| self.pre_key().cmp(&other.pre_key()))
            .then_with(|| self.post_key().cmp(&other.post_key()))
            .then_with(|| self.dev_key().cmp(&other.dev_key()))
            .then_with(|| self.local_key().cmp(&other.local_key()))
    }
}

impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Pep440 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pep440 {}

impl fmt::Display for Pep440 {
    /// The normalised form (`1!2.0rc1.post0.dev3+ubuntu.1`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        for (i, n) in self.release.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n}")?;
        }
        if let Some((kind, n)) = self.pre {
            let l = match kind {
                PreKind::Alpha => "a",
                PreKind::Beta => "b",
                PreKind::Rc => "rc",
            };
            write!(f, "{l}{n}")?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        for (i, seg) in self.local.iter().enumerate() {
            f.write_str(if i == 0 { "+" } else { "." })?;
            match seg {
                LocalSegment::Str(s) => f.write_str(s)?,
                LocalSegment::Num(n) => write!(f, "{n}")?,
            }
        }
        Ok(())
    }
}

fn is_sep(c: u8) -> bool {
    matches!(c, b'-' | b'_' | b'.')
}

/// Digits at `i` (at least one), as a number.
fn number(b: &[u8], i: usize) -> Option<(u128, usize)> {
    let mut j = i;
    let mut n: u128 = 0;
    while j < b.len() && b[j].is_ascii_digit() {
        n = n.checked_mul(10)?.checked_add(u128::from(b[j] - b'0'))?;
        j += 1;
    }
    (j > i).then_some((n, j))
}

/// `[-_.]?` followed by a run of letters: the letters and the index after them.
fn labelled(b: &[u8], i: usize) -> Option<(&str, usize)> {
    let mut k = i;
    if k < b.len() && is_sep(b[k]) {
        k += 1;
    }
    let start = k;
    while k < b.len() && b[k].is_ascii_lowercase() {
        k += 1;
    }
    if k == start {
        return None;
    }
    std::str::from_utf8(&b[start..k]).ok().map(|w| (w, k))
}

/// `[-_.]?N?` after a label; a missing number is 0 and then the separator is
/// not consumed.
fn optional_number(b: &[u8], i: usize) -> (u128, usize) {
    let k = if i < b.len() && is_sep(b[i]) {
        i + 1
    } else {
        i
    };
    match number(b, k) {
        Some((n, end)) => (n, end),
        None => (0, i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Pep440 {
        Pep440::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn spec_ordering_example_is_strictly_increasing() {
        // The ordering example from PEP 440 ("Summary of permitted suffixes
        // and relative ordering"), plus epochs and local labels.
        let ordered = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
            "1!0.1",
        ];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn normalisation_and_equality() {
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("0!1.0"), v("1.0"));
        assert_eq!(v("v1.0RC1"), v("1.0rc1"));
        assert_eq!(v("1.0c1"), v("1.0rc1"));
        assert_eq!(v("1.0-preview-2"), v("1.0rc2"));
        assert_eq!(v("1.0alpha"), v("1.0a0"));
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        assert_eq!(v("1.0-r4"), v("1.0.post4"));
        assert_eq!(v("1.0.rev"), v("1.0.post0"));
        assert_eq!(v("1.0-dev"), v("1.0.dev0"));
        assert_eq!(v("1.0+Ubuntu-1"), v("1.0+ubuntu.1"));
        assert_eq!(v(" 1.0 "), v("1.0"));
        assert_ne!(v("1.0+1"), v("1.0"));
        assert_eq!(
            v("1!2.0RC1-post0.dev3+Ubuntu_1").to_string(),
            "1!2.0rc1.post0.dev3+ubuntu.1"
        );
    }

    #[test]
    fn rejects_non_pep440() {
        for bad in [
            "",
            "v",
            "1.0.",
            "1.0ab",
            "1.0+",
            "1.0+a..b",
            "latest",
            "1.0-beta-x",
            "1..0",
            "*",
        ] {
            assert!(Pep440::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn local_segments_numbers_after_strings() {
        assert!(v("1.0+abc") < v("1.0+1"));
        assert!(v("1.0+1") < v("1.0+1.0"));
        assert!(v("1.0+2") < v("1.0+10"));
    }
}
