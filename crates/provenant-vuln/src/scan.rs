//! Scanning an SBOM's components against the index, merging aliases, and
//! applying VEX statements and waivers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::index::Index;
use crate::matching::evaluate;
use crate::osv::Record;
use crate::purl::Purl;
use crate::sbom::{Component, Sbom};
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

/// Scans an SBOM against the index.
pub fn scan(index: &Index, sbom: &Sbom, opts: &ScanOptions<'_>) -> ScanReport {
    let mut warnings: BTreeSet<String> = sbom.warnings.iter().cloned().collect();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut findings = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut components = 0;

    for c in &sbom.components {
        let Some(purl) = &c.purl else {
            if c.purl_text.is_none() {
                warnings.insert(format!(
                    "component {} has no package URL; not matched",
                    c.display_id()
                ));
            }
            continue;
        };
        let Some(version) = c.version.clone() else {
            warnings.insert(format!(
                "component {} has no version; not matched",
                c.display_id()
            ));
            continue;
        };
        if !seen.insert((purl.package_key(), version.clone())) {
            continue;
        }
        components += 1;
        let Some(ecosystem) = purl.ecosystem() else {
            *unsupported.entry(purl.ty.clone()).or_default() += 1;
            continue;
        };
        let hits = match_component(index, purl, &ecosystem, &version, &mut warnings);
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
        purl: c.display_id(),
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

fn component_for<'a>(sbom: &'a Sbom, f: &Finding) -> Option<&'a Component> {
    sbom.components.iter().find(|c| c.display_id() == f.purl)
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
                    .filter_map(|c| c.purl.as_ref())
                    .any(|p| purl_covers(product, p));
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
        let Some(purl) = component_for(sbom, f).and_then(|c| c.purl.as_ref()) else {
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
                if !names_vuln || !s.products.iter().any(|(_, p)| purl_covers(p, purl)) {
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
        let Some(purl) = component_for(sbom, f).and_then(|c| c.purl.as_ref()) else {
            continue;
        };
        let ids: Vec<&str> = f.identifiers().collect();
        let matching: Vec<_> = waivers
            .waivers
            .iter()
            .filter(|w| w.covers(&ids, purl))
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
