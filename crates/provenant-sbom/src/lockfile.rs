//! Lock and requirement files: `requirements*.txt`, `uv.lock`, `poetry.lock`, `Pipfile.lock`,
//! `Cargo.lock`, `package-lock.json` (v2/v3).
//!
//! Text parsers take the file's contents and its display name (used in errors); only
//! `requirements` includes (`-r other.txt`) touch the file system, through [`catalog_lockfile`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::error::{Result, SbomError};
use crate::license;
use crate::model::{Component, ComponentKind, ExternalRef, Hash, HashAlg, Sbom, Warning};
use crate::purl::Purl;
use crate::util::{b64_decode, line_of, pep503};

/// Largest lock file we read (a hostile 10 GiB "lock file" is refused, not slurped).
pub const MAX_LOCKFILE_BYTES: u64 = 256 << 20;

/// The lock/requirement formats we understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockKind {
    /// pip `requirements*.txt` (also `*.in` is *not* accepted: it is not pinned by design).
    Requirements,
    /// `uv.lock`.
    UvLock,
    /// `poetry.lock`.
    PoetryLock,
    /// `Pipfile.lock`.
    PipfileLock,
    /// `Cargo.lock`.
    CargoLock,
    /// npm `package-lock.json` (lockfileVersion 2 or 3) or `npm-shrinkwrap.json`.
    PackageLock,
}

impl LockKind {
    /// Recognise a lock file by its file name.
    pub fn detect(file_name: &str) -> Option<Self> {
        Some(match file_name {
            "uv.lock" => Self::UvLock,
            "poetry.lock" => Self::PoetryLock,
            "Pipfile.lock" => Self::PipfileLock,
            "Cargo.lock" => Self::CargoLock,
            "package-lock.json" | "npm-shrinkwrap.json" => Self::PackageLock,
            n if n.starts_with("requirements") && n.ends_with(".txt") => Self::Requirements,
            _ => return None,
        })
    }
}

/// Catalog one lock or requirement file from disk.
pub fn catalog_lockfile(path: &Path) -> Result<Sbom> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let kind = LockKind::detect(name).ok_or_else(|| SbomError::Unsupported {
        file: path.display().to_string(),
        what: "not a known lock or requirements file name".into(),
    })?;
    if kind == LockKind::Requirements {
        let mut seen = BTreeSet::new();
        return requirements_file(path, &mut seen, 0);
    }
    let text = read_text(path)?;
    parse_lock(kind, &text, &path.display().to_string())
}

fn read_text(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| SbomError::io(path, e))?;
    if meta.len() > MAX_LOCKFILE_BYTES {
        return Err(SbomError::LimitExceeded {
            archive: path.display().to_string(),
            what: "lock file size",
            limit: MAX_LOCKFILE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| SbomError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let ok = e.utf8_error().valid_up_to();
        let line = line_of(&String::from_utf8_lossy(&e.as_bytes()[..ok]), ok);
        SbomError::parse(path.display().to_string(), line, "not valid UTF-8")
    })
}

/// Parse lock file text of a known kind. `file` names it in errors.
pub fn parse_lock(kind: LockKind, text: &str, file: &str) -> Result<Sbom> {
    match kind {
        LockKind::Requirements => parse_requirements(text, file).map(|(s, _)| s),
        LockKind::UvLock => parse_uv_lock(text, file),
        LockKind::PoetryLock => parse_poetry_lock(text, file),
        LockKind::PipfileLock => parse_pipfile_lock(text, file),
        LockKind::CargoLock => parse_cargo_lock(text, file),
        LockKind::PackageLock => parse_package_lock(text, file),
    }
}

fn found_in(c: &mut Component, file: &str) {
    c.properties
        .insert(crate::PROP_FOUND_IN.into(), file.to_string());
}

fn toml_err(e: &toml::de::Error, text: &str, file: &str) -> SbomError {
    let line = e.span().map_or(0, |s| line_of(text, s.start));
    SbomError::parse(file, line, e.message().trim().to_string())
}

fn json_err(e: &serde_json::Error, file: &str) -> SbomError {
    SbomError::parse(file, e.line(), e.to_string())
}

// ---------------------------------------------------------------- requirements.txt

const MAX_INCLUDE_DEPTH: usize = 16;

