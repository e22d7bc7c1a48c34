//! The README and `docs/` stay true to the CLI: every `provenant` command
//! shown in a ```sh block parses with the binary's own clap definition,
//! every subcommand is shown at least once, the README opens with its two
//! commands, and its quick start runs, as written, against a real server.

use std::path::{Path, PathBuf};
use std::process::Command;

use provenant_cli::{Cli, Parser};

/// The workspace root (this crate is `crates/provenant`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// README.md, then every `docs/*.md` in name order.
fn documents() -> Vec<(String, String)> {
    let root = root();
    let mut names = vec!["README.md".to_owned()];
    let mut docs: Vec<String> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    names.extend(docs);
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(root.join(&n)).unwrap();
            (n, text)
        })
        .collect()
}

/// The ```sh blocks of a Markdown text: each as (1-based line number, line) pairs.
fn sh_blocks(text: &str) -> Vec<Vec<(usize, &str)>> {
    let mut blocks = Vec::new();
    let mut current: Option<(bool, Vec<(usize, &str)>)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut current, fence) {
            (None, Some(lang)) => {
                let sh = matches!(lang.trim(), "sh" | "bash" | "shell");
                current = Some((sh, Vec::new()));
            }
            (Some(_), Some(_)) => {
                if let Some((true, lines)) = current.take() {
                    blocks.push(lines);
                }
            }
            (Some((_, lines)), None) => lines.push((i + 1, line)),
            (None, None) => {}
        }
    }
    assert!(current.is_none(), "a ``` block is not closed");
    blocks
}

/// What a shell line holds: its simple commands (words with quotes removed,
/// comments and redirections dropped; `|`, `&&`, `||`, `;` and `&` separate
/// commands), the text of each `$(…)` in it, and the delimiters of the here
/// documents it opens.
#[derive(Default)]
struct Lexed {
    commands: Vec<Vec<String>>,
    substitutions: Vec<String>,
    heredocs: Vec<String>,
}

/// The text of a `$(…)` starting after its `$(`; returns it and what follows it.
fn substitution(rest: &str) -> Result<(&str, &str), String> {
    let mut depth = 1;
    let mut quote = None;
    for (i, c) in rest.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return Ok((&rest[..i], &rest[i + 1..]));
                }
            }
            _ => {}
        }
    }
    Err("unclosed $(".into())
}

/// A word being read, and what the words so far make.
#[derive(Default)]
struct Lexer {
    out: Lexed,
    command: Vec<String>,
    word: Option<String>,
    /// The word being read is the target of a redirection (dropped).
    redirect: bool,
    /// The word being read is a here-document's delimiter.
    heredoc: bool,
}

impl Lexer {
    fn push(&mut self, s: &str) {
        self.word.get_or_insert_default().push_str(s);
    }

    fn end_word(&mut self) {
        if let Some(w) = self.word.take() {
            if self.heredoc {
                self.out.heredocs.push(w.trim_start_matches('-').to_owned());
            } else if !self.redirect {
                self.command.push(w);
            }
            self.redirect = false;
            self.heredoc = false;
        }
    }

    fn end_command(&mut self) {
        self.end_word();
        if !self.command.is_empty() {
            self.out.commands.push(std::mem::take(&mut self.command));
        }
    }

    /// A `$(…)` starting after its `$(`: kept in the word as written, its
    /// text read again as commands; returns what follows it.
    fn substitution<'a>(&mut self, rest: &'a str) -> Result<&'a str, String> {
        let (inner, after) = substitution(rest)?;
        self.out.substitutions.push(inner.to_owned());
        self.push(&format!("$({inner})"));
        Ok(after)
    }
}

