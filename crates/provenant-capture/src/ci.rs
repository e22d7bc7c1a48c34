//! The CI run a recipe is captured in, from the CI system's environment
//! variables.

use provenant_provenance::CiIdentity;

/// Detects the CI run from environment variables (GitHub Actions, GitLab CI,
/// Buildkite, Jenkins). `var` reads one variable (`std::env::var` in practice).
pub fn detect_ci(var: &dyn Fn(&str) -> Option<String>) -> Option<CiIdentity> {
    let v = |k: &str| var(k).filter(|s| !s.is_empty());
    if v("GITHUB_ACTIONS").as_deref() == Some("true") {
        let server = v("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
        let repo = v("GITHUB_REPOSITORY").unwrap_or_default();
        let run = v("GITHUB_RUN_ID");
        let attempt = v("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
        let builder_id = match v("GITHUB_WORKFLOW_REF") {
            Some(w) => format!("{server}/{w}"),
            None => format!("{server}/{repo}/actions"),
        };
        return Some(CiIdentity {
            system: "github-actions".into(),
            builder_id,
            run_url: run
                .as_ref()
                .map(|r| format!("{server}/{repo}/actions/runs/{r}/attempts/{attempt}")),
            run_id: run.map(|r| format!("{r}-{attempt}")),
            workflow: v("GITHUB_WORKFLOW"),
            actor: v("GITHUB_ACTOR"),
        });
    }
    if v("GITLAB_CI").as_deref() == Some("true") {
        let server = v("CI_SERVER_URL").unwrap_or_else(|| "https://gitlab.com".into());
        let project = v("CI_PROJECT_PATH").unwrap_or_default();
        return Some(CiIdentity {
            system: "gitlab-ci".into(),
            builder_id: format!(
                "{server}/{project}/-/runners/{}",
                v("CI_RUNNER_ID").unwrap_or_default()
            ),
            run_id: v("CI_JOB_ID").or(v("CI_PIPELINE_ID")),
            run_url: v("CI_JOB_URL").or(v("CI_PIPELINE_URL")),
            workflow: v("CI_JOB_NAME"),
            actor: v("GITLAB_USER_LOGIN"),
        });
    }
    if v("BUILDKITE").as_deref() == Some("true") {
        return Some(CiIdentity {
            system: "buildkite".into(),
            builder_id: format!(
                "https://buildkite.com/{}/{}",
                v("BUILDKITE_ORGANIZATION_SLUG").unwrap_or_default(),
                v("BUILDKITE_PIPELINE_SLUG").unwrap_or_default()
            ),
            run_id: v("BUILDKITE_JOB_ID").or(v("BUILDKITE_BUILD_ID")),
            run_url: v("BUILDKITE_BUILD_URL"),
            workflow: v("BUILDKITE_LABEL"),
            actor: v("BUILDKITE_BUILD_CREATOR"),
        });
    }
    if let Some(jenkins) = v("JENKINS_URL") {
        let job = v("JOB_NAME").unwrap_or_default();
        return Some(CiIdentity {
            system: "jenkins".into(),
            builder_id: format!("{}/job/{job}", jenkins.trim_end_matches('/')),
            run_id: v("BUILD_TAG").or(v("BUILD_ID")),
            run_url: v("BUILD_URL"),
            workflow: Some(job).filter(|j| !j.is_empty()),
            actor: v("BUILD_USER_ID"),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn ci_systems_are_detected() {
        let gh = detect_ci(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/train"),
            ("GITHUB_RUN_ID", "77"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            (
                "GITHUB_WORKFLOW_REF",
                "acme/train/.github/workflows/t.yml@refs/heads/main",
            ),
            ("GITHUB_ACTOR", "octo"),
        ]))
        .unwrap();
        assert_eq!(gh.system, "github-actions");
        assert_eq!(
            gh.builder_id,
            "https://github.com/acme/train/.github/workflows/t.yml@refs/heads/main"
        );
        assert_eq!(
            gh.run_url.as_deref(),
            Some("https://github.com/acme/train/actions/runs/77/attempts/2")
        );
        let gl = detect_ci(&env(&[
            ("GITLAB_CI", "true"),
            ("CI_JOB_ID", "9"),
            ("CI_JOB_URL", "https://gl/j/9"),
        ]))
        .unwrap();
        assert_eq!(
            (gl.system.as_str(), gl.run_id.as_deref()),
            ("gitlab-ci", Some("9"))
        );
        let bk = detect_ci(&env(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_BUILD_URL", "https://bk/b/1"),
        ]))
        .unwrap();
        assert_eq!(bk.system, "buildkite");
        let jk = detect_ci(&env(&[
            ("JENKINS_URL", "https://ci.example/"),
            ("JOB_NAME", "train"),
            ("BUILD_TAG", "jenkins-train-3"),
        ]))
        .unwrap();
        assert_eq!(
            (jk.system.as_str(), jk.builder_id.as_str()),
            ("jenkins", "https://ci.example/job/train")
        );
        assert!(detect_ci(&env(&[])).is_none());
    }
}
