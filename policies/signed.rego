# The artifact carries a signature that the registry trusts, made by an
# allowed identity: a key fingerprint in trusted_identities.keys, or a
# certificate whose identity and issuer match an entry of
# trusted_identities.certificates.
#
# Applies to every action (ingest, promote, deploy).
#
# Deny ids: unsigned, untrusted_signer, identity_not_allowed. Warn id:
# unsupported_pattern (a configured identity glob outside the supported set).
package provenant.signed

import data.lib.provenant as lib

identities := lib.setting("trusted_identities", {})

allowed_keys := {k | some k in lib.list(object.get(identities, "keys", [])); is_string(k)}

certificate_rules := [r |
	some r in lib.list(object.get(identities, "certificates", []))
	is_object(r)
]

# A signature the registry trusts (the namespace trusts its key).
trusted_signature(sig) if sig.trusted == true

# The signature's key is an allowed key.
allowed_signer(sig) if sig.fingerprint in allowed_keys

# The signature's certificate names an allowed identity from an allowed
# issuer. The issuer is compared exactly; an entry without an issuer matches
# nothing.
allowed_signer(sig) if {
	cert := sig.certificate
	is_object(cert)
	is_string(cert.issuer)
	some rule in certificate_rules
	rule.issuer == cert.issuer
	some identity in lib.list(cert.identities)
	lib.matches(rule.identity, identity)
}

trusted_signatures := [sig | some sig in lib.signatures; trusted_signature(sig)]

allowed_signatures := [sig | some sig in trusted_signatures; allowed_signer(sig)]

# Who signed, for messages: the signer and its fingerprint.
describe(sig) := sprintf("%s (%s, certificate for %s from %s)", [sig.signer, sig.fingerprint, concat(" ", cert_identities(sig)), sig.certificate.issuer]) if {
	is_string(sig.signer)
	is_string(sig.fingerprint)
	count(cert_identities(sig)) > 0
	is_string(sig.certificate.issuer)
} else := sprintf("%s (%s)", [sig.signer, sig.fingerprint]) if {
	is_string(sig.signer)
	is_string(sig.fingerprint)
} else := sprintf("%s", [sig.fingerprint]) if {
	is_string(sig.fingerprint)
} else := "an unknown signer"

cert_identities(sig) := [i | some i in lib.list(sig.certificate.identities); is_string(i)] if {
	is_object(sig.certificate)
} else := []

signers(sigs) := concat(", ", sort({describe(sig) | some sig in sigs}))

deny contains lib.violation("unsigned", msg) if {
	count(lib.signatures) == 0
	msg := sprintf("%s has no signature", [lib.artifact_name])
}

deny contains lib.violation("untrusted_signer", msg) if {
	count(lib.signatures) > 0
	count(trusted_signatures) == 0
	msg := sprintf(
		"%s is signed, but by no key namespace %s trusts: %s",
		[lib.artifact_name, lib.namespace, signers(lib.signatures)],
	)
}

deny contains lib.violation("identity_not_allowed", msg) if {
	count(trusted_signatures) > 0
	count(allowed_signatures) == 0
	msg := sprintf(
		"%s is signed by trusted keys, but no signer is an allowed identity (data.provenant_config.trusted_identities): %s",
		[lib.artifact_name, signers(trusted_signatures)],
	)
}

warn contains lib.violation("unsupported_pattern", msg) if {
	some pattern in lib.unsupported_patterns([r.identity | some r in certificate_rules])
	msg := sprintf(
		"trusted identity pattern %s uses glob syntax outside the supported set; it matches only its exact text",
		[pattern],
	)
}
