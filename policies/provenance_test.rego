package provenant.provenance

import data.lib.provenant_fixtures as f

with_provenance(patch) := object.union(f.deploy, {"provenance": patch})

test_good_provenance_allowed if {
	count(deny) == 0 with input as f.deploy with data.provenant_config as f.config
}

test_missing if {
	doc := object.union(f.deploy, {"provenance": null})
	f.ids(deny) == {"missing_provenance"} with input as doc with data.provenant_config as f.config
}

test_untrusted if {
	doc := with_provenance({"trusted": false, "signer": "unknown"})
	results := deny with input as doc with data.provenant_config as f.config
	f.ids(results) == {"untrusted_provenance"}
	some d in results
	contains(d.msg, "unknown (sha256:")
}

test_unknown_builder if {
	doc := with_provenance({"builder": "https://provenant.dev/builders/local"})
	results := deny with input as doc with data.provenant_config as f.config
	f.ids(results) == {"unknown_builder"}
	some d in results
	contains(d.msg, "https://provenant.dev/builders/local")
}

test_builder_from_a_feature_branch if {
	doc := with_provenance({"builder": "https://github.com/acme-ml/fraud-scorer/.github/workflows/train.yml@refs/heads/wip/x"})
	f.ids(deny) == {"unknown_builder"} with input as doc with data.provenant_config as f.config
}

test_builder_missing if {
	doc := with_provenance({"builder": null})
	f.ids(deny) == {"unknown_builder"} with input as doc with data.provenant_config as f.config
}

test_builder_glob_with_double_star if {
	doc := with_provenance({
		"builder": "https://gitlab.acme.example/ml/fraud/scorer/-/runners/42",
		"repository": "https://gitlab.acme.example/ml/fraud/scorer",
	})
	count(deny) == 0 with input as doc with data.provenant_config as f.config
}

test_unapproved_repository if {
	doc := with_provenance({"repository": "https://github.com/mallory/fraud-scorer"})
	results := deny with input as doc with data.provenant_config as f.config
	f.ids(results) == {"unapproved_repository"}
	some d in results
	contains(d.msg, "https://github.com/mallory/fraud-scorer")
}

test_repository_pattern_does_not_cross_a_slash if {
	doc := with_provenance({"repository": "https://github.com/acme-ml/fraud-scorer/tree/main"})
	f.ids(deny) == {"unapproved_repository"} with input as doc with data.provenant_config as f.config
}

test_repository_with_git_suffix if {
	doc := with_provenance({"repository": "https://github.com/acme-ml/fraud-scorer.git"})
	count(deny) == 0 with input as doc with data.provenant_config as f.config
}

test_repository_missing if {
	doc := with_provenance({"repository": null})
	results := deny with input as doc with data.provenant_config as f.config
	f.ids(results) == {"unapproved_repository"}
	some d in results
	contains(d.msg, "names no source repository")
}

test_unsigned_commit if {
	doc := with_provenance({"commit_signature": {"status": "unsigned", "signer": null}})
	results := deny with input as doc with data.provenant_config as f.config
	f.ids(results) == {"unsigned_commit"}
	some d in results
	contains(d.msg, "signature is unsigned")
}

test_bad_commit_signature if {
	doc := with_provenance({"commit_signature": {"status": "bad", "signer": "alice@acme.example"}})
	f.ids(deny) == {"unsigned_commit"} with input as doc with data.provenant_config as f.config
}

test_no_commit_signature_recorded if {
	doc := with_provenance({"commit_signature": null})
	results := deny with input as doc with data.provenant_config as f.config
	f.ids(results) == {"unsigned_commit"}
	some d in results
	contains(d.msg, "signature is missing")
}

test_unsigned_commit_allowed_when_not_required if {
	doc := with_provenance({"commit_signature": {"status": "unsigned", "signer": null}})
	cfg := object.union(f.config, {"require_signed_commits": false})
	count(deny) == 0 with input as doc with data.provenant_config as cfg
}

test_nothing_approved_when_unconfigured if {
	f.ids(deny) == {"unknown_builder", "unapproved_repository"} with input as f.deploy with data.provenant_config as {}
}

test_applies_on_ingest if {
	doc := object.union(f.deploy, {"action": "ingest", "provenance": null})
	f.ids(deny) == {"missing_provenance"} with input as doc with data.provenant_config as f.config
}

test_unsupported_builder_pattern_warns if {
	cfg := object.union(f.config, {"approved_builders": ["https://github.com/**/train.yml@refs/heads/main"]})
	f.ids(warn) == {"unsupported_pattern"} with input as f.deploy with data.provenant_config as cfg
	f.ids(deny) == {"unknown_builder"} with input as f.deploy with data.provenant_config as cfg
	count(warn) == 0 with input as f.deploy with data.provenant_config as f.config
}
