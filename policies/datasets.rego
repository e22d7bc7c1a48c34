# Every training dataset the provenance names is in the approved dataset
# registry: data.provenant_config.approved_datasets, an object keyed by
# dataset digest.
#
# Applies to every action. Without provenance this policy says nothing
# (provenant.provenance denies that).
#
# Deny id: unapproved_dataset. Warn id: no_datasets.
package provenant.datasets

import data.lib.provenant as lib

approved := a if {
	a := lib.setting("approved_datasets", {})
	is_object(a)
} else := {}

datasets := [ds | some ds in lib.list(lib.provenance.datasets); is_object(ds)]

deny contains lib.violation_with("unapproved_dataset", msg, {"uri": object.get(ds, "uri", null), "digest": object.get(ds, "digest", null)}) if {
	some ds in datasets
	lib.is_digest(ds.digest)
	not approved[ds.digest]
	msg := sprintf(
		"%s was trained on dataset %s (%s), which is not in the approved dataset registry (data.provenant_config.approved_datasets)",
		[lib.artifact_name, lib.text(ds.uri), ds.digest],
	)
}

deny contains lib.violation_with("unapproved_dataset", msg, {"uri": object.get(ds, "uri", null), "digest": object.get(ds, "digest", null)}) if {
	some ds in datasets
	not lib.is_digest(ds.digest)
	msg := sprintf(
		"%s was trained on dataset %s, which has no sha256 digest to check against the approved dataset registry",
		[lib.artifact_name, lib.text(ds.uri)],
	)
}

warn contains lib.violation("no_datasets", msg) if {
	lib.provenance
	count(datasets) == 0
	msg := sprintf("the provenance of %s names no training dataset", [lib.artifact_name])
}
