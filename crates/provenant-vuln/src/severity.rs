//! Severity of an advisory.
//!
//! * `CVSS_V3` vectors (3.0 and 3.1): the base score is computed from the
//!   vector with the formulas of the CVSS v3.1 specification §7
//!   (<https://www.first.org/cvss/v3.1/specification-document>), using the
//!   3.1 `Roundup` for 3.1 vectors and the plain ceiling for 3.0 vectors.
//! * `CVSS_V4` vectors are validated (mandatory base metrics present and
//!   well-formed) but **not scored**: CVSS v4 scores come from a lookup
//!   table of macro-vectors we have not implemented yet. The level then
//!   comes from the qualitative rating the database gives
//!   (`database_specific.severity`, GitHub's `CRITICAL/HIGH/MODERATE/LOW`,
//!   or the same key under `affected[].ecosystem_specific`/`database_specific`).
//! * With neither, the severity is [`Level::Unknown`].
//!
//! The level of a score uses the CVSS qualitative scale: 0.1–3.9 low,
//! 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::osv::Record;

/// A qualitative severity. `Unknown` sorts lowest but, for gating, see
/// [`crate::ScanReport::fail_on`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Unknown,
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Unknown => "unknown",
            Level::None => "none",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// The CVSS qualitative rating of a base score.
    pub fn from_score(score: f64) -> Level {
        if score >= 9.0 {
            Level::Critical
        } else if score >= 7.0 {
            Level::High
        } else if score >= 4.0 {
            Level::Medium
        } else if score > 0.0 {
            Level::Low
        } else {
            Level::None
        }
    }

    /// Whether a finding of this level trips a `--fail-on threshold` gate:
    /// at or above the threshold, and unrated (`Unknown`) always — fail
    /// closed, an unrated advisory may be critical. The one rule behind
    /// `scan --fail-on`, `findings --fail-on` and [`crate::ScanReport::fail_on`].
    pub fn meets(self, threshold: Level) -> bool {
        self == Level::Unknown || self >= threshold
    }

    /// A database's qualitative rating (`HIGH`, `Moderate`, `important`…).
    pub fn from_rating(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Level::Critical,
            "high" | "important" => Level::High,
            "medium" | "moderate" => Level::Medium,
            "low" | "negligible" | "unimportant" => Level::Low,
            "none" => Level::None,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;
    /// Parses a `--fail-on` threshold: `critical`, `high`, `medium`, `low`.
    fn from_str(s: &str) -> Result<Level, String> {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Ok(Level::Critical),
            "high" => Ok(Level::High),
            "medium" => Ok(Level::Medium),
            "low" => Ok(Level::Low),
            _ => Err(format!(
                "unknown severity {s:?} (expected critical, high, medium or low)"
            )),
        }
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The severity of an advisory: a level, the score and vector it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Severity {
    pub level: Level,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
    /// Where the level came from: `cvss_v3`, `database_specific`, …
    pub source: &'static str,
}

impl Severity {
    pub fn unknown() -> Severity {
        Severity {
            level: Level::Unknown,
            score: None,
            vector: None,
            source: "none",
        }
    }

    fn rank(&self) -> (Level, i64) {
        // Scores have one decimal; compare them as tenths.
        #[allow(clippy::cast_possible_truncation)]
        let tenths = self.score.map_or(-1, |s| (s * 10.0).round() as i64);
        (self.level, tenths)
    }

    /// The more severe of two.
    pub fn max(self, other: Severity) -> Severity {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// The severity of a record: the highest of its CVSS v3 scores, else the
/// database's rating (see the module docs), else unknown.
pub fn of_record(r: &Record) -> Severity {
    let mut best: Option<Severity> = None;
    let entries = r
        .severity
        .iter()
        .chain(r.affected.iter().flat_map(|a| a.severity.iter()));
    for e in entries {
        if e.kind == "CVSS_V3"
            && let Ok(score) = cvss3_base_score(&e.score)
        {
            let s = Severity {
                level: Level::from_score(score),
                score: Some(score),
                vector: Some(e.score.clone()),
                source: "cvss_v3",
            };
            best = Some(match best {
                Some(b) => b.max(s),
                None => s,
            });
        }
    }
    if let Some(b) = best {
        return b;
    }
    let v4 = r
        .severity
        .iter()
        .chain(r.affected.iter().flat_map(|a| a.severity.iter()))
        .find(|e| e.kind == "CVSS_V4" && cvss4_validate(&e.score).is_ok())
        .map(|e| e.score.clone());
    let rating = rating_in(r.database_specific.as_ref()).or_else(|| {
        r.affected
            .iter()
            .filter_map(|a| {
                rating_in(a.ecosystem_specific.as_ref())
                    .or_else(|| rating_in(a.database_specific.as_ref()))
            })
            .max()
    });
    match rating {
        Some(level) => Severity {
            level,
            score: None,
            vector: v4,
            source: "database_specific",
        },
        None => Severity {
            vector: v4,
            ..Severity::unknown()
        },
    }
}

fn rating_in(v: Option<&Value>) -> Option<Level> {
    v?.get("severity")?.as_str().and_then(Level::from_rating)
}

/// Computes the CVSS v3.0/v3.1 base score of a vector string.
pub fn cvss3_base_score(vector: &str) -> Result<f64, String> {
    let err = |why: &str| format!("{vector:?}: {why}");
    let mut parts = vector.split('/');
    let v31 = match parts.next() {
        Some("CVSS:3.1") => true,
        Some("CVSS:3.0") => false,
        _ => return Err(err("not a CVSS:3.x vector")),
    };
    let mut m: [Option<char>; 8] = [None; 8];
    const NAMES: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
    for part in parts {
        let (k, v) = part
            .split_once(':')
            .ok_or_else(|| err("malformed metric"))?;
        let mut chars = v.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(err("malformed metric value"));
        };
        if let Some(i) = NAMES.iter().position(|n| *n == k)
            && m[i].replace(c).is_some()
        {
            return Err(err("metric given twice"));
        }
        // Temporal and environmental metrics do not change the base score.
    }
    let get = |i: usize| m[i].ok_or_else(|| err(&format!("missing base metric {}", NAMES[i])));
    let changed = match get(4)? {
        'U' => false,
        'C' => true,
        _ => return Err(err("invalid S")),
    };
    let av = match get(0)? {
        'N' => 0.85,
        'A' => 0.62,
        'L' => 0.55,
        'P' => 0.2,
        _ => return Err(err("invalid AV")),
    };
    let ac = match get(1)? {
        'L' => 0.77,
        'H' => 0.44,
        _ => return Err(err("invalid AC")),
    };
    let pr = match (get(2)?, changed) {
        ('N', _) => 0.85,
        ('L', false) => 0.62,
        ('L', true) => 0.68,
        ('H', false) => 0.27,
        ('H', true) => 0.5,
        _ => return Err(err("invalid PR")),
    };
    let ui = match get(3)? {
        'N' => 0.85,
        'R' => 0.62,
        _ => return Err(err("invalid UI")),
    };
    let cia = |i: usize| -> Result<f64, String> {
        match get(i)? {
            'H' => Ok(0.56),
            'L' => Ok(0.22),
            'N' => Ok(0.0),
            _ => Err(err(&format!("invalid {}", NAMES[i]))),
        }
    };
    let iss = 1.0 - (1.0 - cia(5)?) * (1.0 - cia(6)?) * (1.0 - cia(7)?);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Ok(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Ok(if v31 {
        roundup31(raw)
    } else {
        (raw * 10.0).ceil() / 10.0
    })
}

/// CVSS v3.1 Appendix A `Roundup`: the smallest one-decimal number >= x,
/// computed on integers to avoid floating-point artefacts.
fn roundup31(x: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation)]
    let int_input = (x * 100_000.0).round() as i64;
    #[allow(clippy::cast_precision_loss)]
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

/// Checks that a CVSS v4.0 vector has every base metric once, with a valid value.
pub fn cvss4_validate(vector: &str) -> Result<(), String> {
    const BASE: [(&str, &str); 11] = [
        ("AV", "NALP"),
        ("AC", "LH"),
        ("AT", "NP"),
        ("PR", "NLH"),
        ("UI", "NPA"),
        ("VC", "HLN"),
        ("VI", "HLN"),
        ("VA", "HLN"),
        ("SC", "HLN"),
        ("SI", "HLN"),
        ("SA", "HLN"),
    ];
    let mut parts = vector.split('/');
    if parts.next() != Some("CVSS:4.0") {
        return Err(format!("{vector:?}: not a CVSS:4.0 vector"));
    }
    let mut seen = [false; 11];
    for part in parts {
        let (k, v) = part
            .split_once(':')
            .ok_or_else(|| format!("{vector:?}: malformed metric {part:?}"))?;
        if let Some(i) = BASE.iter().position(|(n, _)| *n == k) {
            if seen[i] || v.len() != 1 || !BASE[i].1.contains(v) {
                return Err(format!("{vector:?}: invalid {k}"));
            }
            seen[i] = true;
        }
    }
    match BASE.iter().zip(seen).find(|(_, s)| !s) {
        Some(((name, _), _)) => Err(format!("{vector:?}: missing base metric {name}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss31_reference_scores() {
        // Scores as published by NVD for these vectors.
        let cases = [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N", 6.8),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", 4.3),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O", 9.8),
        ];
        for (v, want) in cases {
            assert_eq!(cvss3_base_score(v).unwrap(), want, "{v}");
        }
        assert_eq!(Level::from_score(9.8), Level::Critical);
        assert_eq!(Level::from_score(6.1), Level::Medium);
        assert_eq!(Level::from_score(0.0), Level::None);
    }

    #[test]
    fn cvss_rejects_bad_vectors() {
        for bad in [
            "",
            "CVSS:2.0/AV:N",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
            "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:NN/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        ] {
            assert!(cvss3_base_score(bad).is_err(), "{bad}");
        }
        assert!(
            cvss4_validate("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
                .is_ok()
        );
        assert!(
            cvss4_validate("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N").is_err()
        );
    }
}
