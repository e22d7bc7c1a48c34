package provenant.deploy_digest

import data.lib.provenant_fixtures as f

tagged := object.union(f.deploy, {"artifact": {"requested": "fraud/scorer:production", "pinned": false}})

sidecar := {"image": "ghcr.io/acme-ml/feature-sidecar:1.2", "digest": null}

with_images(images) := object.union(f.deploy, {"target": {"images": images}})

test_by_digest_allowed if {
	count(deny) == 0 with input as f.deploy with data.provenant_config as f.config
	count(warn) == 0 with input as f.deploy with data.provenant_config as f.config
}

test_mutable_reference if {
	results := deny with input as tagged with data.provenant_config as f.config
	f.ids(results) == {"mutable_reference"}
	some d in results
	contains(d.msg, "fraud/scorer:production")
}

test_mutable_reference_resolved_when_configured if {
	cfg := object.union(f.config, {"resolve_mutable_references": true})
	count(deny) == 0 with input as tagged with data.provenant_config as cfg
	f.ids(warn) == {"mutable_reference"} with input as tagged with data.provenant_config as cfg
}

test_only_on_deploy if {
	every action in ["ingest", "promote"] {
		doc := object.union(tagged, {"action": action, "target": {"images": [sidecar]}})
		count(deny) == 0 with input as doc with data.provenant_config as f.config
	}
}

test_image_without_digest if {
	results := deny with input as with_images(array.concat(f.deploy.target.images, [sidecar])) with data.provenant_config as f.config
	f.ids(results) == {"image_without_digest"}
	some d in results
	contains(d.msg, "ghcr.io/acme-ml/feature-sidecar:1.2")
	d.details == {"image": "ghcr.io/acme-ml/feature-sidecar:1.2"}
}

test_image_with_a_malformed_digest if {
	image := {"image": "ghcr.io/acme-ml/x@sha256:abc", "digest": "sha256:abc"}
	f.ids(deny) == {"image_without_digest"} with input as with_images([image]) with data.provenant_config as f.config
}

test_no_images if {
	count(deny) == 0 with input as with_images([]) with data.provenant_config as f.config
	count(deny) == 0 with input as with_images(null) with data.provenant_config as f.config
}

test_unapproved_base_image if {
	python := "sha256:25a7a77f253f958f70b9a272a988fde7ddbacd5e7d5751cf25ef8d9414844fdd"
	doc := object.union(f.deploy, {"provenance": {"images": [python]}})
	results := deny with input as doc with data.provenant_config as f.config
	f.ids(results) == {"unapproved_base_image"}
	some d in results
	contains(d.msg, python)
}

test_base_images_unchecked_when_not_configured if {
	doc := object.union(f.deploy, {"provenance": {"images": ["sha256:25a7a77f253f958f70b9a272a988fde7ddbacd5e7d5751cf25ef8d9414844fdd"]}})
	cfg := object.remove(f.config, ["approved_base_images"])
	count(deny) == 0 with input as doc with data.provenant_config as cfg
}

test_base_images_without_provenance if {
	doc := object.union(f.deploy, {"provenance": null})
	count(deny) == 0 with input as doc with data.provenant_config as f.config
}
