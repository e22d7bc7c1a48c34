package provenant.signed

import data.lib.provenant_fixtures as f

gh_issuer := "https://token.actions.githubusercontent.com"

release := "https://github.com/acme-ml/fraud-scorer/.github/workflows/release.yml@refs/heads/main"

with_signatures(sigs) := object.union(f.deploy, {"signatures": sigs})

test_certificate_identity_allowed if {
	count(deny) == 0 with input as f.deploy with data.provenant_config as f.config
}

test_listed_key_allowed if {
	count(deny) == 0 with input as with_signatures([f.key_signature]) with data.provenant_config as f.config
}

test_unsigned if {
	f.ids(deny) == {"unsigned"} with input as with_signatures([]) with data.provenant_config as f.config
}

test_signatures_null_is_unsigned if {
	f.ids(deny) == {"unsigned"} with input as with_signatures(null) with data.provenant_config as f.config
}

test_untrusted_signer if {
	sig := object.union(f.key_signature, {"trusted": false, "signer": "laptop-key"})
	results := deny with input as with_signatures([sig]) with data.provenant_config as f.config
	f.ids(results) == {"untrusted_signer"}
	some d in results
	contains(d.msg, "laptop-key")
	contains(d.msg, "namespace fraud")
}

# The registry's trust decides: a listed key the namespace does not trust
# is not enough.
test_listed_key_not_trusted_by_namespace if {
	sig := object.union(f.key_signature, {"trusted": false})
	f.ids(deny) == {"untrusted_signer"} with input as with_signatures([sig]) with data.provenant_config as f.config
}

test_trusted_key_not_listed if {
	sig := object.union(f.key_signature, {"fingerprint": "sha256:1815ac34566ec354f935f4170ed234caea0fd743085fc7fb87eed37ab4a4a650"})
	f.ids(deny) == {"identity_not_allowed"} with input as with_signatures([sig]) with data.provenant_config as f.config
}

test_identity_from_another_branch if {
	sig := f.certificate_signature(
		"https://github.com/acme-ml/fraud-scorer/.github/workflows/release.yml@refs/heads/experiment/fast-path",
		gh_issuer,
	)
	results := deny with input as with_signatures([sig]) with data.provenant_config as f.config
	f.ids(results) == {"identity_not_allowed"}
	some d in results
	contains(d.msg, "experiment/fast-path")
}

test_identity_from_another_organisation if {
	sig := f.certificate_signature(
		"https://github.com/mallory/fraud-scorer/.github/workflows/release.yml@refs/heads/main",
		gh_issuer,
	)
	f.ids(deny) == {"identity_not_allowed"} with input as with_signatures([sig]) with data.provenant_config as f.config
}

test_identity_from_another_issuer if {
	sig := f.certificate_signature(release, "https://gitlab.com")
	f.ids(deny) == {"identity_not_allowed"} with input as with_signatures([sig]) with data.provenant_config as f.config
}

test_exact_identity_entry if {
	sig := f.certificate_signature("mailto:release-bot@acme.example", "https://accounts.google.com")
	count(deny) == 0 with input as with_signatures([sig]) with data.provenant_config as f.config
}

test_entry_without_issuer_matches_nothing if {
	cfg := {"trusted_identities": {"certificates": [{"identity": release}]}}
	sig := f.certificate_signature(release, gh_issuer)
	f.ids(deny) == {"identity_not_allowed"} with input as with_signatures([sig]) with data.provenant_config as cfg
}

test_one_allowed_signature_is_enough if {
	stranger := object.union(f.key_signature, {"trusted": false, "fingerprint": "sha256:1815ac34566ec354f935f4170ed234caea0fd743085fc7fb87eed37ab4a4a650"})
	count(deny) == 0 with input as with_signatures([stranger, f.key_signature]) with data.provenant_config as f.config
}

test_nothing_configured_allows_nobody if {
	f.ids(deny) == {"identity_not_allowed"} with input as f.deploy with data.provenant_config as {}
}

test_applies_on_every_action if {
	every action in ["ingest", "promote", "deploy"] {
		doc := object.union(with_signatures([]), {"action": action})
		f.ids(deny) == {"unsigned"} with input as doc with data.provenant_config as f.config
	}
}

test_unsupported_identity_pattern_warns if {
	cfg := {"trusted_identities": {"certificates": [{"identity": "https://github.com/acme-ml/**/release.yml@refs/heads/main", "issuer": gh_issuer}]}}
	results := warn with input as f.deploy with data.provenant_config as cfg
	f.ids(results) == {"unsupported_pattern"}
	f.ids(deny) == {"identity_not_allowed"} with input as f.deploy with data.provenant_config as cfg
}

test_no_warning_for_supported_patterns if {
	count(warn) == 0 with input as f.deploy with data.provenant_config as f.config
}