fn lex(line: &str) -> Result<Lexed, String> {
    let mut lx = Lexer::default();
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        match c {
            ' ' | '\t' => {
                lx.end_word();
                rest = after;
            }
            '#' if lx.word.is_none() => break,
            '|' | '&' | ';' => {
                lx.end_command();
                rest = after.trim_start_matches(['|', '&']);
            }
            '<' | '>' => {
                // `2>`: the 2 is part of the operator.
                if lx.word.as_deref() == Some("2") {
                    lx.word = None;
                }
                lx.end_word();
                if c == '<' && after.starts_with('<') {
                    lx.heredoc = true;
                    rest = &after[1..];
                } else {
                    lx.redirect = true;
                    rest = after.trim_start_matches('>');
                }
                // `2>&1`, `>&2`: no word follows.
                if let Some(r) = rest.strip_prefix('&') {
                    lx.redirect = false;
                    rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
                }
            }
            '\'' => {
                let end = after.find('\'').ok_or("unclosed '")?;
                lx.push(&after[..end]);
                rest = &after[end + 1..];
            }
            '"' => {
                let mut s = after;
                loop {
                    let c = s.chars().next().ok_or("unclosed \"")?;
                    let next = &s[c.len_utf8()..];
                    match c {
                        '"' => {
                            s = next;
                            break;
                        }
                        '\\' => {
                            let e = next.chars().next().ok_or("trailing \\")?;
                            if !matches!(e, '"' | '\\' | '$' | '`') {
                                lx.push("\\");
                            }
                            lx.push(e.encode_utf8(&mut [0; 4]));
                            s = &next[e.len_utf8()..];
                        }
                        '$' if next.starts_with('(') => s = lx.substitution(&next[1..])?,
                        c => {
                            lx.push(c.encode_utf8(&mut [0; 4]));
                            s = next;
                        }
                    }
                }
                // `""` is a word too.
                lx.push("");
                rest = s;
            }
            '$' if after.starts_with('(') => rest = lx.substitution(&after[1..])?,
            '\\' => {
                let e = after.chars().next().ok_or("trailing \\")?;
                lx.push(e.encode_utf8(&mut [0; 4]));
                rest = &after[e.len_utf8()..];
            }
            c => {
                lx.push(c.encode_utf8(&mut [0; 4]));
                rest = after;
            }
        }
    }
    lx.end_command();
    Ok(lx.out)
}

/// A shown command: where it is and its words, `provenant` first.
struct Shown {
    at: String,
    text: String,
    words: Vec<String>,
}

