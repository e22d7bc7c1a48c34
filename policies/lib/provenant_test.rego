package lib.provenant

test_matches_exact if {
	matches("https://provenant.dev/builders/local", "https://provenant.dev/builders/local")
}

test_matches_star_within_a_segment if {
	matches("https://github.com/acme-ml/*", "https://github.com/acme-ml/fraud-scorer")
	not matches("https://github.com/acme-ml/*", "https://github.com/acme-ml/fraud-scorer/sub")
	not matches("https://github.com/acme-ml/*", "https://github.com/acme-ml-evil/x")
}

test_matches_workflow_identity if {
	pattern := "https://github.com/acme-ml/*/.github/workflows/*@refs/heads/main"
	matches(pattern, "https://github.com/acme-ml/fraud-scorer/.github/workflows/release.yml@refs/heads/main")
	not matches(pattern, "https://github.com/acme-ml/fraud-scorer/.github/workflows/release.yml@refs/heads/feature/main")
	not matches(pattern, "https://github.com/acme-ml/fraud-scorer/.github/workflows/release.yml@refs/heads/mainline")
}

test_matches_double_star_crosses_segments if {
	matches("https://gitlab.acme.example/ml/**", "https://gitlab.acme.example/ml/team/fraud/scorer")
	not matches("https://gitlab.acme.example/ml/**", "https://gitlab.acme.example/other/x")
}

test_matches_alternatives if {
	matches("https://github.com/acme-ml/{fraud,risk}-scorer", "https://github.com/acme-ml/risk-scorer")
	not matches("https://github.com/acme-ml/{fraud,risk}-scorer", "https://github.com/acme-ml/ads-scorer")
}

test_matches_needs_strings if {
	not matches(null, "x")
	not matches("x", null)
	not matches_any(null, "x")
}

test_is_digest if {
	is_digest("sha256:e7e5479a9798e8fea829621c3638aaea4c4c486b8f7028f90bf16bbf07b1a005")
	not is_digest("sha256:E7E5479A9798E8FEA829621C3638AAEA4C4C486B8F7028F90BF16BBF07B1A005")
	not is_digest("sha256:e7e5")
	not is_digest("latest")
	not is_digest(null)
}

test_setting_fallback if {
	setting("blocking_severities", ["critical"]) == ["critical"] with data.provenant_config as {}
	setting("blocking_severities", ["critical"]) == ["critical"] with data.provenant_config as {"blocking_severities": null}
	setting("blocking_severities", ["critical"]) == ["high"] with data.provenant_config as {"blocking_severities": ["high"]}
}

test_config_not_an_object if {
	config == {} with data.provenant_config as null
	config == {} with data.provenant_config as ["x"]
}

test_list if {
	list(null) == []
	list([1]) == [1]
	list("x") == []
}

test_star_does_not_cross_a_slash_in_identities if {
	not matches(
		"https://github.com/acme-ml/*/.github/workflows/release.yml@refs/heads/main",
		"https://github.com/acme-ml/group/repo/.github/workflows/release.yml@refs/heads/main",
	)
}

test_double_star_as_last_segment_only if {
	supported_pattern("**")
	supported_pattern("https://gitlab.acme.example/ml/**")
	not supported_pattern("https://gitlab.acme.example/**/release.yml")
	not supported_pattern("**/release.yml")
	not supported_pattern("https://gitlab.acme.example/ml/a**")
	not matches("https://gitlab.acme.example/ml/**/x", "https://gitlab.acme.example/ml/a/x")

	# Still matched as exact text.
	matches("https://gitlab.acme.example/ml/**/x", "https://gitlab.acme.example/ml/**/x")
	not matches("https://gitlab.acme.example/ml/**", "https://gitlab.acme.example/ml")
}

test_unsupported_classes_and_alternatives if {
	supported_pattern("refs/heads/release-[0-9]*")
	supported_pattern("refs/{heads,tags}/*")
	not supported_pattern("a[!b]c")
	not supported_pattern("a[^b]c")
	not supported_pattern("a[/]c")
	not supported_pattern("a{b,}")
	not supported_pattern("a{,b}")
	not supported_pattern("a{}")
}

test_nul_never_matches if {
	not matches("a*", "ab\u0000")
	not supported_pattern("a\u0000*")
}

test_unsupported_patterns if {
	unsupported_patterns(["https://x/**", "https://x/**/y", null, "a[!b]"]) == {"https://x/**/y", "a[!b]"}
}
