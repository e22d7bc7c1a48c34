//! Scanning an SBOM's components against the index, merging aliases, and
//! applying VEX statements and waivers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use provenant_sbom::{Component, Purl, Sbom};

use crate::index::Index;
use crate::matching::evaluate;
use crate::osv::Record;
use crate::purl::PurlMatch;
use crate::severity::{Level, Severity, of_record};
use crate::time::Date;
use crate::version::{Ecosystem, Scheme};
use crate::vex::{VexDocument, VexStatus, purl_covers};
use crate::waiver::Waivers;

/// What a scan applies besides the database.
#[derive(Debug, Clone)]
pub struct ScanOptions<'a> {
    /// The day waivers are judged on (UTC).
    pub today: Date,
    pub vex: &'a [VexDocument],
    pub waivers: Option<&'a Waivers>,
}

impl Default for ScanOptions<'_> {
    fn default() -> Self {
        ScanOptions {
            today: Date::today_utc(),
            vex: &[],
            waivers: None,
        }
    }
}

/// How a finding was suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressedBy {
    Vex,
    Waiver,
}

/// One advisory (with its aliases merged) affecting one package.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The advisory id (the smallest id among merged records).
    pub id: String,
    /// Every other id and alias of the merged records, sorted.
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The package URL as the SBOM wrote it.
    pub purl: String,
    pub package: String,
    pub ecosystem: String,
    pub installed_version: String,
    /// Versions that fix it, above the installed one, in version order.
    pub fixed_versions: Vec<String>,
    pub severity: Severity,
    pub suppressed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<SuppressedBy>,
    /// VEX status of the latest applicable statement, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex_status: Option<&'static str>,
    /// Expired waivers, VEX `affected`/`under_investigation` notes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The advisory's first reference URL (ADVISORY preferred).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Finding {
    /// A stable identity for tracking a finding across scans (first-seen
    /// times on the server): advisory id, package URL and installed version.
    pub fn fingerprint(&self) -> String {
        format!("{}|{}|{}", self.id, self.purl, self.installed_version)
    }

    /// The id followed by its aliases.
    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// The result of a scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// Components in the SBOM (after removing duplicates).
    pub components: usize,
    /// Records in the database scanned against.
    pub database_records: usize,
    /// Sorted: unsuppressed first, then by severity (highest first), id, purl.
    pub findings: Vec<Finding>,
    /// Everything that could not be judged, once each.
    pub warnings: Vec<String>,
}

impl ScanReport {
    /// The CLI gate: true when an unsuppressed finding meets `threshold`.
    /// Findings of unknown severity count as meeting any threshold (fail
    /// closed: an unrated advisory may be critical).
    pub fn fail_on(&self, threshold: Level) -> bool {
        self.fail_on_with(threshold, true)
    }

    /// [`ScanReport::fail_on`], choosing whether unknown severity fails.
    pub fn fail_on_with(&self, threshold: Level, unknown_fails: bool) -> bool {
        self.findings.iter().filter(|f| !f.suppressed).any(|f| {
            if f.severity.level == Level::Unknown {
                unknown_fails
            } else {
                f.severity.level >= threshold
            }
        })
    }

    /// Number of findings not suppressed.
    pub fn unsuppressed(&self) -> usize {
        self.findings.iter().filter(|f| !f.suppressed).count()
    }
}

struct Hit<'a> {
    record: &'a Record,
    fixed: Vec<String>,
}

/// The purl of a component for display and for findings: as the SBOM wrote it, else
/// `name@version`.
fn display_id(c: &Component) -> String {
    match (&c.purl, &c.version) {
        (Some(p), _) => p.clone(),
        (None, Some(v)) => format!("{}@{v}", c.name),
        (None, None) => c.name.clone(),
    }
}

/// The installed version: the purl's, else the SBOM's field (SPDX `NOASSERTION` is none).
fn installed_version(c: &Component, purl: &Purl) -> Option<String> {
    purl.version().map(str::to_string).or_else(|| {
        c.version
            .clone()
            .filter(|v| !v.is_empty() && v != "NOASSERTION")
    })
}

