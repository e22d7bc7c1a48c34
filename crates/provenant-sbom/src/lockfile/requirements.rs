//! pip requirements files (<https://pip.pypa.io/en/stable/reference/requirements-file-format/>),
//! with `-r` includes, hashes and PEP 508 requirement specifiers.

use std::collections::BTreeSet;
use std::path::Path;

use super::{found_in, read_text};
use crate::error::{Result, SbomError};
use crate::model::{Component, ExternalRef, Hash, Sbom, Warning};
use crate::purl::Purl;

const MAX_INCLUDE_DEPTH: usize = 16;

pub(super) fn requirements_file(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
