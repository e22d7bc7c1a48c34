# Deploy by digest only. On a deploy:
# - the model must be named by digest (input.artifact.pinned); a tag, alias
#   or version number is refused (mutable_reference), or only warned about
#   when data.provenant_config.resolve_mutable_references is true (the gate
#   then deploys the digest it resolved);
# - every container image of the workload (input.target.images) must be
#   named by digest (image_without_digest);
# - when data.provenant_config.approved_base_images is set, every image the
#   provenance names must be in it (unapproved_base_image).
#
# Applies to deploy only.
package provenant.deploy_digest

import data.lib.provenant as lib

deploy if lib.action == "deploy"

resolve := lib.setting("resolve_mutable_references", false) == true

pinned if input.artifact.pinned == true

requested := lib.text(input.artifact.requested)

deny contains lib.violation("mutable_reference", msg) if {
	deploy
	not pinned
	not resolve
	msg := sprintf(
		"deploy names %s, a mutable reference; deploy by digest (%s)",
		[requested, lib.artifact_name],
	)
}

warn contains lib.violation("mutable_reference", msg) if {
	deploy
	not pinned
	resolve
	msg := sprintf("deploy names %s, a mutable reference, resolved to %s", [requested, lib.artifact_name])
}

images := [i | some i in lib.list(input.target.images); is_object(i)]

deny contains lib.violation_with("image_without_digest", msg, {"image": image}) if {
	deploy
	some i in images
	not lib.is_digest(i.digest)
	image := lib.text(i.image)
	msg := sprintf("container image %s is not named by digest", [image])
}

approved_base_images := {d | some d in lib.list(lib.config.approved_base_images); is_string(d)}

base_images_configured if is_array(lib.config.approved_base_images)

deny contains lib.violation_with("unapproved_base_image", msg, {"image": image}) if {
	deploy
	base_images_configured
	some image in lib.list(lib.provenance.images)
	not image in approved_base_images
	msg := sprintf(
		"%s was built on image %s, not an approved base image (data.provenant_config.approved_base_images)",
		[lib.artifact_name, lib.text(image)],
	)
}
