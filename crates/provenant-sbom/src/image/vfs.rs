//! The merged file system: the kept files of all layers, whiteouts applied in layer order
//! (<https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts>).

use std::collections::BTreeMap;

use super::layer::LayerScan;
use crate::error::{Result, SbomError};

/// One kept path of a layer or of the merged file system.
#[derive(Clone)]
pub(super) enum Node {
    File(std::sync::Arc<Vec<u8>>),
    Symlink(String),
    /// A hard link to another path (resolved when the layer is applied).
    HardLink(String),
}

/// Maximum symbolic links followed while resolving one path (as Linux's MAXSYMLINKS).
const MAX_SYMLINK_HOPS: usize = 40;

/// The files we keep from all layers, after applying whiteouts in layer order.
#[derive(Default)]
pub(crate) struct Vfs {
    pub(super) nodes: BTreeMap<String, Node>,
    pub(super) label: String,
}

impl Vfs {
    fn remove_tree(&mut self, path: &str) {
        self.nodes.remove(path);
        self.remove_children(path);
    }

    fn remove_children(&mut self, dir: &str) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Apply one layer on top of the current state.
    pub(super) fn apply(&mut self, scan: LayerScan) -> Result<()> {
        for dir in &scan.opaque {
            let d = self.resolve(dir, true)?;
            self.remove_children(&d);
        }
        for w in &scan.whiteouts {
            let p = self.resolve(w, false)?;
            self.remove_tree(&p);
        }
        let mut this_layer: BTreeMap<String, std::sync::Arc<Vec<u8>>> = BTreeMap::new();
        for (path, node) in scan.entries {
            let p = self.resolve(&path, false)?;
            let node = match node {
                Node::HardLink(target) => {
                    let data = match this_layer.get(&target) {
                        Some(d) => Some(d.clone()),
                        None => self.read(&target)?,
                    };
                    match data {
                        Some(d) => Node::File(d),
                        None => continue, // link to a file we do not keep
                    }
                }
                n => n,
            };
            if let Node::File(d) = &node {
                this_layer.insert(path.clone(), d.clone());
            }
            self.remove_children(&p);
            self.nodes.insert(p, node);
        }
        Ok(())
    }

    /// Resolve `path` through symbolic links (chroot semantics: `..` stops at the root,
    /// absolute targets start at the image root). With `follow_last` false the final
    /// component is not followed.
    pub(crate) fn resolve(&self, path: &str, follow_last: bool) -> Result<String> {
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_string).collect();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    cur.pop();
                    continue;
                }
                _ => {}
            }
            cur.push(c);
            if pending.iter().all(|p| p.is_empty() || p == ".") && !follow_last {
                break;
            }
            if let Some(Node::Symlink(t)) = self.nodes.get(&cur.join("/")) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(SbomError::SymlinkLoop {
                        archive: self.label.clone(),
                        path: path.to_string(),
                    });
                }
                cur.pop();
                if t.starts_with('/') {
                    cur.clear();
                }
                pending.extend(t.split('/').rev().map(str::to_string));
            }
        }
        Ok(cur.join("/"))
    }

    /// Read a kept file, following symbolic links.
    pub(crate) fn read(&self, path: &str) -> Result<Option<std::sync::Arc<Vec<u8>>>> {
        let p = self.resolve(path, true)?;
        Ok(match self.nodes.get(&p) {
            Some(Node::File(d)) => Some(d.clone()),
            _ => None,
        })
    }

    pub(super) fn files(&self) -> impl Iterator<Item = (&str, &std::sync::Arc<Vec<u8>>)> {
        self.nodes.iter().filter_map(|(k, n)| match n {
            Node::File(d) => Some((k.as_str(), d)),
            _ => None,
        })
    }

    /// Paths of kept files under `dir/` (one level).
    pub(super) fn list(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{dir}/");
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, n)| !k[prefix.len()..].contains('/') && matches!(n, Node::File(_)))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_resolution_and_loops() {
        let mut v = Vfs::default();
        v.nodes
            .insert("lib".into(), Node::Symlink("usr/lib".into()));
        v.nodes.insert(
            "usr/lib/x".into(),
            Node::File(std::sync::Arc::new(b"hi".to_vec())),
        );
        v.nodes.insert("a".into(), Node::Symlink("/b".into()));
        v.nodes.insert("b".into(), Node::Symlink("../../a".into()));
        v.nodes
            .insert("up".into(), Node::Symlink("../../../usr".into()));
        assert_eq!(v.read("lib/x").unwrap().unwrap().as_slice(), b"hi");
        assert_eq!(v.read("up/lib/x").unwrap().unwrap().as_slice(), b"hi");
        assert!(matches!(v.read("a/x"), Err(SbomError::SymlinkLoop { .. })));
    }
}
