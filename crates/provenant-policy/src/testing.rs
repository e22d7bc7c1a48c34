//! Rego unit tests as `opa test` runs them, and `check`: compile every
//! module and report every error.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use regorus::utils::limits::ExecutionTimerConfig;

use crate::PolicyError;
use crate::set::{new_engine, prepare, rule_path};
use crate::source::{DataSource, ModuleSource, merge_data};

/// Time limit of one test unless configured otherwise.
pub const DEFAULT_TEST_TIME_LIMIT: Duration = Duration::from_secs(5);

/// How one test ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestOutcome {
    /// Defined and `true`.
    Pass,
    /// Undefined, or a value other than `true`.
    Fail,
    /// A runtime error (or the time limit), with its message.
    Error(String),
    /// A `todo_test_` rule: not run.
    Skip,
}

/// One test's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    /// The module declaring it.
    pub file: String,
    /// Its package, e.g. `provenant.signed_test`.
    pub package: String,
    /// The rule name, e.g. `test_unsigned_is_denied`.
    pub name: String,
    /// The outcome.
    pub outcome: TestOutcome,
    /// How long it ran.
    pub duration: Duration,
}

impl TestResult {
    /// `data.<package>.<name>`, as `opa test` names it.
    pub fn full_name(&self) -> String {
        format!("data.{}.{}", self.package, self.name)
    }
}

/// The results of a test run, in module order then declaration order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestReport {
    /// One per test.
    pub results: Vec<TestResult>,
}

impl TestReport {
    fn count(&self, f: impl Fn(&TestOutcome) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.outcome)).count()
    }

    /// Tests that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| *o == TestOutcome::Pass)
    }

    /// Tests that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| *o == TestOutcome::Fail)
    }

    /// Tests that ended in an error.
    pub fn errored(&self) -> usize {
        self.count(|o| matches!(o, TestOutcome::Error(_)))
    }

    /// Tests skipped (`todo_test_`).
    pub fn skipped(&self) -> usize {
        self.count(|o| *o == TestOutcome::Skip)
    }

    /// Whether no test failed or errored.
    pub fn success(&self) -> bool {
        self.failed() == 0 && self.errored() == 0
    }

    /// The report as `opa test` prints it: failures and errors (every test
    /// with `verbose`) under their file, then the summary (`PASS: n/n`, or
    /// `PASS`/`FAIL`/`ERROR`/`SKIPPED` counts out of the total).
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        let mut file = None;
        for r in &self.results {
            let word = match &r.outcome {
                TestOutcome::Pass if !verbose => continue,
                TestOutcome::Pass => "PASS".to_owned(),
                TestOutcome::Fail => "FAIL".to_owned(),
                TestOutcome::Skip => "SKIPPED".to_owned(),
                TestOutcome::Error(e) => format!("ERROR\n  {}", e.replace('\n', "\n  ")),
            };
            if file != Some(&r.file) {
                if file.is_some() {
                    out.push('\n');
                }
                let _ = writeln!(out, "{}:", r.file);
                file = Some(&r.file);
            }
            let _ = writeln!(out, "{}: {word} ({:?})", r.full_name(), r.duration);
        }
        let total = self.results.len();
        if total == 0 {
            out.push_str("no tests found\n");
            return out;
        }
        if !out.is_empty() {
            let _ = writeln!(out, "{}", "-".repeat(80));
        }
        for (word, n) in [
            ("PASS", self.passed()),
            ("FAIL", self.failed()),
            ("SKIPPED", self.skipped()),
            ("ERROR", self.errored()),
        ] {
            if n > 0 {
                let _ = writeln!(out, "{word}: {n}/{total}");
            }
        }
        out
    }
}

/// Runs every `test_*` rule of every module (test modules included) with
/// `data` loaded, each with its own time limit. A test passes when it is
/// defined and `true`, as in `opa test`.
///
/// # Errors
/// When the modules do not compile or the data does not merge (no test runs).
pub fn run_tests(
    modules: &[ModuleSource],
    data: &[DataSource],
    time_limit: Duration,
) -> Result<TestReport, PolicyError> {
    let merged = merge_data(data)?;
    let mut engine = new_engine(time_limit);
    engine
        .add_data(regorus::Value::from(merged))
        .map_err(|e| PolicyError::Data {
            file: "<merged data>".into(),
            reason: e.to_string(),
        })?;
    let mut modules: Vec<&ModuleSource> = modules.iter().collect();
    modules.sort_by(|a, b| a.path.cmp(&b.path));
    for m in &modules {
        engine
            .add_policy(m.path.clone(), m.text.clone())
            .map_err(|e| PolicyError::from_engine(&m.path, &e))?;
    }
    prepare(&mut engine)?;
    let packages = engine
        .get_policy_package_components()
        .map_err(|e| PolicyError::from_engine("<policy set>", &e))?;

    let mut report = TestReport::default();
    let mut seen = std::collections::BTreeSet::new();
    for m in &modules {
        let Some(package) = packages.iter().find(|p| p.source_file == m.path) else {
            continue;
        };
        for name in test_candidates(&m.text) {
            let declared = engine
                .has_declared_rule_rooted_at(&m.path, name)
                .unwrap_or(false);
            let key = (package.components.clone(), name.to_owned());
            if !declared || !seen.insert(key) {
                continue;
            }
            let started = Instant::now();
            let outcome = if name.starts_with("todo_") {
                TestOutcome::Skip
            } else {
                let mut e = engine.clone();
                e.set_execution_timer_config(ExecutionTimerConfig {
                    limit: time_limit,
                    check_interval: std::num::NonZeroU32::MIN,
                });
                match e.eval_rule(rule_path(&package.components, name)) {
                    Ok(regorus::Value::Bool(true)) => TestOutcome::Pass,
                    Ok(_) => TestOutcome::Fail,
                    Err(err) => TestOutcome::Error(err.to_string().trim().to_owned()),
                }
            };
            report.results.push(TestResult {
                file: m.path.clone(),
                package: package.components.join("."),
                name: name.to_owned(),
                outcome,
                duration: started.elapsed(),
            });
        }
    }
    Ok(report)
}

/// Identifiers in `text` that may name tests (`test_…`, `todo_test_…`), in
/// order of first appearance; the engine confirms which are rules.
fn test_candidates(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if is_ident(bytes[i]) && (i == 0 || !is_ident(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            if (word.starts_with("test_") || word.starts_with("todo_test_")) && !out.contains(&word)
            {
                out.push(word);
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Compiles every module (tests included) and returns the errors with file
/// and line where the compiler gives them: the parse error of each file that
/// does not parse, else the first compile error of the set as a whole
/// (modules of one package may span files, so they are analysed together).
pub fn check(modules: &[ModuleSource]) -> Vec<PolicyError> {
    let mut errors = Vec::new();
    let mut sorted: Vec<&ModuleSource> = modules.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut engine = new_engine(DEFAULT_TEST_TIME_LIMIT);
    for m in &sorted {
        if let Err(e) = engine.add_policy(m.path.clone(), m.text.clone()) {
            errors.push(PolicyError::from_engine(&m.path, &e));
        }
    }
    if errors.is_empty() {
        errors.extend(crate::calls::unknown_calls(&sorted));
    }
    if errors.is_empty()
        && let Err(e) = prepare(&mut engine)
    {
        errors.push(e);
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_whole_identifiers_in_order() {
        let text = "test_a if true\nx := my_test_b\ntodo_test_c if 1\ntest_a if false";
        assert_eq!(test_candidates(text), vec!["test_a", "todo_test_c"]);
    }
}
