package provenant.vulnerabilities

import data.lib.provenant_fixtures as f

torch := f.finding("PYSEC-2022-43015", ["CVE-2022-45907"], "critical", "torch", "1.13.0")

pyyaml := f.finding("PYSEC-2021-142", ["CVE-2020-14343"], "critical", "pyyaml", "5.3.1")

pillow := f.finding("PYSEC-2023-227", ["CVE-2023-44271"], "high", "pillow", "9.5.0")

with_open(findings) := object.union(f.deploy, {"findings": {"open": findings}})

no_exceptions := object.remove(f.config, ["vulnerability_exceptions"])

test_no_open_finding if {
	count(deny) == 0 with input as f.deploy with data.provenant_config as f.config
	count(warn) == 0 with input as f.deploy with data.provenant_config as f.config
}

test_critical_denied_per_advisory if {
	results := deny with input as with_open([torch, pillow]) with data.provenant_config as f.config
	f.ids(results) == {"critical_vulnerability:PYSEC-2022-43015"}
	some d in results
	contains(d.msg, "PYSEC-2022-43015")
	contains(d.msg, "CVE-2022-45907")
	contains(d.msg, "torch 1.13.0")
	d.details == {"advisory": "PYSEC-2022-43015", "purl": "pkg:pypi/torch@1.13.0"}
}

test_high_is_a_warning if {
	count(deny) == 0 with input as with_open([pillow]) with data.provenant_config as f.config
	f.ids(warn) == {"high_vulnerability:PYSEC-2023-227"} with input as with_open([pillow]) with data.provenant_config as f.config
}

test_default_blocking_severity_is_critical if {
	f.ids(deny) == {"critical_vulnerability:PYSEC-2022-43015"} with input as with_open([torch, pillow]) with data.provenant_config as {}
}

test_configured_blocking_severities if {
	cfg := object.union(f.config, {"blocking_severities": ["Critical", "HIGH"]})
	results := deny with input as with_open([torch, pillow]) with data.provenant_config as cfg
	f.ids(results) == {"critical_vulnerability:PYSEC-2022-43015", "high_vulnerability:PYSEC-2023-227"}
	count(warn) == 0 with input as with_open([torch, pillow]) with data.provenant_config as cfg
}

test_severity_compared_case_insensitively if {
	shouting := object.union(torch, {"severity": "CRITICAL"})
	f.ids(deny) == {"critical_vulnerability:PYSEC-2022-43015"} with input as with_open([shouting]) with data.provenant_config as f.config
}

test_exception_by_alias_names_the_deny_id if {
	excs := exception with input as with_open([pyyaml, torch]) with data.provenant_config as f.config
	excs == {{
		"id": "critical_vulnerability:PYSEC-2021-142",
		"justification": "pyyaml is only used with safe_load on configuration the image ships; upgrade tracked in RISK-1423",
		"expires": "2099-12-31T00:00:00Z",
	}}

	# The deny is still raised: the engine suppresses it with the exception.
	f.ids(deny) == {
		"critical_vulnerability:PYSEC-2021-142",
		"critical_vulnerability:PYSEC-2022-43015",
	} with input as with_open([pyyaml, torch])
		with data.provenant_config as f.config
}

test_exception_by_finding_id if {
	cfg := object.union(no_exceptions, {"vulnerability_exceptions": [{
		"advisory": "PYSEC-2022-43015",
		"justification": "not reachable",
		"expires": "2099-01-01T00:00:00Z",
	}]})
	excs := exception with input as with_open([torch]) with data.provenant_config as cfg
	{e.id | some e in excs} == {"critical_vulnerability:PYSEC-2022-43015"}
}

test_no_exception_without_a_matching_finding if {
	count(exception) == 0 with input as with_open([torch]) with data.provenant_config as f.config
}

test_no_exception_for_a_warning if {
	cfg := object.union(no_exceptions, {"vulnerability_exceptions": [{
		"advisory": "PYSEC-2023-227",
		"justification": "x",
		"expires": "2099-01-01T00:00:00Z",
	}]})
	count(exception) == 0 with input as with_open([pillow]) with data.provenant_config as cfg
}

# Exceptions are passed to the engine as written: it voids a missing
# justification or expiry (and an expired one) with a warning.
test_exception_passes_missing_fields_through if {
	cfg := object.union(no_exceptions, {"vulnerability_exceptions": [{"advisory": "CVE-2022-45907"}]})
	exception == {{
		"id": "critical_vulnerability:PYSEC-2022-43015",
		"justification": "",
		"expires": null,
	}} with input as with_open([torch])
		with data.provenant_config as cfg
}

test_not_scanned_warns if {
	doc := object.union(f.deploy, {"findings": {"scanned": false, "scanned_at": null}})
	f.ids(warn) == {"not_scanned"} with input as doc with data.provenant_config as f.config
	count(deny) == 0 with input as doc with data.provenant_config as f.config
}

test_not_scanned_denied_when_required if {
	doc := object.union(f.deploy, {"findings": {"scanned": false, "scanned_at": null}})
	cfg := object.union(f.config, {"require_vulnerability_scan": true})
	f.ids(deny) == {"not_scanned"} with input as doc with data.provenant_config as cfg
	count(warn) == 0 with input as doc with data.provenant_config as cfg
}

test_suppressed_findings_are_not_open if {
	doc := object.union(f.deploy, {"findings": {"open": [], "suppressed": [{
		"id": "PYSEC-2022-43015",
		"purl": "pkg:pypi/torch@1.13.0",
		"by": "waiver",
		"reason": "accepted risk",
		"expires": "2099-01-01T00:00:00Z",
	}]}})
	count(deny) == 0 with input as doc with data.provenant_config as f.config
}
