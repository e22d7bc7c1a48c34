//! OSV range evaluation, exactly as the schema's "Evaluation" pseudocode
//! (<https://ossf.github.io/osv-schema/#evaluation>) defines it:
//! a version is affected by an `affected[]` entry when it is in its
//! `versions` list or in one of its ranges; a range is evaluated only when
//! the version is below one of its `limit`s (or it has none), by walking its
//! events in version order — `introduced` (the special `0` sorts before
//! everything) turns vulnerability on, `fixed` (at or above) and
//! `last_affected` (strictly above) turn it off.
//!
//! `GIT` ranges are ignored for package matching (they need the commit
//! graph). Unknown range types, ecosystems without a version ordering and
//! versions that do not parse are skipped with a warning naming the record:
//! never silently judged.

use std::cmp::Ordering;

use crate::osv::{Affected, EventKind, RangeKind};
use crate::version::{Ecosystem, Scheme, Version};

/// The result of evaluating one `affected[]` entry for an installed version.
#[derive(Debug, Default)]
pub(crate) struct Evaluation {
    pub affected: bool,
    /// `fixed` versions above the installed one, in version order.
    pub fixed: Vec<String>,
    /// Why parts of the entry could not be evaluated.
    pub warnings: Vec<String>,
}

/// An event version placed on the ordering, with the spec's special values.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Point {
    Min,
    At(Version),
    Max,
}

/// Parses an entry's `versions` list with the ecosystem's scheme, sorted, for
/// binary search. Unparsable entries are left out (they still match by exact
/// string equality).
pub(crate) fn parse_listed(affected: &Affected, ecosystem: &Ecosystem) -> Vec<Version> {
    let Some(scheme) = ecosystem.scheme() else {
        return Vec::new();
    };
    let mut v: Vec<Version> = affected
        .versions
        .iter()
        .filter_map(|s| scheme.parse(s).ok())
        .collect();
    v.sort();
    v
}

