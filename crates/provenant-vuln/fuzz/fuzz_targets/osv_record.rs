//! Fuzzes the OSV reader (JSON and the PyPA YAML encoding) and, for records
//! that parse, range evaluation against a few installed versions.
//!
//! Input starting with `{` is read as JSON, anything else as YAML, so real
//! OSV files are valid seeds: `cargo +nightly fuzz run osv_record
//! /var/tmp/osv-corpus ../../../testdata/osv-pypa/vulns` (new inputs go to
//! the first directory only; the whole database seeds the same way).
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenant_sbom::{Component, Sbom};
use provenant_vuln::{Format, Index, ScanOptions, SourceItem, parse_record, scan};

fuzz_target!(|data: &[u8]| {
    let format = if data.trim_ascii_start().starts_with(b"{") {
        Format::Json
    } else {
        Format::Yaml
    };
    let Ok(record) = parse_record(data, format) else {
        return;
    };
    let mut components = Vec::new();
    for a in &record.affected {
        let Some(p) = &a.package else { continue };
        let ty = match p.ecosystem.split(':').next().unwrap_or("") {
            "PyPI" => "pypi",
            "npm" => "npm",
            "crates.io" => "cargo",
            "Debian" => "deb",
            "Alpine" => "apk",
            _ => continue,
        };
        let versions =
            a.versions
                .iter()
                .map(String::as_str)
                .chain(["0", "1.0", "1.0.0-rc.1", "2:1.0-1~b"]);
        for v in versions.take(8) {
            let purl = format!(
                "pkg:{ty}/{}@{}",
                p.name
                    .replace('%', "%25")
                    .replace('@', "%40")
                    .replace('?', "%3F")
                    .replace('#', "%23"),
                v.replace('%', "%25").replace('?', "%3F").replace('#', "%23")
            );
            if let Ok(c) = Component::from_purl(&purl) {
                components.push(c);
            }
        }
    }
    let mut index = Index::new();
    index.import_items(
        "fuzz",
        vec![SourceItem {
            file: "fuzz".into(),
            result: Ok(record),
        }],
    );
    let sbom = Sbom {
        components,
        ..Sbom::default()
    };
    let _ = scan(&index, &sbom, &ScanOptions::default());
});
