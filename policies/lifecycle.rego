# The version is active: a deprecated, archived (or revoked) version is not
# promoted or deployed.
#
# Applies to promote and deploy; says nothing on ingest.
#
# Deny ids: deprecated_version, archived_version, revoked_version, and
# inactive_version for any other state that is not "active".
package provenant.lifecycle

import data.lib.provenant as lib

gated if lib.action in {"promote", "deploy"}

state := s if {
	s := input.artifact.state
	is_string(s)
} else := "(none)"

named_ids := {
	"deprecated": "deprecated_version",
	"archived": "archived_version",
	"revoked": "revoked_version",
}

state_id := id if {
	id := named_ids[state]
} else := "inactive_version"

reason := sprintf(": %s", [r]) if {
	r := input.artifact.state_reason
	is_string(r)
	r != ""
} else := " (no reason given)"

deny contains lib.violation(state_id, msg) if {
	gated
	state != "active"
	msg := sprintf("%s is %s%s; it cannot be %s", [lib.artifact_name, state, reason, past_participle])
}

past_participle := "promoted" if {
	lib.action == "promote"
} else := "deployed"