fn requirements_file(
    path: &Path,
    seen: &mut BTreeSet<std::path::PathBuf>,
    depth: usize,
) -> Result<Sbom> {
    let canon = path.canonicalize().map_err(|e| SbomError::io(path, e))?;
    if !seen.insert(canon) || depth > MAX_INCLUDE_DEPTH {
        return Ok(Sbom::default()); // already included (cycles are legal in pip)
    }
    let text = read_text(path)?;
    let (mut sbom, includes) = parse_requirements(&text, &path.display().to_string())?;
    let dir = path.parent().unwrap_or(Path::new("."));
    for (line, inc) in includes {
        let p = dir.join(&inc);
        match requirements_file(&p, seen, depth + 1) {
            Ok(s) => sbom.merge(s),
            Err(SbomError::Io { source, .. }) => {
                return Err(SbomError::parse(
                    path.display().to_string(),
                    line,
                    format!("cannot read included requirements file {inc:?}: {source}"),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sbom)
}

/// Parse a pip requirements file. Returns the SBOM and the `-r` includes (line, path).
/// Unpinned requirements become version-less components with a warning: they say what
/// may be installed, not what is.
pub fn parse_requirements(text: &str, file: &str) -> Result<(Sbom, Vec<(usize, String)>)> {
    let mut sbom = Sbom::default();
    let mut includes = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    let lines: Vec<&str> = text.lines().collect();
    for (i, raw) in lines.iter().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        if let Some(body) = raw.strip_suffix('\\') {
            logical.push_str(body);
            logical.push(' ');
            if i + 1 < lines.len() {
                continue;
            }
        } else {
            logical.push_str(raw);
        }
        let line = strip_comment(&logical).trim().to_string();
        logical.clear();
        if line.is_empty() {
            continue;
        }
        requirement_line(&line, start, file, &mut sbom, &mut includes)?;
    }
    Ok((sbom, includes))
}

fn strip_comment(s: &str) -> &str {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            return &s[..i];
        }
    }
    s
}

fn requirement_line(
    line: &str,
    lineno: usize,
    file: &str,
    sbom: &mut Sbom,
    includes: &mut Vec<(usize, String)>,
) -> Result<()> {
    let mut tokens = line.split_whitespace();
    if line.starts_with('-') {
        let first = tokens.next().unwrap_or_default();
        let (opt, inline) = match first.split_once('=') {
            Some((o, v)) => (o, Some(v.to_string())),
            None => (first, None),
        };
        // A short option with its value attached (`-rfile.txt`): split after
        // the option's two characters, never inside a character.
        let (opt, inline) = match opt.split_at_checked(2) {
            Some((short, rest)) if !opt.starts_with("--") && !rest.is_empty() => {
                (short, Some(rest.to_string()))
            }
            _ => (opt, inline),
        };
        let arg = inline.or_else(|| tokens.next().map(str::to_string));
        match opt {
            "-r" | "--requirement" => {
                let arg =
                    arg.ok_or_else(|| SbomError::parse(file, lineno, "-r needs a file name"))?;
                includes.push((lineno, arg));
            }
            "-e" | "--editable" => {
                let arg = arg.unwrap_or_default();
                sbom.warnings.push(Warning {
                    file: file.into(),
                    line: lineno,
                    message: format!("editable requirement {arg:?}: version not determined"),
                });
            }
            "-c" | "--constraint" | "-i" | "--index-url" | "--extra-index-url" | "-f"
            | "--find-links" | "--trusted-host" | "--no-binary" | "--only-binary"
            | "--use-feature" | "--config-settings" | "--global-option" => {}
            "--pre" | "--no-index" | "--prefer-binary" | "--require-hashes" => {}
            _ => {
                return Err(SbomError::parse(
                    file,
                    lineno,
                    format!("unknown option {opt:?}"),
                ));
            }
        }
        return Ok(());
    }
    // Split requirement from per-requirement options (--hash=…).
    let (req, opts) = match line.find(" --").or_else(|| line.find("\t--")) {
        Some(i) => (line[..i].trim(), &line[i..]),
        None => (line, ""),
    };
    let mut hashes = Vec::new();
    let mut opt_tokens = opts.split_whitespace().peekable();
    while let Some(t) = opt_tokens.next() {
        let value = if let Some(v) = t.strip_prefix("--hash=") {
            Some(v.to_string())
        } else if t == "--hash" {
            opt_tokens.next().map(str::to_string)
        } else {
            None
        };
        if let Some(v) = value {
            let h = Hash::parse_prefixed(&v)
                .ok_or_else(|| SbomError::parse(file, lineno, format!("malformed hash {v:?}")))?;
            hashes.push(h);
        }
    }
    let parsed = parse_pep508(req).map_err(|m| SbomError::parse(file, lineno, m))?;
    let mut c = Component {
        name: parsed.name.clone(),
        hashes,
        ..Component::default()
    };
    found_in(&mut c, file);
    if let Some(url) = parsed.url {
        c.external_refs.push(ExternalRef {
            kind: "distribution".into(),
            url: url.clone(),
        });
        c.properties.insert("provenant:pinned".into(), "url".into());
        sbom.warnings.push(Warning {
            file: file.into(),
            line: lineno,
            message: format!(
                "direct URL requirement {}: version not determined",
                parsed.name
            ),
        });
    } else if let Some(v) = parsed.pinned {
        c.version = Some(v);
    } else {
        c.properties
            .insert("provenant:pinned".into(), "false".into());
        if !parsed.spec.is_empty() {
            c.properties
                .insert("provenant:requirement".into(), parsed.spec.clone());
        }
        sbom.warnings.push(Warning {
            file: file.into(),
            line: lineno,
            message: format!(
                "unpinned requirement {}{}: version not determined",
                parsed.name, parsed.spec
            ),
        });
    }
    let purl = Purl::pypi(&c.name, c.version.as_deref()).to_string();
    c.bom_ref = purl.clone();
    c.purl = Some(purl);
    sbom.add(c);
    Ok(())
}

struct Pep508 {
    name: String,
    spec: String,
    pinned: Option<String>,
    url: Option<String>,
}

/// Parse the parts of a PEP 508 requirement we need: name, version specifier, URL.
fn parse_pep508(req: &str) -> std::result::Result<Pep508, String> {
    let req = req.split_once(';').map_or(req, |(r, _)| r).trim();
    if req.contains("://") && !req.contains(" @ ") && !req.contains('@')
        || req.starts_with('.')
        || req.starts_with('/')
    {
        // A bare URL or path: the name is only known from #egg=.
        if let Some(egg) = req.split("#egg=").nth(1) {
            let name: String = egg
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            if !name.is_empty() {
                return Ok(Pep508 {
                    name,
                    spec: String::new(),
                    pinned: None,
                    url: Some(req.to_string()),
                });
            }
        }
        return Err(format!(
            "requirement {req:?} is a URL or path without a package name"
        ));
    }
    let name_end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(req.len());
    let name = &req[..name_end];
    let valid = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid {
        return Err(format!("not a valid requirement: {req:?}"));
    }
    let mut rest = req[name_end..].trim_start();
    if let Some(r) = rest.strip_prefix('[') {
        let close = r
            .find(']')
            .ok_or_else(|| format!("unclosed extras in {req:?}"))?;
        rest = r[close + 1..].trim_start();
    }
    if let Some(url) = rest.strip_prefix('@') {
        let url = url.trim();
        if url.is_empty() {
            return Err(format!("empty URL in {req:?}"));
        }
        return Ok(Pep508 {
            name: name.into(),
            spec: String::new(),
            pinned: None,
            url: Some(url.into()),
        });
    }
    let spec = rest
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim()
        .replace(' ', "");
    if !spec.is_empty() && !spec.starts_with(['=', '<', '>', '!', '~']) {
        return Err(format!("not a valid version specifier in {req:?}"));
    }
    let pinned = spec
        .strip_prefix("===")
        .or_else(|| spec.strip_prefix("=="))
        .filter(|v| !v.is_empty() && !v.contains([',', '*', '<', '>', '!', '=', '~']))
        .map(str::to_string);
    Ok(Pep508 {
        name: name.into(),
        spec,
        pinned,
        url: None,
    })
}

// ---------------------------------------------------------------- uv.lock

#[derive(Deserialize)]
struct UvLock {
    #[serde(default)]
    package: Vec<UvPackage>,
}

#[derive(Deserialize)]
struct UvPackage {
    name: String,
    version: Option<String>,
    #[serde(default)]
    source: BTreeMap<String, toml::Value>,
    #[serde(default)]
    dependencies: Vec<UvDep>,
    sdist: Option<UvArtifact>,
    #[serde(default)]
    wheels: Vec<UvArtifact>,
}

#[derive(Deserialize)]
struct UvDep {
    name: String,
    version: Option<String>,
}

#[derive(Deserialize)]
struct UvArtifact {
    url: Option<String>,
    hash: Option<String>,
}

/// Parse `uv.lock` (<https://docs.astral.sh/uv/concepts/projects/layout/#the-lockfile>).
pub fn parse_uv_lock(text: &str, file: &str) -> Result<Sbom> {
    let lock: UvLock = toml::from_str(text).map_err(|e| toml_err(&e, text, file))?;
    let mut sbom = Sbom::default();
    let mut refs: Vec<(String, Option<String>, String)> = Vec::new();
    for p in &lock.package {
        let local = ["editable", "virtual", "directory", "path"]
            .iter()
            .any(|k| p.source.contains_key(*k));
        let purl = Purl::pypi(&p.name, p.version.as_deref()).to_string();
        let mut c = Component {
            kind: if local {
                ComponentKind::Application
            } else {
                ComponentKind::Library
            },
            bom_ref: purl.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            purl: Some(purl.clone()),
            ..Component::default()
        };
        found_in(&mut c, file);
        for a in p.sdist.iter().chain(p.wheels.iter()) {
            if let Some(h) = a.hash.as_deref() {
                let h = Hash::parse_prefixed(h).ok_or_else(|| {
                    SbomError::parse(
                        file,
                        find_line(text, h),
                        format!("{}: malformed hash {h:?}", p.name),
                    )
                })?;
                c.hashes.push(h);
            }
        }
        if let Some(url) = p.sdist.as_ref().and_then(|s| s.url.clone()) {
            c.external_refs.push(ExternalRef {
                kind: "distribution".into(),
                url,
            });
        }
        if let Some(reg) = p.source.get("registry").and_then(|v| v.as_str()) {
            c.properties.insert("provenant:registry".into(), reg.into());
        }
        if p.version.is_none() && !local {
            sbom.warnings.push(Warning {
                file: file.into(),
                line: find_line(text, &format!("name = \"{}\"", p.name)),
                message: format!("package {} has no version", p.name),
            });
        }
        refs.push((pep503(&p.name), p.version.clone(), purl));
        sbom.add(c);
    }
    for (p, (_, _, from)) in lock.package.iter().zip(refs.iter()) {
        let deps = sbom.dependencies.entry(from.clone()).or_default();
        for d in &p.dependencies {
            let n = pep503(&d.name);
            let target = refs
                .iter()
                .filter(|(name, _, _)| *name == n)
                .find(|(_, v, _)| d.version.is_none() || *v == d.version);
            if let Some((_, _, to)) = target {
                deps.insert(to.clone());
            }
        }
    }
    Ok(sbom)
}

fn find_line(text: &str, needle: &str) -> usize {
    text.find(needle).map_or(0, |i| line_of(text, i))
}

// ---------------------------------------------------------------- poetry.lock

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<PoetryPackage>,
    metadata: Option<PoetryMetadata>,
}

