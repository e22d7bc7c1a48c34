# Helpers shared by the shipped policies. A library: its package is not under
# `provenant.`, so it contributes no decisions of its own.
package lib.provenant

# The configuration of the shipped policies: `data.provenant_config`
# (see policies/README.md for its layout). Empty when no data is loaded.
config := c if {
	c := data.provenant_config
	is_object(c)
} else := {}

# setting(key, fallback) is config[key] when it is set (and not null),
# fallback otherwise.
setting(key, fallback) := v if {
	v := config[key]
	v != null
} else := fallback

# violation(id, text) is a deny or warn message object (Conftest style).
violation(id, text) := {"msg": text, "id": id}

# violation_with(id, text, details) also carries machine-readable details.
violation_with(id, text, details) := {"msg": text, "id": id, "details": details}

# A list from the input, or the empty list when the field is null or absent.
list(x) := x if is_array(x)

else := []

signatures := list(input.signatures)

provenance := p if {
	p := input.provenance
	is_object(p)
}

sbom := s if {
	s := input.sbom
	is_object(s)
}

action := input.action

# The name of the artifact for messages: its canonical reference, else
# namespace/model, else "the artifact".
artifact_name := r if {
	r := input.artifact.reference
	is_string(r)
} else := sprintf("%s/%s", [input.artifact.namespace, input.artifact.model]) if {
	is_string(input.artifact.namespace)
	is_string(input.artifact.model)
} else := "the artifact"

# matches(pattern, value): value equals pattern, or pattern is a supported
# glob matching value with "/" as the only delimiter: `*` and `?` never cross
# a "/"; `[a-z]` is a class; `{a,b}` are alternatives; `\` escapes; `**` is
# allowed only as the whole pattern or as a last segment, `prefix/**`, which
# matches everything below prefix/. Other glob syntax (`**` elsewhere,
# negated classes, classes with "/", empty alternatives) differs between
# glob engines, so such a pattern matches nothing but its exact text.
matches(pattern, value) if {
	is_string(pattern)
	is_string(value)
	pattern == value
}

matches(pattern, value) if {
	supported_pattern(pattern)
	is_string(value)
	not contains(value, "\u0000")
	glob.match(pattern, ["/"], value)
}

# A glob pattern within the syntax every engine reads the same way.
supported_pattern(pattern) if {
	is_string(pattern)
	not contains(pattern, "\u0000")
	not regex.match(`\[[!^]|\[[^\]]*/|\{,|,,|,\}|\{\}`, pattern)
	not misplaced_double_star(pattern)
}

misplaced_double_star(pattern) if {
	pattern != "**"
	contains(trim_suffix(pattern, "/**"), "**")
}

# The configured patterns of a list that are not supported globs (and so
# match only their exact text), for warnings.
unsupported_patterns(patterns) := {p |
	some p in list(patterns)
	is_string(p)
	not supported_pattern(p)
}

# matches_any(patterns, value): some pattern of the list matches value.
matches_any(patterns, value) if {
	some pattern in list(patterns)
	matches(pattern, value)
}

# A digest string of the form sha256:<64 lowercase hex>.
is_digest(d) if {
	is_string(d)
	regex.match(`^sha256:[0-9a-f]{64}$`, d)
}

# Lower-cased strings of a configured list (non-strings dropped).
lowered(xs) := {lower(x) | some x in list(xs); is_string(x)}

# A string for messages: x itself, or "(none)" when x is not a string.
text(x) := x if is_string(x)

else := "(none)"

# The artifact's namespace, for messages.
namespace := ns if {
	ns := input.artifact.namespace
	is_string(ns)
} else := "(unknown)"
