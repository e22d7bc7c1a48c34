# The licence of the model (input.artifact.license, from the version
# metadata) and of every SBOM component is within
# data.provenant_config.allowed_licences (SPDX ids, compared
# case-insensitively), when the target environment is one of
# data.provenant_config.licence_checked_environments (["production"] when
# unset). A non-commercial licence (CC-BY-NC-*, or one naming itself
# non-commercial) is called so in the message.
#
# SPDX expressions: "A OR B" is allowed when either side is, "A AND B" when
# both are, "A WITH exception" when A (or the whole term) is; an expression
# with parentheses is allowed only when every licence in it is.
#
# Applies to any action whose target environment is checked (in practice
# promote and deploy; an ingest has no environment).
#
# Deny id: licence_not_allowed. Warn ids: unknown_licence, no_sbom.
package provenant.licences

import data.lib.provenant as lib

mode := "enforce"

allowed := lib.lowered(lib.setting("allowed_licences", []))

checked_environments := lib.list(lib.setting("licence_checked_environments", ["production"]))

environment := input.target.environment

checked if {
	is_string(environment)
	environment in checked_environments
}

# A licence identifier is allowed: it is in the list, or it is
# "<id> WITH <exception>" and either the whole term or <id> is.
allowed_term(term) if trim_space(term) in allowed

allowed_term(term) if {
	parts := split(trim_space(term), " with ")
	count(parts) == 2
	trim_space(parts[0]) in allowed
}

# allowed_expression(l): the (lower-cased) SPDX expression l is allowed.
allowed_expression(l) if {
	not contains(l, "(")
	some alternative in split(l, " or ")
	every term in split(alternative, " and ") {
		allowed_term(term)
	}
}

allowed_expression(l) if {
	contains(l, "(")
	every term in terms(l) {
		allowed_term(term)
	}
}

# Every licence id of an expression, parentheses and operators dropped.
terms(l) := [t |
	some alternative in split(replace(replace(l, "(", " "), ")", " "), " or ")
	some t in split(alternative, " and ")
	trim_space(t) != ""
]

allowed_licence(licence) if allowed_expression(lower(trim_space(licence)))

non_commercial(licence) if regex.match(`(^|[^a-z])nc([^a-z]|$)`, lower(licence))

non_commercial(licence) if contains(lower(licence), "noncommercial")

non_commercial(licence) if contains(lower(licence), "non-commercial")

# Why a licence is refused, for messages.
refusal(licence) := sprintf("%s, a non-commercial licence,", [licence]) if {
	non_commercial(licence)
} else := sprintf("%s,", [licence])

# Words that say a licence is not known.
unknown_words := {"noassertion", "none", "unknown"}

# A licence that names something: a non-empty string other than
# NOASSERTION, NONE or UNKNOWN (any case).
known(l) if {
	is_string(l)
	w := lower(trim_space(l))
	w != ""
	not w in unknown_words
}

model_licence := l if {
	l := input.artifact.license
	known(l)
}

deny contains lib.violation_with("licence_not_allowed", msg, {"licence": model_licence}) if {
	checked
	not allowed_licence(model_licence)
	msg := sprintf(
		"%s is licensed %s which is not allowed in %s (data.provenant_config.allowed_licences)",
		[lib.artifact_name, refusal(model_licence), environment],
	)
}

warn contains lib.violation("unknown_licence", msg) if {
	checked
	not model_licence
	msg := sprintf("%s has no licence in its metadata; its licence is unchecked", [lib.artifact_name])
}

components := [c | some c in lib.list(lib.sbom.licenses); is_object(c)]

component_name(c) := c.component if is_string(c.component)

else := lib.text(c.name)

deny contains lib.violation_with("licence_not_allowed", msg, {"component": component_name(c), "licence": licence}) if {
	checked
	some c in components
	some licence in lib.list(c.licenses)
	known(licence)
	not allowed_licence(licence)
	msg := sprintf(
		"dependency %s of %s is licensed %s which is not allowed in %s (data.provenant_config.allowed_licences)",
		[component_name(c), lib.artifact_name, refusal(licence), environment],
	)
}

warn contains lib.violation("unknown_licence", msg) if {
	checked
	some c in components
	count([l | some l in lib.list(c.licenses); known(l)]) == 0
	msg := sprintf("dependency %s of %s has no known licence", [component_name(c), lib.artifact_name])
}

warn contains lib.violation("no_sbom", msg) if {
	checked
	not lib.sbom
	msg := sprintf("%s has no SBOM; the licences of its dependencies are unchecked", [lib.artifact_name])
}
