# Test fixtures shared by the policies' unit tests: a deploy every shipped
# policy allows (the corpus's all-allow-deploy.json) and the configuration of
# data.example.json. A test file, so never loaded for decisions.
package lib.provenant_fixtures

deploy := {
	"schema": "https://provenant.dev/policy-input/v1",
	"action": "deploy",
	"artifact": {
		"reference": "fraud/scorer@sha256:77986980768ac7664f47254319ba5b5aa2a8115f7a6e8bc10b291a629ff00000",
		"requested": "fraud/scorer@sha256:77986980768ac7664f47254319ba5b5aa2a8115f7a6e8bc10b291a629ff00000",
		"pinned": true,
		"digest": "sha256:77986980768ac7664f47254319ba5b5aa2a8115f7a6e8bc10b291a629ff00000",
		"namespace": "fraud",
		"model": "scorer",
		"number": 7,
		"labels": {
			"team": "risk",
			"task": "fraud-detection",
		},
		"state": "active",
		"state_reason": null,
		"aliases": [
			"production",
		],
		"license": "apache-2.0",
		"created_by": "ci-release",
		"created_at": "2025-03-04T10:12:33Z",
	},
	"signatures": [
		{
			"digest": "sha256:77986980768ac7664f47254319ba5b5aa2a8115f7a6e8bc10b291a629ff00000",
			"signer": "https://github.com/acme-ml/fraud-scorer/.github/workflows/release.yml@refs/heads/main",
			"fingerprint": "sha256:6b221428729f37c3d72707508ae80e89ef90d4278197033f370dab9a8092a5f9",
			"trusted": true,
			"certificate": {
				"identities": [
					"https://github.com/acme-ml/fraud-scorer/.github/workflows/release.yml@refs/heads/main",
				],
				"issuer": "https://token.actions.githubusercontent.com",
			},
		},
	],
	"provenance": {
		"digest": "sha256:d1fc64c89d7dd879c770620a2ced8cd1a938ca9a7d9fdbfabe549c1d0b2950cc",
		"trusted": true,
		"signer": "provenance-key",
		"fingerprint": "sha256:a6b83064234996818e09363d6be65bc9e580ce4877bf9908f7146e41d1f56021",
		"builder": "https://github.com/acme-ml/fraud-scorer/.github/workflows/train.yml@refs/heads/main",
		"build_type": "https://provenant.dev/buildtypes/ml-training/v1",
		"invocation_id": "https://github.com/acme-ml/fraud-scorer/actions/runs/13654879012/attempts/1",
		"repository": "https://github.com/acme-ml/fraud-scorer",
		"commit": "75497bd03d16fb0d1d2256476920faade2051ab2",
		"commit_signature": {
			"status": "verified",
			"signer": "alice@acme.example",
		},
		"datasets": [
			{
				"uri": "s3://acme-ml-datasets/fraud/transactions-2024q4/",
				"digest": "sha256:e7e5479a9798e8fea829621c3638aaea4c4c486b8f7028f90bf16bbf07b1a005",
			},
			{
				"uri": "hf://datasets/acme-ml/merchant-categories@v3",
				"digest": "sha256:b6a69b174232c5409a2b0ace26a125a16c06ca5b64f4c9d65bb1b5e0dbad5111",
			},
		],
		"hyperparameters": {
			"learning_rate": 0.0003,
			"epochs": 12,
			"batch_size": 256,
			"seed": 1234,
		},
		"images": [
			"sha256:16f8e4f6d5da8bd3c399bc609e1ec6f304de67cc2a845573c26120cf4fd31c68",
		],
		"parents": [
			"fraud/scorer-base@sha256:02efda983b41eb776f59d04ca3fb99bc56e18a4fa1e76da25453aba509d55385",
		],
	},
	"sbom": {
		"digest": "sha256:13767f517ac544e01c3ffd572643eb23fbc01dcd70ba2f27de00a85593545763",
		"trusted": true,
		"format": "cyclonedx-json",
		"components": 4,
		"licenses": [
			{
				"component": "pkg:pypi/torch@2.3.0",
				"name": "torch",
				"licenses": [
					"BSD-3-Clause",
				],
			},
			{
				"component": "pkg:pypi/numpy@1.26.4",
				"name": "numpy",
				"licenses": [
					"BSD-3-Clause",
				],
			},
			{
				"component": "pkg:pypi/scikit-learn@1.4.2",
				"name": "scikit-learn",
				"licenses": [
					"BSD-3-Clause",
				],
			},
			{
				"component": "pkg:pypi/requests@2.32.3",
				"name": "requests",
				"licenses": [
					"Apache-2.0",
				],
			},
		],
	},
	"findings": {
		"scanned": true,
		"scanned_at": "2025-03-04T10:20:05Z",
		"open": [],
		"suppressed": [],
	},
	"approvals": [],
	"target": {
		"environment": "production",
		"cluster": "prod-eu-1",
		"kubernetes_namespace": "fraud-scoring",
		"alias": null,
		"workload": {
			"kind": "Deployment",
			"name": "scorer",
			"namespace": "fraud-scoring",
		},
		"images": [
			{
				"image": "ghcr.io/acme-ml/scorer-server@sha256:bc619b742f669af793191a7fa718e5594b277e193945d1e4f89f314a7cfc7474",
				"digest": "sha256:bc619b742f669af793191a7fa718e5594b277e193945d1e4f89f314a7cfc7474",
			},
		],
	},
}

