package provenant.datasets

import data.lib.provenant_fixtures as f

with_datasets(ds) := object.union(f.deploy, {"provenance": {"datasets": ds}})

scraped := {
	"uri": "https://huggingface.co/datasets/unknown-org/scraped-reviews",
	"digest": "sha256:1bca7f5b00df7746a8909d802198e70616b3afd9ee574af189b650697bb83065",
}

test_approved_datasets if {
	count(deny) == 0 with input as f.deploy with data.provenant_config as f.config
	count(warn) == 0 with input as f.deploy with data.provenant_config as f.config
}

test_unapproved_dataset_names_uri_and_digest if {
	doc := with_datasets(array.concat(f.deploy.provenance.datasets, [scraped]))
	results := deny with input as doc with data.provenant_config as f.config
	f.ids(results) == {"unapproved_dataset"}
	count(results) == 1
	some d in results
	contains(d.msg, scraped.uri)
	contains(d.msg, scraped.digest)
	d.details == scraped
}

test_every_unapproved_dataset_is_named if {
	other := {"uri": "s3://x/y", "digest": "sha256:2bca7f5b00df7746a8909d802198e70616b3afd9ee574af189b650697bb83065"}
	count(deny) == 2 with input as with_datasets([scraped, other]) with data.provenant_config as f.config
}

test_dataset_without_digest if {
	results := deny with input as with_datasets([{"uri": "s3://x/y", "digest": null}]) with data.provenant_config as f.config
	f.ids(results) == {"unapproved_dataset"}
	some d in results
	contains(d.msg, "no sha256 digest")
}

test_no_registry_approves_nothing if {
	f.ids(deny) == {"unapproved_dataset"} with input as f.deploy with data.provenant_config as {}
}

test_no_provenance_says_nothing if {
	doc := object.union(f.deploy, {"provenance": null})
	count(deny) == 0 with input as doc with data.provenant_config as f.config
	count(warn) == 0 with input as doc with data.provenant_config as f.config
}

test_no_datasets_warns if {
	f.ids(warn) == {"no_datasets"} with input as with_datasets([]) with data.provenant_config as f.config
	count(deny) == 0 with input as with_datasets([]) with data.provenant_config as f.config
}