#[derive(Deserialize)]
struct PoetryMetadata {
    #[serde(default)]
    files: BTreeMap<String, Vec<PoetryFile>>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: String,
    version: String,
    description: Option<String>,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    files: Vec<PoetryFile>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    source: Option<PoetrySource>,
}

#[derive(Deserialize)]
struct PoetryFile {
    hash: Option<String>,
}

#[derive(Deserialize)]
struct PoetrySource {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
}

/// Parse `poetry.lock` (lock-version 1.x and 2.x).
pub fn parse_poetry_lock(text: &str, file: &str) -> Result<Sbom> {
    let lock: PoetryLock = toml::from_str(text).map_err(|e| toml_err(&e, text, file))?;
    let legacy_files = lock.metadata.map(|m| m.files).unwrap_or_default();
    let mut sbom = Sbom::default();
    let mut by_name = BTreeMap::new();
    for p in &lock.package {
        let purl = Purl::pypi(&p.name, Some(&p.version)).to_string();
        let mut c = Component {
            bom_ref: purl.clone(),
            name: p.name.clone(),
            version: Some(p.version.clone()),
            purl: Some(purl.clone()),
            description: p.description.clone().filter(|d| !d.is_empty()),
            ..Component::default()
        };
        found_in(&mut c, file);
        let files = p
            .files
            .iter()
            .chain(legacy_files.get(&p.name).into_iter().flatten());
        for f in files {
            if let Some(h) = f.hash.as_deref() {
                c.hashes.push(Hash::parse_prefixed(h).ok_or_else(|| {
                    SbomError::parse(
                        file,
                        find_line(text, h),
                        format!("{}: malformed hash {h:?}", p.name),
                    )
                })?);
            }
        }
        if p.optional {
            c.properties
                .insert("provenant:optional".into(), "true".into());
        }
        if let Some(s) = &p.source {
            if let Some(k) = &s.kind {
                c.properties
                    .insert("provenant:source-type".into(), k.clone());
            }
            if let Some(u) = &s.url {
                c.properties.insert("provenant:registry".into(), u.clone());
            }
        }
        by_name.insert(pep503(&p.name), purl);
        sbom.add(c);
    }
    for p in &lock.package {
        let from = by_name[&pep503(&p.name)].clone();
        let deps = sbom.dependencies.entry(from).or_default();
        for (name, spec) in &p.dependencies {
            let optional = spec
                .as_table()
                .and_then(|t| t.get("optional"))
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            if optional {
                continue;
            }
            if let Some(to) = by_name.get(&pep503(name)) {
                deps.insert(to.clone());
            }
        }
    }
    Ok(sbom)
}