/// Scans an SBOM's components (not its subject) against the index. Components are matched
/// by package URL; PyPI names compare PEP 503-normalised, so every spelling of a name
/// (`boolean.py`, `Boolean_Py`, `boolean-py`) finds the same advisories.
pub fn scan(index: &Index, sbom: &Sbom, opts: &ScanOptions<'_>) -> ScanReport {
    let mut warnings: BTreeSet<String> = BTreeSet::new();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut findings = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut components = 0;

    for c in &sbom.components {
        let purl = match c.package_url() {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                warnings.insert(format!("component {}: {e}; not matched", c.bom_ref));
                continue;
            }
            None => {
                warnings.insert(format!(
                    "component {} has no package URL; not matched",
                    display_id(c)
                ));
                continue;
            }
        };
        let Some(version) = installed_version(c, &purl) else {
            warnings.insert(format!(
                "component {} has no version; not matched",
                display_id(c)
            ));
            continue;
        };
        if !seen.insert((purl.package_key(), version.clone())) {
            continue;
        }
        components += 1;
        let Some(ecosystem) = purl.ecosystem() else {
            *unsupported.entry(purl.ty().to_string()).or_default() += 1;
            continue;
        };
        let hits = match_component(index, &purl, &ecosystem, &version, &mut warnings);
        for group in merge_aliases(hits) {
            findings.push(finding(c, &ecosystem, &version, &group));
        }
    }
    for (ty, n) in unsupported {
        warnings.insert(format!(
            "{n} component(s) of package type {ty:?} not matched: no OSV ecosystem mapping"
        ));
    }

    apply_vex(&mut findings, sbom, opts.vex, &mut warnings);
    if let Some(w) = opts.waivers {
        apply_waivers(&mut findings, sbom, w, opts.today);
    }
    findings.sort_by(|a, b| {
        a.suppressed
            .cmp(&b.suppressed)
            .then_with(|| b.severity.level.cmp(&a.severity.level))
            .then_with(|| {
                b.severity
                    .score
                    .partial_cmp(&a.severity.score)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.purl.cmp(&b.purl))
    });
    ScanReport {
        components,
        database_records: index.len(),
        findings,
        warnings: warnings.into_iter().collect(),
    }
}

fn match_component<'a>(
    index: &'a Index,
    purl: &Purl,
    ecosystem: &Ecosystem,
    version: &str,
    warnings: &mut BTreeSet<String>,
) -> Vec<Hit<'a>> {
    let mut by_id: BTreeMap<&str, Hit<'a>> = BTreeMap::new();
    for (record, ai, affected, listed) in index.candidates(ecosystem, &purl.osv_name()) {
        if record.withdrawn.is_some()
            || affected
                .package
                .as_ref()
                .is_some_and(|p| !purl.fits_release(&p.ecosystem))
        {
            continue;
        }
        let e = evaluate(affected, listed, ecosystem, version);
        for w in e.warnings {
            warnings.insert(format!("{} affected[{ai}].{w}", record.id));
        }
        if e.affected {
            let hit = by_id.entry(&record.id).or_insert(Hit {
                record,
                fixed: Vec::new(),
            });
            hit.fixed.extend(e.fixed);
        }
    }
    by_id.into_values().collect()
}