config := {
	"trusted_identities": {
		"keys": [
			"sha256:311113a3deb72e4005cba06f2337ba6d193a4840ca5a489115e438f4daa8b7da",
		],
		"certificates": [
			{
				"identity": "https://github.com/acme-ml/*/.github/workflows/release.yml@refs/heads/main",
				"issuer": "https://token.actions.githubusercontent.com",
			},
			{
				"identity": "mailto:release-bot@acme.example",
				"issuer": "https://accounts.google.com",
			},
		],
	},
	"approved_builders": [
		"https://github.com/acme-ml/*/.github/workflows/train.yml@refs/heads/main",
		"https://gitlab.acme.example/ml/**",
	],
	"approved_repositories": [
		"https://github.com/acme-ml/*",
		"https://gitlab.acme.example/ml/**",
	],
	"require_signed_commits": true,
	"approved_datasets": {
		"sha256:e7e5479a9798e8fea829621c3638aaea4c4c486b8f7028f90bf16bbf07b1a005": {
			"name": "s3://acme-ml-datasets/fraud/transactions-2024q4/",
			"approved_by": "data-governance (DG-2024-118)",
		},
		"sha256:b6a69b174232c5409a2b0ace26a125a16c06ca5b64f4c9d65bb1b5e0dbad5111": {
			"name": "hf://datasets/acme-ml/merchant-categories@v3",
			"approved_by": "data-governance (DG-2024-131)",
		},
	},
	"blocking_severities": [
		"critical",
	],
	"warning_severities": [
		"high",
	],
	"require_vulnerability_scan": false,
	"vulnerability_exceptions": [
		{
			"advisory": "CVE-2020-14343",
			"justification": "pyyaml is only used with safe_load on configuration the image ships; upgrade tracked in RISK-1423",
			"expires": "2099-12-31T00:00:00Z",
		},
		{
			"advisory": "PYSEC-2023-29",
			"justification": "the mlflow tracking server is not exposed from the scoring image",
			"expires": "2020-12-31T00:00:00Z",
		},
	],
	"resolve_mutable_references": false,
	"approved_base_images": [
		"sha256:16f8e4f6d5da8bd3c399bc609e1ec6f304de67cc2a845573c26120cf4fd31c68",
	],
	"allowed_licences": [
		"Apache-2.0",
		"MIT",
		"BSD-2-Clause",
		"BSD-3-Clause",
		"ISC",
		"PSF-2.0",
		"MPL-2.0",
		"openrail",
	],
	"licence_checked_environments": [
		"production",
	],
}

# A signature by the listed release key (no certificate).
key_signature := {
	"digest": deploy.artifact.digest,
	"signer": "release-key",
	"fingerprint": "sha256:311113a3deb72e4005cba06f2337ba6d193a4840ca5a489115e438f4daa8b7da",
	"trusted": true,
	"certificate": null,
}

# A signature by a GitHub Actions workflow certificate.
certificate_signature(identity, issuer) := {
	"digest": deploy.artifact.digest,
	"signer": identity,
	"fingerprint": "sha256:a7b9ffa3d129fc07c99f4819b154bf232adb4f3635821bca8746781d73c762f1",
	"trusted": true,
	"certificate": {"identities": [identity], "issuer": issuer},
}

# An open finding.
finding(id, aliases, severity, pkg, version) := {
	"id": id,
	"aliases": aliases,
	"severity": severity,
	"purl": sprintf("pkg:pypi/%s@%s", [pkg, version]),
	"package": pkg,
	"installed_version": version,
	"fixed_versions": [],
	"summary": "test finding",
}

# The ids of a set of deny or warn objects.
ids(results) := {r.id | some r in results}