// ---------------------------------------------------------------- Pipfile.lock

#[derive(Deserialize)]
struct PipfileLock {
    #[serde(default)]
    default: BTreeMap<String, PipfileEntry>,
    #[serde(default)]
    develop: BTreeMap<String, PipfileEntry>,
}

#[derive(Deserialize)]
struct PipfileEntry {
    version: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    git: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

/// Parse `Pipfile.lock` (pipenv's JSON lock file).
pub fn parse_pipfile_lock(text: &str, file: &str) -> Result<Sbom> {
    let lock: PipfileLock = serde_json::from_str(text).map_err(|e| json_err(&e, file))?;
    let mut sbom = Sbom::default();
    for (scope, entries) in [("default", &lock.default), ("develop", &lock.develop)] {
        for (name, e) in entries {
            let version = e.version.as_deref().map(|v| {
                v.trim_start_matches("==")
                    .trim_start_matches('=')
                    .to_string()
            });
            let purl = Purl::pypi(name, version.as_deref()).to_string();
            let mut c = Component {
                bom_ref: purl.clone(),
                name: name.clone(),
                version: version.clone(),
                purl: Some(purl),
                ..Component::default()
            };
            found_in(&mut c, file);
            for h in &e.hashes {
                c.hashes.push(Hash::parse_prefixed(h).ok_or_else(|| {
                    SbomError::parse(
                        file,
                        find_line(text, h),
                        format!("{name}: malformed hash {h:?}"),
                    )
                })?);
            }
            if scope == "develop" {
                c.properties
                    .insert("provenant:scope".into(), "develop".into());
            }
            if let Some(g) = &e.git {
                c.external_refs.push(ExternalRef {
                    kind: "vcs".into(),
                    url: g.clone(),
                });
                if let Some(r) = &e.git_ref {
                    c.properties.insert("provenant:vcs-ref".into(), r.clone());
                }
            }
            if version.is_none() && e.git_ref.is_none() {
                sbom.warnings.push(Warning {
                    file: file.into(),
                    line: find_line(text, &format!("\"{name}\"")),
                    message: format!("{name} has no pinned version"),
                });
            }
            sbom.add(c);
        }
    }
    Ok(sbom)
}

// ---------------------------------------------------------------- Cargo.lock

#[derive(Deserialize)]
struct CargoLock {
    #[serde(default)]
    package: Vec<CargoPackage>,
}

#[derive(Deserialize)]
struct CargoPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

const CRATES_IO: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// Parse `Cargo.lock` (versions 1–4).
pub fn parse_cargo_lock(text: &str, file: &str) -> Result<Sbom> {
    let lock: CargoLock = toml::from_str(text).map_err(|e| toml_err(&e, text, file))?;
    let mut sbom = Sbom::default();
    let mut refs: Vec<(String, String, Option<String>, String)> = Vec::new();
    for p in &lock.package {
        let mut purl = Purl::new("cargo", &p.name).with_version(Some(&p.version));
        match p.source.as_deref() {
            None => {}
            Some(s) if CRATES_IO.contains(&s) => {}
            Some(s) if s.starts_with("git+") => {
                purl = purl.with_qualifier("vcs_url", Some(&s[4..]));
            }
            Some(s) => {
                let url = s.split_once('+').map_or(s, |(_, u)| u);
                purl = purl.with_qualifier("repository_url", Some(url));
            }
        }
        let purl = purl.to_string();
        let mut c = Component {
            kind: if p.source.is_none() {
                ComponentKind::Application
            } else {
                ComponentKind::Library
            },
            bom_ref: purl.clone(),
            name: p.name.clone(),
            version: Some(p.version.clone()),
            purl: Some(purl.clone()),
            ..Component::default()
        };
        found_in(&mut c, file);
        if let Some(cs) = &p.checksum {
            c.hashes.push(Hash::new(HashAlg::Sha256, cs).ok_or_else(|| {
                SbomError::parse(
                    file,
                    find_line(text, cs),
                    format!("{}: malformed checksum", p.name),
                )
            })?);
        }
        if p.source.is_none() {
            c.properties
                .insert("provenant:cargo:local".into(), "true".into());
        }
        refs.push((p.name.clone(), p.version.clone(), p.source.clone(), purl));
        sbom.add(c);
    }
    for (p, (_, _, _, from)) in lock.package.iter().zip(refs.iter()) {
        let deps = sbom.dependencies.entry(from.clone()).or_default();
        for d in &p.dependencies {
            // "name", "name version" or "name version (source)"
            let mut parts = d.splitn(3, ' ');
            let name = parts.next().unwrap_or_default();
            let version = parts.next();
            let source = parts
                .next()
                .map(|s| s.trim_start_matches('(').trim_end_matches(')'));
            let target = refs.iter().find(|(n, v, s, _)| {
                n == name
                    && version.is_none_or(|ver| ver == v)
                    && source.is_none_or(|src| s.as_deref() == Some(src))
            });
            match target {
                Some((_, _, _, to)) => {
                    deps.insert(to.clone());
                }
                None => {
                    return Err(SbomError::parse(
                        file,
                        find_line(text, &format!("\"{d}\"")),
                        format!("{} depends on {d:?}, which is not in the lock file", p.name),
                    ));
                }
            }
        }
    }
    Ok(sbom)
}

// ---------------------------------------------------------------- package-lock.json

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageLock {
    lockfile_version: Option<u64>,
    #[serde(default)]
    packages: BTreeMap<String, NpmPackage>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NpmPackage {
    name: Option<String>,
    version: Option<String>,
    resolved: Option<String>,
    integrity: Option<String>,
    license: Option<serde_json::Value>,
    #[serde(default)]
    link: bool,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    dependencies: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, serde_json::Value>,
}

/// Parse npm's `package-lock.json` (lockfileVersion 2 or 3: the `packages` map).
pub fn parse_package_lock(text: &str, file: &str) -> Result<Sbom> {
    let lock: PackageLock = serde_json::from_str(text).map_err(|e| json_err(&e, file))?;
    match lock.lockfile_version {
        Some(2 | 3) => {}
        other => {
            return Err(SbomError::Unsupported {
                file: file.into(),
                what: format!(
                    "package-lock.json lockfileVersion {} (only 2 and 3 are supported; run npm 7 or later)",
                    other.map_or_else(|| "missing".to_string(), |v| v.to_string())
                ),
            });
        }
    }
    let mut sbom = Sbom::default();
    // path key → bom_ref
    let mut refs: BTreeMap<&str, String> = BTreeMap::new();
    for (key, p) in &lock.packages {
        if p.link {
            continue;
        }
        let derived = key.rsplit_once("node_modules/").map(|(_, n)| n);
        let Some(full_name) = p.name.as_deref().or(derived).filter(|n| !n.is_empty()) else {
            if key.is_empty() {
                continue; // nameless root project
            }
            return Err(SbomError::parse(
                file,
                find_line(text, &format!("\"{key}\"")),
                format!("package {key:?} has no name"),
            ));
        };
        let (ns, name) = match full_name.split_once('/') {
            Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
            _ => (None, full_name),
        };
        let mut purl = Purl::new("npm", name).with_version(p.version.as_deref());
        if let Some(ns) = ns {
            purl = purl.with_namespace(ns);
        }
        let purl = purl.to_string();
        let local = key.is_empty() || !key.contains("node_modules/");
        let mut c = Component {
            kind: if local {
                ComponentKind::Application
            } else {
                ComponentKind::Library
            },
            bom_ref: purl.clone(),
            name: full_name.to_string(),
            version: p.version.clone(),
            purl: Some(purl.clone()),
            ..Component::default()
        };
        found_in(&mut c, file);
        if let Some(integrity) = &p.integrity {
            for sri in integrity.split_whitespace() {
                let h = sri
                    .split_once('-')
                    .and_then(|(alg, b64)| Some((HashAlg::parse(alg)?, b64_decode(b64)?)))
                    .and_then(|(alg, raw)| Hash::from_bytes(alg, &raw))
                    .ok_or_else(|| {
                        SbomError::parse(
                            file,
                            find_line(text, sri),
                            format!("{key}: malformed integrity {sri:?}"),
                        )
                    })?;
                c.hashes.push(h);
            }
        }
        if let Some(r) = p.resolved.as_deref().filter(|r| r.contains("://")) {
            c.external_refs.push(ExternalRef {
                kind: "distribution".into(),
                url: r.into(),
            });
        }
        if let Some(l) = p
            .license
            .as_ref()
            .and_then(|l| l.as_str())
            .and_then(license::normalize)
        {
            c.licenses.push(l);
        }
        if p.dev {
            c.properties.insert("provenant:scope".into(), "dev".into());
        }
        if p.optional {
            c.properties
                .insert("provenant:optional".into(), "true".into());
        }
        if p.version.is_none() && !local {
            sbom.warnings.push(Warning {
                file: file.into(),
                line: find_line(text, &format!("\"{key}\"")),
                message: format!("{key} has no version"),
            });
        }
        refs.insert(key.as_str(), purl);
        sbom.add(c);
    }
    // Links: node_modules/x → the workspace directory it points at.
    let links: BTreeMap<&str, &str> = lock
        .packages
        .iter()
        .filter(|(_, p)| p.link)
        .filter_map(|(k, p)| Some((k.as_str(), p.resolved.as_deref()?)))
        .collect();
    for (key, p) in &lock.packages {
        let Some(from) = refs.get(key.as_str()).cloned() else {
            continue;
        };
        let deps = sbom.dependencies.entry(from).or_default();
        for dep in p.dependencies.keys().chain(p.optional_dependencies.keys()) {
            if let Some(to) = resolve_node(key, dep, &refs, &links) {
                deps.insert(to);
            }
        }
    }
    Ok(sbom)
}

/// Node's module resolution inside the lock file: look in `<key>/node_modules/<dep>`, then in
/// each ancestor's `node_modules`, up to the root.
fn resolve_node(
    key: &str,
    dep: &str,
    refs: &BTreeMap<&str, String>,
    links: &BTreeMap<&str, &str>,
) -> Option<String> {
    let mut base = key.to_string();
    loop {
        let candidate = if base.is_empty() {
            format!("node_modules/{dep}")
        } else {
            format!("{base}/node_modules/{dep}")
        };
        if let Some(r) = refs.get(candidate.as_str()) {
            return Some(r.clone());
        }
        if let Some(target) = links.get(candidate.as_str()) {
            return refs.get(target).cloned();
        }
        if base.is_empty() {
            return None;
        }
        base = match base.rfind("/node_modules/") {
            Some(i) => base[..i].to_string(),
            None => String::new(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the lockfile fuzz target: an option whose second character
    /// is multi-byte was split inside that character (a panic).
    #[test]
    fn short_options_are_not_split_inside_a_character() {
        for text in [
            "-\u{204}\n",
            "0-\u{feff}\r",
            "-\u{feff}x.txt\n",
            "-\u{1f600}\n",
        ] {
            let _ = parse_requirements(text, "requirements.txt");
        }
        let (_, inc) = parse_requirements("-rother.txt\n", "requirements.txt").unwrap();
        assert_eq!(inc, vec![(1, "other.txt".to_string())]);
    }

    #[test]
    fn requirements_pinned_unpinned_hashes() {
        let text = "# comment\nrequests==2.31.0 \\\n    --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f\nflask>=2 ; python_version > '3'\n-r other.txt\n--index-url https://x\nnumpy[extra] == 1.26.4  # pinned\n";
        let (sbom, inc) = parse_requirements(text, "requirements.txt").unwrap();
        assert_eq!(inc, vec![(5, "other.txt".to_string())]);
        let r = sbom.component("pkg:pypi/requests@2.31.0").unwrap();
        assert_eq!(r.hashes.len(), 1);
        let f = sbom.component("pkg:pypi/flask").unwrap();
        assert_eq!(f.version, None);
        assert_eq!(f.properties["provenant:pinned"], "false");
        assert!(sbom.component("pkg:pypi/numpy@1.26.4").is_some());
        assert_eq!(sbom.warnings.len(), 1);
        assert_eq!(sbom.warnings[0].line, 4);
    }

    #[test]
    fn requirements_errors_name_the_line() {
        let e = parse_requirements("ok==1\n\n!!bad\n", "r.txt").unwrap_err();
        assert!(matches!(e, SbomError::Parse { line: 3, .. }), "{e}");
        let e = parse_requirements("x==1 --hash=md5:abc\n", "r.txt").unwrap_err();
        assert!(e.to_string().contains("r.txt:1"), "{e}");
    }

    #[test]
    fn cargo_lock_errors_have_lines() {
        let e = parse_cargo_lock(
            "version = 4\n\n[[package]]\nversion = \"1\"\n",
            "Cargo.lock",
        )
        .unwrap_err();
        assert!(matches!(e, SbomError::Parse { line: 3, .. }), "{e}");
        let e = parse_cargo_lock(
            "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\ndependencies = [\"ghost\"]\n",
            "Cargo.lock",
        )
        .unwrap_err();
        assert!(e.to_string().contains("ghost"), "{e}");
    }

    #[test]
    fn package_lock_v3_resolution() {
        let text = r#"{"name":"app","lockfileVersion":3,"packages":{
            "":{"name":"app","version":"1.0.0","dependencies":{"a":"^1","@s/b":"^2"}},
            "node_modules/a":{"version":"1.0.1","integrity":"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==","license":"MIT","dependencies":{"@s/b":"^1"}},
            "node_modules/a/node_modules/@s/b":{"version":"1.9.0"},
            "node_modules/@s/b":{"version":"2.0.0","dev":true}}}"#;
        let sbom = parse_package_lock(text, "package-lock.json").unwrap();
        assert_eq!(sbom.components.len(), 4);
        let a = "pkg:npm/a@1.0.1";
        assert!(sbom.dependencies[a].contains("pkg:npm/%40s/b@1.9.0"));
        assert!(sbom.dependencies["pkg:npm/app@1.0.0"].contains("pkg:npm/%40s/b@2.0.0"));
        assert_eq!(sbom.component(a).unwrap().hashes[0].alg, HashAlg::Sha512);
        let e = parse_package_lock(r#"{"lockfileVersion":1}"#, "package-lock.json").unwrap_err();
        assert!(e.to_string().contains("lockfileVersion 1"));
    }

    #[test]
    fn uv_and_poetry() {
        let uv = r#"version = 1
[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "idna" }]

[[package]]
name = "idna"
version = "3.7"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.example/idna-3.7.tar.gz", hash = "sha256:028ff3aadf0609c1fd278d8ea3089299412a7a8b9bd005dd08b9f8285bcb5cfc", size = 1 }
"#;
        let s = parse_uv_lock(uv, "uv.lock").unwrap();
        assert!(s.dependencies["pkg:pypi/app@0.1.0"].contains("pkg:pypi/idna@3.7"));
        assert_eq!(
            s.component("pkg:pypi/app@0.1.0").unwrap().kind,
            ComponentKind::Application
        );
        let poetry = r#"[[package]]
name = "idna"
version = "3.7"
description = ""
optional = false
python-versions = ">=3.5"
files = [{file = "idna-3.7.tar.gz", hash = "sha256:028ff3aadf0609c1fd278d8ea3089299412a7a8b9bd005dd08b9f8285bcb5cfc"}]

[[package]]
name = "requests"
version = "2.32.0"
description = "HTTP"
optional = false
python-versions = ">=3.8"
files = []

[package.dependencies]
idna = ">=2.5,<4"
socks = {version = "*", optional = true}
"#;
        let s = parse_poetry_lock(poetry, "poetry.lock").unwrap();
        assert_eq!(
            s.dependencies["pkg:pypi/requests@2.32.0"]
                .iter()
                .collect::<Vec<_>>(),
            vec!["pkg:pypi/idna@3.7"]
        );
        let e = parse_poetry_lock("[[package]]\nname = 3\n", "poetry.lock").unwrap_err();
        assert!(matches!(e, SbomError::Parse { line: 2, .. }), "{e}");
    }

    #[test]
    fn pipfile_lock() {
        let t = r#"{"_meta":{},"default":{"six":{"hashes":["sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"],"version":"==1.16.0"}},"develop":{}}"#;
        let s = parse_pipfile_lock(t, "Pipfile.lock").unwrap();
        assert_eq!(s.component("pkg:pypi/six@1.16.0").unwrap().hashes.len(), 1);
        let e = parse_pipfile_lock("{\n\"default\": [}", "Pipfile.lock").unwrap_err();
        assert!(matches!(e, SbomError::Parse { line: 2, .. }), "{e}");
    }
}
