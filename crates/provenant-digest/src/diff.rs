use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::manifest::{Resource, to_hex};
use crate::path::cmp_paths;

/// One difference between a signed manifest and the model on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceMismatch {
    /// Content differs (or was hashed with another algorithm).
    Changed {
        name: String,
        expected: String,
        actual: String,
    },
    /// Signed, but not present in the model.
    Missing { name: String },
    /// Present in the model, not signed.
    Extra { name: String },
    /// A signed file is present under another name with identical content.
    Renamed { from: String, to: String },
}

impl fmt::Display for ResourceMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Changed {
                name,
                expected,
                actual,
            } => write!(
                f,
                "{name}: content changed (signed digest {expected}, actual {actual})"
            ),
            Self::Missing { name } => write!(f, "{name}: signed file is missing"),
            Self::Extra { name } => write!(f, "{name}: file is not covered by the signature"),
            Self::Renamed { from, to } => write!(f, "{from}: renamed to {to} (same content)"),
        }
    }
}

type Shards<'a> = Vec<(Option<(u64, u64)>, &'a str, &'a [u8])>;

/// Compares the `expected` (signed) resources with the `actual` ones.
/// An empty result means they match exactly. Renames are recognised when a
/// missing path and an extra path have identical resources.
pub fn diff_resources(expected: &[Resource], actual: &[Resource]) -> Vec<ResourceMismatch> {
    let key = |r: &Resource| r.name.to_string();
    let exp: BTreeMap<String, &Resource> = expected.iter().map(|r| (key(r), r)).collect();
    let act: BTreeMap<String, &Resource> = actual.iter().map(|r| (key(r), r)).collect();

    let mut out = Vec::new();
    // Group by file path so that renames are found in both serializations.
    let mut missing: BTreeMap<&str, Shards<'_>> = BTreeMap::new();
    let mut extra: BTreeMap<&str, Shards<'_>> = BTreeMap::new();
    for (k, e) in &exp {
        match act.get(k) {
            Some(a) if a.digest == e.digest && a.algorithm == e.algorithm => {}
            Some(a) => out.push(ResourceMismatch::Changed {
                name: k.clone(),
                expected: format!("{}:{}", e.algorithm, to_hex(&e.digest)),
                actual: format!("{}:{}", a.algorithm, to_hex(&a.digest)),
            }),
            None => missing.entry(e.name.path()).or_default().push((
                e.name.range(),
                &e.algorithm,
                &e.digest,
            )),
        }
    }
    for (k, a) in &act {
        if !exp.contains_key(k) {
            extra
                .entry(a.name.path())
                .or_default()
                .push((a.name.range(), &a.algorithm, &a.digest));
        }
    }
    for shards in extra.values_mut() {
        shards.sort();
    }
    let mut renamed_to: BTreeSet<&str> = BTreeSet::new();
    let mut missing_paths: Vec<(&str, Shards<'_>)> = missing.into_iter().collect();
    missing_paths.sort_by(|a, b| cmp_paths(a.0, b.0));
    for (path, mut shards) in missing_paths {
        shards.sort();
        let twin = extra
            .iter()
            .find(|(p, s)| !renamed_to.contains(*p) && **s == shards);
        if let Some((to, _)) = twin {
            renamed_to.insert(to);
            out.push(ResourceMismatch::Renamed {
                from: path.to_owned(),
                to: (*to).to_owned(),
            });
        } else {
            for (range, _, _) in shards {
                out.push(ResourceMismatch::Missing {
                    name: shard_name(path, range),
                });
            }
        }
    }
    for (path, shards) in extra {
        if renamed_to.contains(path) {
            continue;
        }
        for (range, _, _) in shards {
            out.push(ResourceMismatch::Extra {
                name: shard_name(path, range),
            });
        }
    }
    out
}

fn shard_name(path: &str, range: Option<(u64, u64)>) -> String {
    match range {
        None => path.to_owned(),
        Some((s, e)) => format!("{path}:{s}:{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ResourceName;

    fn r(name: &str, d: u8) -> Resource {
        Resource {
            name: ResourceName::File(name.into()),
            algorithm: "sha256".into(),
            digest: vec![d; 32],
        }
    }

    #[test]
    fn classifies_each_difference() {
        let exp = [r("a", 1), r("b", 2), r("c", 3), r("d", 4)];
        let act = [r("a", 1), r("b", 9), r("c2", 3), r("e", 5)];
        let d = diff_resources(&exp, &act);
        assert!(d.contains(&ResourceMismatch::Changed {
            name: "b".into(),
            expected: format!("sha256:{}", "02".repeat(32)),
            actual: format!("sha256:{}", "09".repeat(32)),
        }));
        assert!(d.contains(&ResourceMismatch::Renamed {
            from: "c".into(),
            to: "c2".into()
        }));
        assert!(d.contains(&ResourceMismatch::Missing { name: "d".into() }));
        assert!(d.contains(&ResourceMismatch::Extra { name: "e".into() }));
        assert_eq!(d.len(), 4);
        assert!(diff_resources(&exp, &exp).is_empty());
    }
}
