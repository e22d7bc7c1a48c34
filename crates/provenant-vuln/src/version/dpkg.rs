//! Debian package versions, ordered like `dpkg --compare-versions`
//! (deb-version(7): `[epoch:]upstream_version[-debian_revision]`, compared
//! part by part with the `verrevcmp` algorithm where `~` sorts before
//! everything, even the end of the string).

use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub struct Dpkg {
    epoch: u64,
    upstream: String,
    revision: String,
}

impl Dpkg {
    pub fn parse(text: &str) -> Result<Dpkg, String> {
        let err = |why: &str| format!("{text:?} is not a Debian version: {why}");
        let s = text.trim();
        if s.is_empty() {
            return Err(err("empty"));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(err("epoch is not a number"));
                }
                (e.parse().map_err(|_| err("epoch too large"))?, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(err("empty upstream version"));
        }
        if rest.ends_with('-') {
            return Err(err("empty revision"));
        }
        if !upstream.as_bytes()[0].is_ascii_digit() {
            return Err(err("upstream version must start with a digit"));
        }
        let ok_up =
            |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'~' | b'-' | b':');
        let ok_rev = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'~');
        if !upstream.bytes().all(ok_up) || !revision.bytes().all(ok_rev) {
            return Err(err("invalid character"));
        }
        Ok(Dpkg {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn is_digit(c: Option<&u8>) -> bool {
    c.is_some_and(u8::is_ascii_digit)
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while is_digit(a.get(i)) && is_digit(b.get(j)) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if is_digit(a.get(i)) {
            return Ordering::Greater;
        }
        if is_digit(b.get(j)) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

impl Ord for Dpkg {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

impl PartialOrd for Dpkg {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Dpkg {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Dpkg {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Dpkg {
        Dpkg::parse(s).unwrap()
    }

    #[test]
    fn deb_version_ordering() {
        // From deb-version(7) and dpkg's own test suite semantics.
        let ordered = [
            "1.0~rc1~1",
            "1.0~rc1",
            "1.0",
            "1.0-0.1",
            "1.0-1",
            "1.0-1+b1",
            "1.0-1.1",
            "1.0a",
            "1.0+dfsg-1",
            "1.0.1",
            "1.2",
            "1.10",
            "1:0.1",
            "2:0.0.1",
        ];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("0:1.0-1"), v("1.0-1"));
        assert_eq!(v("1.01"), v("1.1"));
        assert_eq!(v("1.0-0"), v("1.0"));
    }

    #[test]
    fn rejects_invalid() {
        for bad in ["", "a1.0", "1.0-", ":1.0", "x:1.0", "1.0_1", "1.0-1/2"] {
            assert!(Dpkg::parse(bad).is_err(), "{bad:?}");
        }
    }
}
