//! A minimal stand-in for the CLI wiring, for manual runs:
//!
//! ```text
//! cargo run --release --example vulnscan -- import DB_DIR OSV_PATH
//! cargo run --release --example vulnscan -- scan DB_DIR SBOM [--vex F]... [--waivers F] [--fail-on LEVEL] [--json|--sarif]
//! ```
//! Exit codes as `provenant scan` documents them: 0 ok, 1 gate failed, 2 error.

use std::path::PathBuf;
use std::process::ExitCode;

use provenant_vuln::{
    FileStore, IndexStore, Level, ScanOptions, VulnError, read_sbom_file, read_vex_file,
    read_waivers_file, render_json, render_sarif, render_table, scan,
};

fn run(args: &[String]) -> Result<bool, VulnError> {
    match args {
        [cmd, db, path] if cmd == "import" => {
            let store = FileStore::new(db);
            let mut index = store.load()?.unwrap_or_default();
            let report = index.import(path.as_ref())?;
            store.save(&index)?;
            for issue in &report.issues {
                eprintln!("warning: {issue}");
            }
            println!("{report}");
            Ok(true)
        }
        [cmd, db, sbom, rest @ ..] if cmd == "scan" => {
            let index = FileStore::new(db).load_required()?;
            let sbom_doc = read_sbom_file(sbom.as_ref())?;
            let (mut vex, mut waivers, mut fail_on, mut format) = (Vec::new(), None, None, "table");
            let mut it = rest.iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--vex" => vex.push(read_vex_file(&PathBuf::from(
                        it.next().map_or("", |s| s.as_str()),
                    ))?),
                    "--waivers" => {
                        waivers = Some(read_waivers_file(&PathBuf::from(
                            it.next().map_or("", |s| s.as_str()),
                        ))?)
                    }
                    "--fail-on" => fail_on = it.next().and_then(|s| s.parse::<Level>().ok()),
                    "--json" => format = "json",
                    "--sarif" => format = "sarif",
                    other => eprintln!("ignoring {other}"),
                }
            }
            let opts = ScanOptions {
                vex: &vex,
                waivers: waivers.as_ref(),
                ..ScanOptions::default()
            };
            let report = scan(&index, &sbom_doc, &opts);
            match format {
                "json" => println!("{}", render_json(&report)?),
                "sarif" => println!("{}", render_sarif(&report, sbom)?),
                _ => print!("{}", render_table(&report)),
            }
            Ok(fail_on.is_none_or(|t| !report.fail_on(t)))
        }
        _ => {
            eprintln!("usage: vulnscan import DB OSV_PATH | vulnscan scan DB SBOM [options]");
            Ok(false)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
