//! The in-memory advisory index: records by id, remembered with the source
//! they were imported from, and a package lookup table
//! `(ecosystem, normalised name) → (record, affected[] entry)`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use serde::Serialize;

use crate::error::VulnError;
use crate::ingest::{SourceItem, read_source};
use crate::matching::parse_listed;
use crate::osv::Affected;
use crate::osv::{Record, modified_of};
use crate::version::{Ecosystem, Version};

/// An indexed record and the source it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub source: String,
    pub record: Record,
}

/// The vulnerability database in memory.
#[derive(Debug, Default, Clone)]
pub struct Index {
    entries: BTreeMap<String, IndexEntry>,
    by_package: HashMap<(Ecosystem, String), Vec<Candidate>>,
}

/// One `affected[]` entry naming a package, with its `versions` list parsed
/// on first use.
#[derive(Debug, Clone)]
struct Candidate {
    id: String,
    affected: usize,
    listed: OnceLock<Vec<Version>>,
}

/// What one import did. `skipped` counts records that were not taken:
/// malformed ones (each also in `issues`), older duplicates, and withdrawn
/// records that were not in the index anyway.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub source: String,
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub skipped: usize,
    /// Withdrawn records seen in the source (removed, or skipped if absent).
    pub withdrawn: usize,
    pub issues: Vec<ImportIssue>,
}

/// A record that could not be imported: where, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportIssue {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    pub field: String,
    pub message: String,
}