/// The argument vector of a simple command when it runs the binary:
/// `provenant …` (after any `NAME=value` assignments), or `cargo run … -- …`.
fn as_provenant(words: &[String]) -> Option<Vec<String>> {
    let start = words
        .iter()
        .position(|w| !is_assignment(w))
        .unwrap_or(words.len());
    let words = &words[start..];
    match words {
        [first, ..] if first == "provenant" => Some(words.to_vec()),
        [cargo, run, ..] if cargo == "cargo" && run == "run" => {
            let dashes = words.iter().position(|w| w == "--")?;
            Some(
                std::iter::once("provenant".to_owned())
                    .chain(words[dashes + 1..].iter().cloned())
                    .collect(),
            )
        }
        _ => None,
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Every command a document shows in its ```sh blocks (also inside `$(…)`).
fn shown_commands(file: &str, text: &str) -> Result<Vec<Shown>, String> {
    let mut shown = Vec::new();
    for block in sh_blocks(text) {
        let mut lines = block.into_iter();
        while let Some((number, line)) = lines.next() {
            // Continuation lines join the line they continue.
            let mut logical = line.to_owned();
            while logical.ends_with('\\') {
                logical.pop();
                match lines.next() {
                    Some((_, next)) => logical.push_str(next),
                    None => return Err(format!("{file}:{number}: a `\\` continues nothing")),
                }
            }
            let at = format!("{file}:{number}");
            let mut pending = vec![logical.clone()];
            let mut heredocs = Vec::new();
            while let Some(source) = pending.pop() {
                let lexed = lex(&source).map_err(|e| format!("{at}: {e}: {logical}"))?;
                for words in &lexed.commands {
                    if let Some(words) = as_provenant(words) {
                        shown.push(Shown {
                            at: at.clone(),
                            text: logical.trim().to_owned(),
                            words,
                        });
                    }
                }
                pending.extend(lexed.substitutions);
                heredocs.extend(lexed.heredocs);
            }
            // A here-document's body is data, not commands.
            for delimiter in heredocs {
                if !lines.by_ref().any(|(_, l)| l.trim() == delimiter) {
                    return Err(format!("{at}: here-document {delimiter} is not closed"));
                }
            }
        }
    }
    Ok(shown)
}

fn all_shown() -> Vec<Shown> {
    let mut all = Vec::new();
    for (file, text) in documents() {
        all.extend(shown_commands(&file, &text).unwrap());
    }
    all
}

/// Every leaf subcommand path of the CLI (`push`, `alias set`, …) and the path
/// a command line names.
fn subcommands<T: Parser>() -> Vec<String> {
    let mut leaves = Vec::new();
    let mut stack = vec![(String::new(), T::command())];
    while let Some((path, cmd)) = stack.pop() {
        let subs: Vec<_> = cmd
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .cloned()
            .collect();
        if subs.is_empty() {
            leaves.push(path);
            continue;
        }
        for s in subs {
            let name = s.get_name().to_owned();
            let p = if path.is_empty() {
                name
            } else {
                format!("{path} {name}")
            };
            stack.push((p, s));
        }
    }
    leaves.sort();
    leaves
}

fn path_of<T: Parser>(words: &[String]) -> String {
    let mut cmd = T::command();
    let mut path = Vec::new();
    for w in words.iter().skip(1).filter(|w| !w.starts_with('-')) {
        let Some(sub) = cmd.find_subcommand(w).cloned() else {
            break;
        };
        path.push(w.clone());
        cmd = sub;
    }
    path.join(" ")
}

#[test]
fn every_documented_command_parses() {
    let shown = all_shown();
    let mut failures = Vec::new();
    for s in &shown {
        if let Err(e) = Cli::try_parse_from(&s.words) {
            failures.push(format!(
                "{}: {}\n{}",
                s.at,
                s.text,
                e.to_string().trim_end()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} documented commands do not parse:\n\n{}",
        failures.len(),
        shown.len(),
        failures.join("\n\n")
    );
    // The extraction itself works: the README alone shows a dozen.
    let in_readme = shown
        .iter()
        .filter(|s| s.at.starts_with("README.md:"))
        .count();
    assert!(
        in_readme >= 12,
        "only {in_readme} commands found in README.md"
    );
    eprintln!("{} documented commands parse", shown.len());
}

#[test]
fn every_subcommand_is_documented() {
    let shown = all_shown();
    let covered: std::collections::BTreeSet<String> =
        shown.iter().map(|s| path_of::<Cli>(&s.words)).collect();
    let missing: Vec<String> = subcommands::<Cli>()
        .into_iter()
        .filter(|c| !covered.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "no ```sh example in README.md or docs/ runs: {}",
        missing.join(", ")
    );
}

#[test]
fn readme_opens_with_the_two_commands() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let first = sh_blocks(&text).into_iter().next().unwrap();
    let commands: Vec<&str> = first
        .iter()
        .map(|(_, l)| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        commands[..2],
        ["cargo run --release -- serve", "cargo test --workspace"]
    );
}

