# The artifact has provenance the registry trusts, built by an approved
# builder from an approved source repository and, when
# data.provenant_config.require_signed_commits is true, at a commit whose
# signature verified.
#
# Applies to every action (ingest, promote, deploy).
#
# Deny ids: missing_provenance, untrusted_provenance, unknown_builder,
# unapproved_repository, unsigned_commit. Warn id: unsupported_pattern.
package provenant.provenance

import data.lib.provenant as lib

approved_builders := lib.list(lib.setting("approved_builders", []))

approved_repositories := lib.list(lib.setting("approved_repositories", []))

require_signed_commits := lib.setting("require_signed_commits", false) == true

# A repository URL without a trailing "/" or ".git", the form patterns are
# matched against.
normalise_repository(r) := trim_suffix(trim_suffix(r, "/"), ".git")

deny contains lib.violation("missing_provenance", msg) if {
	not lib.provenance
	msg := sprintf("%s has no provenance", [lib.artifact_name])
}

deny contains lib.violation("untrusted_provenance", msg) if {
	p := lib.provenance
	p.trusted != true
	msg := sprintf(
		"the provenance of %s is signed by %s, a key namespace %s does not trust",
		[lib.artifact_name, who(p), lib.namespace],
	)
}

deny contains lib.violation("unknown_builder", msg) if {
	p := lib.provenance
	not lib.matches_any(approved_builders, p.builder)
	msg := sprintf(
		"%s was built by %s, not an approved builder (data.provenant_config.approved_builders)",
		[lib.artifact_name, lib.text(p.builder)],
	)
}

deny contains lib.violation("unapproved_repository", msg) if {
	p := lib.provenance
	not is_string(p.repository)
	msg := sprintf("the provenance of %s names no source repository", [lib.artifact_name])
}

deny contains lib.violation("unapproved_repository", msg) if {
	p := lib.provenance
	is_string(p.repository)
	not lib.matches_any(approved_repositories, normalise_repository(p.repository))
	msg := sprintf(
		"%s was built from %s, not an approved repository (data.provenant_config.approved_repositories)",
		[lib.artifact_name, p.repository],
	)
}

deny contains lib.violation("unsigned_commit", msg) if {
	require_signed_commits
	p := lib.provenance
	status := commit_status(p)
	status != "verified"
	msg := sprintf(
		"%s was built from commit %s of %s, whose signature is %s; signed commits are required",
		[lib.artifact_name, lib.text(p.commit), lib.text(p.repository), status],
	)
}

# The commit signature's status word, "missing" when none is recorded.
commit_status(p) := s if {
	s := p.commit_signature.status
	is_string(s)
} else := "missing"

who(p) := sprintf("%s (%s)", [p.signer, p.fingerprint]) if {
	is_string(p.signer)
	is_string(p.fingerprint)
} else := lib.text(p.fingerprint)

warn contains lib.violation("unsupported_pattern", msg) if {
	some pattern in lib.unsupported_patterns(array.concat(approved_builders, approved_repositories))
	msg := sprintf(
		"approved builder or repository pattern %s uses glob syntax outside the supported set; it matches only its exact text",
		[pattern],
	)
}
