package provenant.licences

import data.lib.provenant_fixtures as f

licensed(licence) := object.union(f.deploy, {"artifact": {"license": licence}})

with_component(licences) := object.union(f.deploy, {"sbom": {"licenses": array.concat(
	f.deploy.sbom.licenses,
	[{"component": "pkg:pypi/extra@1.0", "name": "extra", "licenses": licences}],
)}})

in_environment(doc, env) := object.union(doc, {"target": {"environment": env}})

test_mode_is_enforce if {
	mode == "enforce"
}

test_allowed_licences if {
	count(deny) == 0 with input as f.deploy with data.provenant_config as f.config
	count(warn) == 0 with input as f.deploy with data.provenant_config as f.config
}

test_non_commercial_model_in_production if {
	results := deny with input as licensed("cc-by-nc-4.0") with data.provenant_config as f.config
	f.ids(results) == {"licence_not_allowed"}
	some d in results
	contains(d.msg, "cc-by-nc-4.0, a non-commercial licence,")
	contains(d.msg, "not allowed in production")
}

test_non_commercial_variants_named if {
	every licence in ["CC-BY-NC-SA-4.0", "cc-by-nc-nd-3.0", "Creative Commons NonCommercial", "research-only non-commercial"] {
		some d in deny with input as licensed(licence) with data.provenant_config as f.config
		contains(d.msg, "a non-commercial licence")
	}
}

test_other_licence_not_called_non_commercial if {
	some d in deny with input as licensed("GPL-3.0-only") with data.provenant_config as f.config
	not contains(d.msg, "non-commercial")
}

test_non_commercial_allowed_outside_checked_environments if {
	count(deny) == 0 with input as in_environment(licensed("cc-by-nc-4.0"), "staging") with data.provenant_config as f.config
	count(deny) == 0 with input as in_environment(licensed("cc-by-nc-4.0"), null) with data.provenant_config as f.config
}

test_checked_environments_configurable if {
	cfg := object.union(f.config, {"licence_checked_environments": ["production", "staging"]})
	doc := in_environment(licensed("cc-by-nc-4.0"), "staging")
	f.ids(deny) == {"licence_not_allowed"} with input as doc with data.provenant_config as cfg
}

test_default_checked_environment_is_production if {
	cfg := object.remove(f.config, ["licence_checked_environments"])
	f.ids(deny) == {"licence_not_allowed"} with input as licensed("cc-by-nc-4.0") with data.provenant_config as cfg
}

test_case_insensitive if {
	count(deny) == 0 with input as licensed("APACHE-2.0") with data.provenant_config as f.config
	count(deny) == 0 with input as licensed("OpenRAIL") with data.provenant_config as f.config
}

test_model_licence_missing_warns if {
	every licence in [null, "", "NOASSERTION", "unknown"] {
		count(deny) == 0 with input as licensed(licence) with data.provenant_config as f.config
		f.ids(warn) == {"unknown_licence"} with input as licensed(licence) with data.provenant_config as f.config
	}
}

test_dependency_licence_not_allowed if {
	results := deny with input as with_component(["GPL-3.0-only"]) with data.provenant_config as f.config
	f.ids(results) == {"licence_not_allowed"}
	some d in results
	contains(d.msg, "dependency pkg:pypi/extra@1.0")
	contains(d.msg, "GPL-3.0-only")
	d.details == {"component": "pkg:pypi/extra@1.0", "licence": "GPL-3.0-only"}
}

test_dependency_without_licence_warns if {
	count(deny) == 0 with input as with_component([]) with data.provenant_config as f.config
	f.ids(warn) == {"unknown_licence"} with input as with_component(["NOASSERTION"]) with data.provenant_config as f.config
}

test_spdx_or if {
	count(deny) == 0 with input as with_component(["MIT OR GPL-3.0-only"]) with data.provenant_config as f.config
	count(deny) == 0 with input as with_component(["GPL-3.0-only OR MIT"]) with data.provenant_config as f.config
}

test_spdx_and if {
	f.ids(deny) == {"licence_not_allowed"} with input as with_component(["MIT AND GPL-3.0-only"]) with data.provenant_config as f.config
	count(deny) == 0 with input as with_component(["MIT AND BSD-3-Clause"]) with data.provenant_config as f.config
}

test_spdx_with if {
	count(deny) == 0 with input as with_component(["Apache-2.0 WITH LLVM-exception"]) with data.provenant_config as f.config
	f.ids(deny) == {"licence_not_allowed"} with input as with_component(["GPL-2.0-only WITH Classpath-exception-2.0"]) with data.provenant_config as f.config
}

# With parentheses every licence of the expression must be allowed.
test_spdx_parentheses_conservative if {
	count(deny) == 0 with input as with_component(["(MIT OR BSD-3-Clause) AND Apache-2.0"]) with data.provenant_config as f.config
	f.ids(deny) == {"licence_not_allowed"} with input as with_component(["(MIT OR GPL-3.0-only)"]) with data.provenant_config as f.config
}

test_no_sbom_warns if {
	doc := object.union(f.deploy, {"sbom": null})
	count(deny) == 0 with input as doc with data.provenant_config as f.config
	f.ids(warn) == {"no_sbom"} with input as doc with data.provenant_config as f.config
}

test_nothing_allowed_when_unconfigured if {
	f.ids(deny) == {"licence_not_allowed"} with input as f.deploy with data.provenant_config as {}
}