#[test]
fn links_between_documents_resolve() {
    let root = root();
    let mut broken = Vec::new();
    for (file, text) in documents() {
        let dir = root.join(&file).parent().unwrap().to_path_buf();
        for (i, line) in text.lines().enumerate() {
            for part in line.split("](").skip(1) {
                let target = part.split(')').next().unwrap_or("");
                if target.contains("://")
                    || target.starts_with('#')
                    || target.starts_with("mailto:")
                {
                    continue;
                }
                let path = target.split('#').next().unwrap_or("");
                if !dir.join(path).exists() {
                    broken.push(format!("{file}:{}: {target}", i + 1));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The README's quick start (the block after `<!-- quick-start -->`) runs as
/// written against a server on the embedded default.
#[test]
fn readme_quick_start_runs() {
    for tool in ["bash", "git"] {
        if Command::new(tool).arg("--version").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{tool} is needed under CI"
            );
            eprintln!("SKIPPED: readme_quick_start_runs needs {tool}");
            return;
        }
    }
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let (_, after) = text
        .split_once("<!-- quick-start -->")
        .expect("README.md marks its quick start with <!-- quick-start -->");
    let block = sh_blocks(after).into_iter().next().unwrap();
    let script: String = block.iter().map(|(_, l)| format!("{l}\n")).collect();

    let dir = tempfile::tempdir().unwrap();
    let s = super::start(dir.path(), None);
    let work = dir.path().join("demo");
    std::fs::create_dir_all(&work).unwrap();
    // A person types slower than the sequencer: the log commands first wait
    // until every change so far is in a checkpoint.
    let prelude = r#"set -euo pipefail
provenant() {
    case "$1" in
    log | audit)
        for _ in $(seq 1 300); do
            out=$("$PROVENANT_BIN" audit export)
            case "$out" in *'"outcome":"pending"'*) sleep 0.1 ;; *) break ;; esac
        done ;;
    esac
    "$PROVENANT_BIN" "$@"
}
"#;
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .current_dir(&work)
        .env("PROVENANT_BIN", super::BIN)
        .env("PROVENANT_URL", &s.url)
        .env("PROVENANT_TOKEN", &s.token)
        .env("PROVENANT_CONFIG", dir.path().join("no-config.toml"))
        .env("PROVENANT_STATE_DIR", dir.path().join("state"))
        .env_remove("PROVENANT_LOG_KEY")
        .env_remove("PROVENANT_IMAGE_DIGEST")
        .env_remove("VIRTUAL_ENV")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Quick Start")
        .env("GIT_AUTHOR_EMAIL", "quick@example.com")
        .env("GIT_COMMITTER_NAME", "Quick Start")
        .env("GIT_COMMITTER_EMAIL", "quick@example.com")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the README's quick start failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What it says it shows: a trusted signature and provenance, a proof, an audit.
    assert!(stdout.contains("[trusted]"), "{stdout}");
    assert!(stdout.contains("included: index"), "{stdout}");
    assert!(stdout.contains("audit passed"), "{stdout}");
}

#[test]
fn the_shell_reader_reads_shell() {
    let l =
        lex(r#"provenant log prove "$(provenant log key)" --x 'a b' > out.txt 2>&1 | head # c"#)
            .unwrap();
    assert_eq!(
        l.commands,
        vec![
            vec![
                "provenant",
                "log",
                "prove",
                "$(provenant log key)",
                "--x",
                "a b"
            ],
            vec!["head"]
        ]
    );
    assert_eq!(l.substitutions, ["provenant log key"]);
    let l = lex("cat > meta.yaml <<'YAML' && FOO=1 provenant push m --model a/b < in").unwrap();
    assert_eq!(l.heredocs, ["YAML"]);
    assert_eq!(
        l.commands,
        vec![
            vec!["cat"],
            vec!["FOO=1", "provenant", "push", "m", "--model", "a/b"]
        ]
    );
    assert_eq!(
        as_provenant(&l.commands[1]).unwrap(),
        ["provenant", "push", "m", "--model", "a/b"]
    );
    let shown = shown_commands(
        "x.md",
        "```sh\ncat <<EOF\nprovenant nothing\nEOF\nprovenant push a \\\n    --model b/c\n```\n",
    )
    .unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].at, "x.md:5");
    assert_eq!(shown[0].words, ["provenant", "push", "a", "--model", "b/c"]);
}

#[test]
fn a_wrong_flag_is_caught() {
    let shown = shown_commands(
        "x.md",
        "```sh\nprovenant push ./model --modle aiops/anomaly\nprovenant list --state retired\n```\n",
    )
    .unwrap();
    for s in &shown {
        let err = Cli::try_parse_from(&s.words).unwrap_err().to_string();
        assert!(err.contains("--modle") || err.contains("retired"), "{err}");
    }
    assert_eq!(shown.len(), 2);
}
