# No open vulnerability finding (after the server applied waivers and VEX)
# has a blocking severity: data.provenant_config.blocking_severities,
# ["critical"] when unset. Findings of a warning severity
# (data.provenant_config.warning_severities, ["high"] when unset) are
# warnings.
#
# Policy-level exceptions: each entry {advisory, justification, expires} of
# data.provenant_config.vulnerability_exceptions excepts the open findings
# whose id or one of whose aliases is `advisory`. The deny id names the
# advisory ("<severity>_vulnerability:<finding id>"), so an exception
# suppresses that one finding only. The engine voids an exception whose
# justification is empty or whose expiry has passed (with a warning).
#
# Applies to every action. An artifact not yet scanned is a warning, or a
# deny (not_scanned) when data.provenant_config.require_vulnerability_scan
# is true.
package provenant.vulnerabilities

import data.lib.provenant as lib

blocking := lib.lowered(lib.setting("blocking_severities", ["critical"]))

warning := lib.lowered(lib.setting("warning_severities", ["high"]))

require_scan := lib.setting("require_vulnerability_scan", false) == true

open_findings := [f |
	some f in lib.list(input.findings.open)
	is_object(f)
	is_string(f.id)
]

severity(f) := lower(f.severity) if is_string(f.severity)

else := "unknown"

# The deny (or warn) id of a finding.
finding_id(f) := sprintf("%s_vulnerability:%s", [severity(f), f.id])

describe(f) := sprintf("%s%s in %s %s%s", [f.id, aliases(f), lib.text(f.package), lib.text(f.installed_version), fixed(f)])

aliases(f) := sprintf(" [%s]", [concat(", ", known)]) if {
	known := [a | some a in lib.list(f.aliases); is_string(a)]
	count(known) > 0
} else := ""

fixed(f) := sprintf(", fixed in %s", [concat(", ", vs)]) if {
	vs := [v | some v in lib.list(f.fixed_versions); is_string(v)]
	count(vs) > 0
} else := ", no fixed version"

deny contains lib.violation_with(finding_id(f), msg, {"advisory": f.id, "purl": object.get(f, "purl", null)}) if {
	some f in open_findings
	severity(f) in blocking
	msg := sprintf("%s has an open %s vulnerability: %s", [lib.artifact_name, severity(f), describe(f)])
}

warn contains lib.violation(finding_id(f), msg) if {
	some f in open_findings
	not severity(f) in blocking
	severity(f) in warning
	msg := sprintf("%s has an open %s vulnerability: %s", [lib.artifact_name, severity(f), describe(f)])
}

# The advisory ids an exception entry may name for a finding: its id and
# its aliases.
names(f) := {f.id} | {a | some a in lib.list(f.aliases); is_string(a)}

exception contains {"id": finding_id(f), "justification": justification, "expires": expires} if {
	some e in lib.list(lib.setting("vulnerability_exceptions", []))
	is_object(e)
	some f in open_findings
	severity(f) in blocking
	e.advisory in names(f)
	justification := object.get(e, "justification", "")
	expires := object.get(e, "expires", null)
}

scanned if input.findings.scanned == true

deny contains lib.violation("not_scanned", msg) if {
	require_scan
	not scanned
	msg := sprintf("%s has not been scanned for vulnerabilities", [lib.artifact_name])
}

warn contains lib.violation("not_scanned", msg) if {
	not require_scan
	not scanned
	msg := sprintf("%s has not been scanned for vulnerabilities", [lib.artifact_name])
}