impl fmt::Display for ImportIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(id) = &self.record {
            write!(f, " ({id})")?;
        }
        write!(f, ": {}: {}", self.field, self.message)
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} added, {} updated, {} removed, {} unchanged, {} skipped ({} withdrawn, {} malformed)",
            self.source,
            self.added,
            self.updated,
            self.removed,
            self.unchanged,
            self.skipped,
            self.withdrawn,
            self.issues.len()
        )
    }
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    /// Rebuilds an index from stored entries (the registry keeps them in its database).
    pub fn from_entries(entries: impl IntoIterator<Item = IndexEntry>) -> Index {
        let mut index = Index {
            entries: entries
                .into_iter()
                .map(|e| (e.record.id.clone(), e))
                .collect(),
            by_package: HashMap::new(),
        };
        index.rebuild_lookup();
        index
    }

    /// Imports a directory, `.zip` export or single record file. The source
    /// is identified by its canonical path: records it supplied before and
    /// no longer supplies are removed.
    pub fn import(&mut self, path: &Path) -> Result<ImportReport, VulnError> {
        let source = std::fs::canonicalize(path)
            .map_err(|e| VulnError::io(path, e))?
            .display()
            .to_string();
        let items = read_source(path)?;
        Ok(self.import_items(&source, items))
    }

    /// Imports already-read records as the complete current content of
    /// `source`. Re-import semantics:
    /// * a new id is added; a known id is replaced only by a strictly newer
    ///   `modified` (else unchanged);
    /// * a withdrawn record removes the indexed one;
    /// * records this source supplied before and no longer does are removed
    ///   (ids whose file failed validation but still named its id are kept).
    pub fn import_items(&mut self, source: &str, items: Vec<SourceItem>) -> ImportReport {
        let mut report = ImportReport {
            source: source.to_string(),
            ..ImportReport::default()
        };
        let mut seen: HashSet<String> = HashSet::new();
        // Within one import, the newest copy of an id wins.
        let mut incoming: BTreeMap<String, Record> = BTreeMap::new();
        for item in items {
            match item.result {
                Err(e) => {
                    if let Some(id) = &e.id {
                        seen.insert(id.clone());
                    }
                    report.skipped += 1;
                    report.issues.push(ImportIssue {
                        file: item.file,
                        record: e.id,
                        field: e.field,
                        message: e.message,
                    });
                }
                Ok(record) => {
                    seen.insert(record.id.clone());
                    match incoming.get(&record.id) {
                        Some(prev) if modified_of(prev) >= modified_of(&record) => {
                            report.skipped += 1;
                        }
                        Some(_) => {
                            report.skipped += 1;
                            incoming.insert(record.id.clone(), record);
                        }
                        None => {
                            incoming.insert(record.id.clone(), record);
                        }
                    }
                }
            }
        }
        for (id, record) in incoming {
            if record.withdrawn.is_some() {
                report.withdrawn += 1;
                if self.entries.remove(&id).is_some() {
                    report.removed += 1;
                } else {
                    report.skipped += 1;
                }
                continue;
            }
            match self.entries.get_mut(&id) {
                None => {
                    report.added += 1;
                    self.entries.insert(
                        id,
                        IndexEntry {
                            source: source.to_string(),
                            record,
                        },
                    );
                }
                Some(existing) => {
                    if modified_of(&record) > modified_of(&existing.record) {
                        report.updated += 1;
                        existing.record = record;
                        existing.source = source.to_string();
                    } else {
                        report.unchanged += 1;
                    }
                }
            }
        }
        let vanished: Vec<String> = self
            .entries
            .iter()
            .filter(|(id, e)| e.source == source && !seen.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in vanished {
            self.entries.remove(&id);
            report.removed += 1;
        }
        self.rebuild_lookup();
        report
    }

    fn rebuild_lookup(&mut self) {
        self.by_package.clear();
        for (id, e) in &self.entries {
            for (i, a) in e.record.affected.iter().enumerate() {
                if let Some(p) = &a.package {
                    let eco = Ecosystem::from_osv(&p.ecosystem);
                    let name = eco.normalize_name(&p.name);
                    self.by_package
                        .entry((eco, name))
                        .or_default()
                        .push(Candidate {
                            id: id.clone(),
                            affected: i,
                            listed: OnceLock::new(),
                        });
                }
            }
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A record by id.
    pub fn get(&self, id: &str) -> Option<&Record> {
        self.entries.get(id).map(|e| &e.record)
    }

    /// All entries, ordered by id.
    pub fn entries(&self) -> impl Iterator<Item = &IndexEntry> {
        self.entries.values()
    }

    /// The `affected[]` entries naming a package: record, entry index, the
    /// entry, and its parsed `versions` list.
    pub(crate) fn candidates<'a>(
        &'a self,
        ecosystem: &Ecosystem,
        name: &str,
    ) -> impl Iterator<Item = (&'a Record, usize, &'a Affected, &'a [Version])> + 'a {
        let key = (ecosystem.clone(), ecosystem.normalize_name(name));
        let eco = ecosystem.clone();
        self.by_package
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(move |c| {
                let record = &self.entries.get(&c.id)?.record;
                let affected = record.affected.get(c.affected)?;
                let listed = c.listed.get_or_init(|| parse_listed(affected, &eco));
                Some((record, c.affected, affected, listed.as_slice()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::{Format, parse_record};

    fn rec(id: &str, modified: &str, withdrawn: bool) -> SourceItem {
        let w = if withdrawn {
            r#","withdrawn":"2024-06-01T00:00:00Z""#
        } else {
            ""
        };
        let json = format!(
            r#"{{"id":"{id}","modified":"{modified}"{w},"affected":[{{"package":{{"ecosystem":"PyPI","name":"Foo_Bar"}},"versions":["1.0"]}}]}}"#
        );
        SourceItem {
            file: format!("{id}.json"),
            result: parse_record(json.as_bytes(), Format::Json),
        }
    }

    #[test]
    fn reimport_updates_removes_and_counts() {
        let mut idx = Index::new();
        let r = idx.import_items(
            "src",
            vec![
                rec("A", "2024-01-01T00:00:00Z", false),
                rec("B", "2024-01-01T00:00:00Z", false),
                rec("C", "2024-01-01T00:00:00Z", false),
            ],
        );
        assert_eq!((r.added, r.updated, r.removed, r.unchanged), (3, 0, 0, 0));
        assert_eq!(idx.candidates(&Ecosystem::PyPI, "foo.bar").count(), 3);

        let r = idx.import_items(
            "src",
            vec![
                rec("A", "2024-01-01T00:00:00Z", false),
                rec("B", "2024-02-01T00:00:00Z", false),
                rec("D", "2024-01-01T00:00:00Z", true),
                rec("E", "2024-01-01T00:00:00Z", false),
            ],
        );
        // A unchanged, B updated, C vanished, D withdrawn (never present), E added.
        assert_eq!(
            (
                r.added,
                r.updated,
                r.removed,
                r.unchanged,
                r.skipped,
                r.withdrawn
            ),
            (1, 1, 1, 1, 1, 1)
        );
        assert!(idx.get("C").is_none());
        assert_eq!(idx.get("B").unwrap().modified, "2024-02-01T00:00:00Z");

        // Another source does not remove this one's records.
        let r = idx.import_items("other", vec![rec("A", "2024-03-01T00:00:00Z", true)]);
        assert_eq!((r.removed, r.withdrawn), (1, 1));
        assert_eq!(idx.len(), 2);
    }

    #[test]
    fn malformed_items_are_reported_not_fatal() {
        let mut idx = Index::new();
        let bad = SourceItem {
            file: "bad.json".into(),
            result: parse_record(b"{\"id\": 3}", Format::Json),
        };
        let r = idx.import_items("s", vec![bad, rec("A", "2024-01-01T00:00:00Z", false)]);
        assert_eq!((r.added, r.skipped), (1, 1));
        assert_eq!(r.issues[0].file, "bad.json");
        assert_eq!(r.issues[0].field, "id");
    }
}