/// Evaluates one `affected[]` entry; `listed` is [`parse_listed`] of it.
pub(crate) fn evaluate(
    affected: &Affected,
    listed: &[Version],
    ecosystem: &Ecosystem,
    installed_raw: &str,
) -> Evaluation {
    let mut out = Evaluation::default();
    let eco_scheme = ecosystem.scheme();

    // versions[]: exact membership (by the ecosystem's equality when both parse).
    if !affected.versions.is_empty() {
        out.affected = affected.versions.iter().any(|l| l == installed_raw)
            || eco_scheme
                .and_then(|s| s.parse(installed_raw).ok())
                .is_some_and(|inst| listed.binary_search(&inst).is_ok());
    }

    let mut fixed: Vec<(Version, String)> = Vec::new();
    for (j, range) in affected.ranges.iter().enumerate() {
        let scheme = match &range.kind {
            RangeKind::Git => continue,
            RangeKind::Other(kind) => {
                out.warnings
                    .push(format!("ranges[{j}]: unknown range type {kind:?} skipped"));
                continue;
            }
            RangeKind::Semver => Scheme::SemVer,
            RangeKind::Ecosystem => match eco_scheme {
                Some(s) => s,
                None => {
                    out.warnings.push(format!(
                        "ranges[{j}]: no version ordering for ecosystem {ecosystem}; range skipped"
                    ));
                    continue;
                }
            },
        };
        let installed = match scheme.parse(installed_raw) {
            Ok(v) => v,
            Err(e) => {
                out.warnings
                    .push(format!("ranges[{j}]: installed version unusable: {e}"));
                continue;
            }
        };
        let mut events: Vec<(Point, EventKind<'_>)> = Vec::with_capacity(range.events.len());
        let mut bad = None;
        for e in &range.events {
            let Some(kind) = e.kind() else {
                bad = Some("event without exactly one key".to_string());
                break;
            };
            let point = match kind {
                EventKind::Introduced("0") => Point::Min,
                EventKind::Limit("*") => Point::Max,
                _ => match scheme.parse(kind.version()) {
                    Ok(v) => Point::At(v),
                    Err(e) => {
                        bad = Some(e);
                        break;
                    }
                },
            };
            events.push((point, kind));
        }
        if let Some(why) = bad {
            out.warnings.push(format!(
                "ranges[{j}]: unparsable event version: {why}; range skipped"
            ));
            continue;
        }
        // A stable sort keeps the record's order between equal versions.
        events.sort_by(|a, b| a.0.cmp(&b.0));
        let v = Point::At(installed);
        let has_limit = events.iter().any(|(_, k)| matches!(k, EventKind::Limit(_)));
        let before_limits = !has_limit
            || events
                .iter()
                .any(|(p, k)| matches!(k, EventKind::Limit(_)) && v < *p);
        if before_limits {
            let mut vulnerable = false;
            for (p, k) in &events {
                match k {
                    EventKind::Introduced(_) if v >= *p => vulnerable = true,
                    EventKind::Fixed(_) if v >= *p => vulnerable = false,
                    EventKind::LastAffected(_) if v > *p => vulnerable = false,
                    _ => {}
                }
            }
            out.affected |= vulnerable;
        }
        for (p, k) in events {
            if let (EventKind::Fixed(raw), Point::At(fv)) = (k, p)
                && Point::At(fv.clone()) > v
            {
                fixed.push((fv, raw.to_string()));
            }
        }
    }
    fixed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    fixed.dedup_by(|a, b| a.0.cmp(&b.0) == Ordering::Equal);
    out.fixed = fixed.into_iter().map(|(_, s)| s).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::{Event, Range};

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event::default();
        let s = Some(v.to_string());
        match kind {
            "i" => e.introduced = s,
            "f" => e.fixed = s,
            "l" => e.last_affected = s,
            _ => e.limit = s,
        }
        e
    }

    fn aff(kind: RangeKind, events: &[(&str, &str)], versions: &[&str]) -> Affected {
        Affected {
            package: None,
            severity: vec![],
            ranges: vec![Range {
                kind,
                repo: None,
                events: events.iter().map(|(k, v)| ev(k, v)).collect(),
                database_specific: None,
            }],
            versions: versions.iter().map(|s| s.to_string()).collect(),
            ecosystem_specific: None,
            database_specific: None,
        }
    }

    fn evaluate(a: &Affected, eco: &Ecosystem, v: &str) -> Evaluation {
        super::evaluate(a, &parse_listed(a, eco), eco, v)
    }

    fn hit(a: &Affected, eco: &Ecosystem, v: &str) -> bool {
        evaluate(a, eco, v).affected
    }

    #[test]
    fn introduced_fixed_boundaries() {
        let a = aff(RangeKind::Ecosystem, &[("i", "1.0"), ("f", "2.0")], &[]);
        let py = Ecosystem::PyPI;
        assert!(!hit(&a, &py, "0.9"));
        assert!(hit(&a, &py, "1.0"));
        assert!(hit(&a, &py, "1.0.0"));
        assert!(hit(&a, &py, "2.0rc1"));
        assert!(!hit(&a, &py, "2.0"));
        assert!(!hit(&a, &py, "2.0.post1"));
        assert!(hit(&a, &py, "1.0.post1"));
        assert!(
            !hit(&a, &py, "1.0rc1"),
            "pre-release of the introducing version"
        );
        assert_eq!(evaluate(&a, &py, "1.5").fixed, ["2.0"]);
    }

    #[test]
    fn last_affected_is_inclusive() {
        let a = aff(RangeKind::Semver, &[("i", "0"), ("l", "1.2.3")], &[]);
        let npm = Ecosystem::Npm;
        assert!(hit(&a, &npm, "0.0.1"));
        assert!(hit(&a, &npm, "1.2.3"));
        assert!(!hit(&a, &npm, "1.2.4"));
        assert!(!hit(&a, &npm, "1.2.4-alpha"));
    }

    #[test]
    fn limit_caps_the_range() {
        let a = aff(
            RangeKind::Semver,
            &[("i", "1.0.0"), ("l", "9.9.9"), ("limit", "2.0.0")],
            &[],
        );
        let c = Ecosystem::CratesIo;
        assert!(hit(&a, &c, "1.5.0"));
        assert!(!hit(&a, &c, "2.0.0"));
        assert!(!hit(&a, &c, "3.0.0"));
        let star = aff(RangeKind::Semver, &[("i", "1.0.0"), ("limit", "*")], &[]);
        assert!(hit(&star, &c, "99.0.0"));
    }

    #[test]
    fn multiple_intervals_and_unsorted_events() {
        let a = aff(
            RangeKind::Ecosystem,
            &[
                ("f", "3.2.5"),
                ("i", "3.0.0"),
                ("f", "1.0.2"),
                ("i", "1.0.0"),
            ],
            &[],
        );
        let py = Ecosystem::PyPI;
        assert!(hit(&a, &py, "1.0.1"));
        assert!(!hit(&a, &py, "2.0"));
        assert!(hit(&a, &py, "3.1"));
        assert!(!hit(&a, &py, "3.2.5"));
        assert_eq!(evaluate(&a, &py, "1.0.1").fixed, ["1.0.2", "3.2.5"]);
    }

    #[test]
    fn versions_list_and_git_ranges() {
        let a = aff(
            RangeKind::Git,
            &[("i", "abc123"), ("f", "def456")],
            &["1.0", "1.1"],
        );
        let py = Ecosystem::PyPI;
        assert!(
            hit(&a, &py, "1.0.0"),
            "PEP 440 equality for listed versions"
        );
        assert!(hit(&a, &py, "1.1"));
        assert!(!hit(&a, &py, "1.2"));
        assert!(evaluate(&a, &py, "1.2").warnings.is_empty());
    }

    #[test]
    fn unknown_or_unparsable_ranges_warn_and_do_not_match() {
        let a = aff(RangeKind::Other("FOO".into()), &[("i", "0")], &[]);
        let e = evaluate(&a, &Ecosystem::PyPI, "1.0");
        assert!(!e.affected);
        assert!(e.warnings[0].contains("FOO"));
        let b = aff(
            RangeKind::Ecosystem,
            &[("i", "0"), ("f", "not a version!")],
            &[],
        );
        let e = evaluate(&b, &Ecosystem::PyPI, "1.0");
        assert!(!e.affected);
        assert!(e.warnings[0].contains("unparsable"));
        let c = aff(RangeKind::Ecosystem, &[("i", "0")], &[]);
        let e = evaluate(&c, &Ecosystem::Other("Maven".into()), "1.0");
        assert!(!e.affected && e.warnings[0].contains("Maven"));
    }

    #[test]
    fn dpkg_and_apk_ranges() {
        let d = aff(
            RangeKind::Ecosystem,
            &[("i", "0"), ("f", "3.0.11-1~deb12u2")],
            &[],
        );
        assert!(hit(&d, &Ecosystem::Debian, "3.0.11-1~deb12u1"));
        assert!(!hit(&d, &Ecosystem::Debian, "3.0.11-1~deb12u2"));
        assert!(!hit(&d, &Ecosystem::Debian, "3.0.11-1"));
        let a = aff(RangeKind::Ecosystem, &[("i", "0"), ("f", "1.2.4-r0")], &[]);
        assert!(hit(&a, &Ecosystem::Alpine, "1.2.4_rc1-r3"));
        assert!(!hit(&a, &Ecosystem::Alpine, "1.2.4-r1"));
    }
}