/// Groups hits whose ids/aliases overlap (transitively) into one finding.
fn merge_aliases(hits: Vec<Hit<'_>>) -> Vec<Vec<Hit<'_>>> {
    let n = hits.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, h) in hits.iter().enumerate() {
        for ident in std::iter::once(&h.record.id).chain(&h.record.aliases) {
            match owner.get(ident.as_str()) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    owner.insert(ident, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<Hit<'_>>> = BTreeMap::new();
    let roots: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();
    for (h, root) in hits.into_iter().zip(roots) {
        groups.entry(root).or_default().push(h);
    }
    groups.into_values().collect()
}

fn finding(c: &Component, ecosystem: &Ecosystem, version: &str, group: &[Hit<'_>]) -> Finding {
    // `group` is non-empty and ordered by id (from the BTreeMap in match_component).
    let primary = group
        .iter()
        .map(|h| h.record.id.as_str())
        .min()
        .unwrap_or_default();
    let mut aliases: BTreeSet<String> = BTreeSet::new();
    let mut severity = Severity::unknown();
    let mut fixed: Vec<String> = Vec::new();
    let mut summary = None;
    let mut url = None;
    for h in group {
        aliases.insert(h.record.id.clone());
        aliases.extend(h.record.aliases.iter().cloned());
        severity = severity.max(of_record(h.record));
        fixed.extend(h.fixed.iter().cloned());
        if summary.is_none() {
            summary = h
                .record
                .summary
                .clone()
                .or_else(|| h.record.details.as_ref().map(|d| first_line(d)));
        }
        if url.is_none() {
            url = h
                .record
                .references
                .iter()
                .find(|r| r.kind == "ADVISORY")
                .or_else(|| h.record.references.first())
                .map(|r| r.url.clone());
        }
    }
    aliases.remove(primary);
    Finding {
        id: primary.to_string(),
        aliases: aliases.into_iter().collect(),
        summary,
        purl: display_id(c),
        package: c.name.clone(),
        ecosystem: ecosystem.to_string(),
        installed_version: version.to_string(),
        fixed_versions: sort_versions(ecosystem.scheme(), fixed),
        severity,
        suppressed: false,
        suppressed_reason: None,
        suppressed_by: None,
        vex_status: None,
        notes: Vec::new(),
        url,
    }
}

fn sort_versions(scheme: Option<Scheme>, mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    if let Some(s) = scheme {
        v.sort_by(|a, b| match (s.parse(a), s.parse(b)) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        });
    }
    v
}

/// The first paragraph of `details`, whitespace collapsed, at most 160 chars.
fn first_line(text: &str) -> String {
    let para: Vec<&str> = text
        .trim()
        .split("\n\n")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let line = para.join(" ");
    if line.chars().count() > 160 {
        let cut: String = line.chars().take(157).collect();
        format!("{cut}...")
    } else {
        line
    }
}

/// The parsed purl of the component a finding is about.
fn purl_of(sbom: &Sbom, f: &Finding) -> Option<Purl> {
    sbom.components
        .iter()
        .find(|c| display_id(c) == f.purl)
        .and_then(|c| c.package_url()?.ok())
}

fn apply_vex(
    findings: &mut [Finding],
    sbom: &Sbom,
    docs: &[VexDocument],
    warnings: &mut BTreeSet<String>,
) {
    // Warn about products that are not in the SBOM at all.
    for d in docs {
        warnings.extend(d.warnings.iter().cloned());
        for s in &d.statements {
            for (text, product) in &s.products {
                let known = sbom
                    .components
                    .iter()
                    .chain(sbom.subject.as_ref())
                    .filter_map(|c| c.package_url()?.ok())
                    .any(|p| purl_covers(product, &p));
                if !known {
                    warnings.insert(format!(
                        "{}: statement #{} ({}) names product {text} which is not in the SBOM",
                        d.source, s.index, s.vulnerability
                    ));
                }
            }
        }
    }
    for f in findings.iter_mut() {
        let Some(purl) = purl_of(sbom, f) else {
            continue;
        };
        // Latest applicable statement wins; ties go to the later one read.
        let mut best = None;
        let mut order = 0usize;
        for d in docs {
            for s in &d.statements {
                order += 1;
                let names_vuln = std::iter::once(&s.vulnerability)
                    .chain(&s.aliases)
                    .any(|n| f.identifiers().any(|i| i.eq_ignore_ascii_case(n)));
                if !names_vuln || !s.products.iter().any(|(_, p)| purl_covers(p, &purl)) {
                    continue;
                }
                let key = (s.timestamp, order);
                if best.as_ref().is_none_or(|(k, _, _)| key > *k) {
                    best = Some((key, d, s));
                }
            }
        }
        let Some((_, d, s)) = best else { continue };
        f.vex_status = Some(s.status.as_str());
        let detail = [s.justification.as_deref(), s.impact_statement.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        let from = format!("VEX {} statement #{}", d.source, s.index);
        match s.status {
            VexStatus::NotAffected | VexStatus::Fixed => {
                f.suppressed = true;
                f.suppressed_by = Some(SuppressedBy::Vex);
                f.suppressed_reason = Some(if detail.is_empty() {
                    format!("{}: {from}", s.status.as_str())
                } else {
                    format!("{}: {detail} ({from})", s.status.as_str())
                });
            }
            VexStatus::Affected => f.notes.push(match &s.action_statement {
                Some(a) => format!("{from}: affected; action: {a}"),
                None => format!("{from}: affected"),
            }),
            VexStatus::UnderInvestigation => {
                f.notes.push(format!("{from}: under investigation"));
            }
        }
    }
}

fn apply_waivers(findings: &mut [Finding], sbom: &Sbom, waivers: &Waivers, today: Date) {
    for f in findings.iter_mut() {
        let Some(purl) = purl_of(sbom, f) else {
            continue;
        };
        let ids: Vec<&str> = f.identifiers().collect();
        let matching: Vec<_> = waivers
            .waivers
            .iter()
            .filter(|w| w.covers(&ids, &purl))
            .collect();
        let active = matching
            .iter()
            .filter(|w| w.active_on(today))
            // Several may cover it (different patterns): the one expiring first
            // is the one on record until then.
            .min_by_key(|w| (w.expires, w.entry));
        for w in matching.iter().filter(|w| !w.active_on(today)) {
            f.notes.push(format!(
                "waiver #{} in {} ({}, approved by {}) expired on {}; no longer suppressing",
                w.entry, waivers.source, w.reason, w.approver, w.expires
            ));
        }
        if let Some(w) = active
            && !f.suppressed
        {
            f.suppressed = true;
            f.suppressed_by = Some(SuppressedBy::Waiver);
            f.suppressed_reason = Some(format!(
                "waived: {} (approved by {}, expires {}; {} #{})",
                w.reason, w.approver, w.expires, waivers.source, w.entry
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Index;
    use crate::ingest::SourceItem;
    use crate::osv::{Format, parse_record};

    fn index_naming(package: &str) -> Index {
        let record = format!(
            r#"{{"id":"PYSEC-TEST-1","modified":"2024-01-01T00:00:00Z",
            "affected":[{{"package":{{"ecosystem":"PyPI","name":"{package}"}},
            "ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"5.1"}}]}}]}}]}}"#
        );
        let mut index = Index::new();
        index.import_items(
            "test",
            vec![SourceItem {
                file: "r.json".into(),
                result: parse_record(record.as_bytes(), Format::Json),
            }],
        );
        index
    }

    #[test]
    fn pypi_names_match_across_spellings() {
        for advisory_name in ["boolean.py", "Boolean_Py", "boolean-py"] {
            let index = index_naming(advisory_name);
            for purl in [
                "pkg:pypi/boolean.py@5.0",
                "pkg:pypi/Boolean_Py@5.0",
                "pkg:pypi/boolean-py@5.0",
            ] {
                let sbom = Sbom {
                    components: vec![Component::from_purl(purl).unwrap()],
                    ..Sbom::default()
                };
                let r = scan(&index, &sbom, &ScanOptions::default());
                let ids: Vec<_> = r.findings.iter().map(|f| f.id.as_str()).collect();
                assert_eq!(ids, ["PYSEC-TEST-1"], "{purl} against {advisory_name}");
                // The finding names the package as the SBOM wrote it.
                assert_eq!(r.findings[0].purl, purl);
            }
        }
        // What the cataloger writes (the purl spec's spelling) matches too.
        let sbom = Sbom {
            components: vec![
                Component::from_purl(
                    &provenant_sbom::Purl::pypi("Boolean.py", Some("5.0")).to_string(),
                )
                .unwrap(),
            ],
            ..Sbom::default()
        };
        let r = scan(&index_naming("boolean-py"), &sbom, &ScanOptions::default());
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].purl, "pkg:pypi/boolean.py@5.0");
    }

    #[test]
    fn unreadable_purls_and_missing_versions_are_warned_about() {
        let mut bad = Component::from_purl("pkg:pypi/x@1").unwrap();
        bad.bom_ref = "broken".into();
        bad.purl = Some("not-a-purl".into());
        let mut unversioned = Component::from_purl("pkg:pypi/y").unwrap();
        unversioned.version = Some("NOASSERTION".into());
        let sbom = Sbom {
            components: vec![bad, unversioned],
            ..Sbom::default()
        };
        let r = scan(&index_naming("x"), &sbom, &ScanOptions::default());
        assert_eq!(r.components, 0);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.starts_with("component broken: invalid package URL")),
            "{:?}",
            r.warnings
        );
        assert!(
            r.warnings
                .iter()
                .any(|w| w == "component pkg:pypi/y has no version; not matched"),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn summaries_from_details_take_the_first_paragraph() {
        assert_eq!(
            first_line("When installing a package\n  from a URL (ie \"pip\n install\").\n\nMore."),
            "When installing a package from a URL (ie \"pip install\")."
        );
        let long = "word ".repeat(100);
        let s = first_line(&long);
        assert_eq!(s.chars().count(), 160);
        assert!(s.ends_with("..."));
    }
}
