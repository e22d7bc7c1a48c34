//! The Rego unit test runner and `check`.

use std::time::Duration;

use provenant_policy::{PolicyError, TestOutcome, check, run_tests};

use crate::modules;

const POLICY: &str = "package provenant.p\n\ndeny contains \"d\" if input.bad\n";
const TESTS: &str = r#"package provenant.p_test

import data.provenant.p

test_denies_bad if {
	p.deny == {"d"} with input as {"bad": true}
}

test_fails if {
	p.deny == {"d"} with input as {}
}

test_undefined if {
	input.nothing
}

todo_test_later if false

test_slow if {
	xs := [x | some x in numbers.range(1, 10000); some y in numbers.range(1, 10000)]
	count(xs) > 0
}
"#;

#[test]
fn tests_pass_fail_error_and_skip_as_opa_reports_them() {
    let m = modules(&[("p.rego", POLICY), ("p_test.rego", TESTS)]);
    let report = run_tests(&m, &[], Duration::from_millis(100)).unwrap();
    let outcomes: Vec<(String, &TestOutcome)> = report
        .results
        .iter()
        .map(|r| (r.full_name(), &r.outcome))
        .collect();
    assert_eq!(outcomes.len(), 5, "{outcomes:?}");
    assert_eq!(
        outcomes[0],
        (
            "data.provenant.p_test.test_denies_bad".into(),
            &TestOutcome::Pass
        )
    );
    assert_eq!(outcomes[1].1, &TestOutcome::Fail);
    assert_eq!(outcomes[2].1, &TestOutcome::Fail);
    assert_eq!(outcomes[3].1, &TestOutcome::Skip);
    assert!(
        matches!(outcomes[4].1, TestOutcome::Error(e) if e.contains("time limit")),
        "{:?}",
        outcomes[4]
    );
    assert!(!report.success());
    let text = report.render(false);
    assert!(text.contains("p_test.rego:\n"), "{text}");
    assert!(
        text.contains("data.provenant.p_test.test_fails: FAIL ("),
        "{text}"
    );
    assert!(!text.contains("test_denies_bad"), "{text}");
    assert!(
        text.ends_with("PASS: 1/5\nFAIL: 2/5\nSKIPPED: 1/5\nERROR: 1/5\n"),
        "{text}"
    );
    assert!(
        report
            .render(true)
            .contains("data.provenant.p_test.test_denies_bad: PASS (")
    );

    let ok = modules(&[
        ("p.rego", POLICY),
        (
            "p_test.rego",
            "package provenant.p_test\n\nimport data.provenant.p\n\ntest_a if p.deny == {\"d\"} with input as {\"bad\": true}\n",
        ),
    ]);
    let report = run_tests(&ok, &[], Duration::from_secs(5)).unwrap();
    assert!(report.success());
    assert_eq!(report.render(false), "PASS: 1/1\n");
}

#[test]
fn check_reports_every_parse_error_then_the_compile_error() {
    let parse = modules(&[
        (
            "a.rego",
            "package provenant.a\n\ndeny contains \"x\" if {\n  y ==\n}\n",
        ),
        (
            "b_test.rego",
            "package provenant.b_test\n\ntest_x if {\n  1 +\n}\n",
        ),
        ("ok.rego", POLICY),
    ]);
    let located = |errors: &[PolicyError]| -> Vec<(String, u32)> {
        errors
            .iter()
            .filter_map(|e| match e {
                PolicyError::Compile { path, line, .. } => Some((path.clone(), *line)),
                _ => None,
            })
            .collect()
    };
    let errors = check(&parse);
    assert_eq!(
        located(&errors),
        [("a.rego".to_owned(), 5), ("b_test.rego".to_owned(), 5)],
        "{errors:?}"
    );
    let unsafe_var = modules(&[
        (
            "a.rego",
            "package provenant.a\n\ndeny contains \"x\" if {\n  y == 1\n}\n",
        ),
        ("ok.rego", POLICY),
    ]);
    assert_eq!(located(&check(&unsafe_var)), [("a.rego".to_owned(), 4)]);
    // A test module using its package's rules from another file is fine.
    let split = modules(&[
        ("p.rego", POLICY),
        (
            "p_test.rego",
            "package provenant.p\n\ntest_d if deny == {\"d\"} with input as {\"bad\": true}\n",
        ),
    ]);
    assert!(check(&split).is_empty(), "{:?}", check(&split));
}
