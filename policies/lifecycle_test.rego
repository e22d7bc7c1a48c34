package provenant.lifecycle

import data.lib.provenant_fixtures as f

in_state(action, state, reason) := object.union(f.deploy, {
	"action": action,
	"artifact": {"state": state, "state_reason": reason},
})

test_active_allowed if {
	every action in ["ingest", "promote", "deploy"] {
		count(deny) == 0 with input as in_state(action, "active", null)
	}
}

test_deprecated_not_promoted if {
	results := deny with input as in_state("promote", "deprecated", "superseded by version 8")
	f.ids(results) == {"deprecated_version"}
	some d in results
	contains(d.msg, "is deprecated: superseded by version 8")
	contains(d.msg, "cannot be promoted")
}

test_deprecated_not_deployed if {
	f.ids(deny) == {"deprecated_version"} with input as in_state("deploy", "deprecated", "superseded")
}

test_archived if {
	f.ids(deny) == {"archived_version"} with input as in_state("deploy", "archived", "retired")
	f.ids(deny) == {"archived_version"} with input as in_state("promote", "archived", "retired")
}

test_revoked if {
	f.ids(deny) == {"revoked_version"} with input as in_state("deploy", "revoked", "key compromise")
}

test_any_other_state if {
	f.ids(deny) == {"inactive_version"} with input as in_state("deploy", "quarantined", null)
	f.ids(deny) == {"inactive_version"} with input as in_state("deploy", null, null)
}

test_no_reason if {
	some d in deny with input as in_state("deploy", "deprecated", null)
	contains(d.msg, "(no reason given)")
}

test_nothing_on_ingest if {
	count(deny) == 0 with input as in_state("ingest", "deprecated", "superseded")
}
