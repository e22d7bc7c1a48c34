#!/usr/bin/env python3
"""Writes the policy corpus: one complete input document (policy-input/v1) per
case, as <case>/input.json (one directory per case, so that `opa test
policies/`, which loads every JSON file below it as data, loads each at its own
path data.corpus["<case>"]), and expected.json (the deny ids each case must give with
../data.example.json). A dev tool: edit the cases here, run it, commit the
JSON it writes. Digests are SHA-256 of a label, so they are stable."""

import copy
import hashlib
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent


def digest(label: str) -> str:
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


def commit(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


GH_ISSUER = "https://token.actions.githubusercontent.com"
REPO = "https://github.com/acme-ml/fraud-scorer"
RELEASE_WORKFLOW = REPO + "/.github/workflows/release.yml@refs/heads/main"
TRAIN_WORKFLOW = REPO + "/.github/workflows/train.yml@refs/heads/main"
MODEL_DIGEST = digest("model fraud/scorer v7")
RELEASE_KEY = digest("release key spki")
CI_CERT_KEY = digest("fulcio ephemeral key 7")
PROVENANCE_KEY = digest("provenance key spki")
BASE_IMAGE = digest("image ghcr.io/acme-ml/train-base:2024.10")
SERVER_IMAGE = digest("image ghcr.io/acme-ml/scorer-server:1.4.2")
DATASET_TRANSACTIONS = digest("dataset transactions-2024q4")
DATASET_MERCHANTS = digest("dataset merchant-categories v3")

CERT_SIGNATURE = {
    "digest": MODEL_DIGEST,
    "signer": RELEASE_WORKFLOW,
    "fingerprint": CI_CERT_KEY,
    "trusted": True,
    "certificate": {"identities": [RELEASE_WORKFLOW], "issuer": GH_ISSUER},
}

KEY_SIGNATURE = {
    "digest": MODEL_DIGEST,
    "signer": "release-key",
    "fingerprint": RELEASE_KEY,
    "trusted": True,
    "certificate": None,
}

TORCH_CRITICAL = {
    "id": "PYSEC-2022-43015",
    "aliases": ["CVE-2022-45907"],
    "severity": "critical",
    "purl": "pkg:pypi/torch@1.13.0",
    "package": "torch",
    "installed_version": "1.13.0",
    "fixed_versions": ["1.13.1"],
    "summary": "torch.jit.annotations.parse_type_line can cause arbitrary code execution because eval is used unsafely",
}

PYYAML_CRITICAL = {
    "id": "PYSEC-2021-142",
    "aliases": ["CVE-2020-14343"],
    "severity": "critical",
    "purl": "pkg:pypi/pyyaml@5.3.1",
    "package": "pyyaml",
    "installed_version": "5.3.1",
    "fixed_versions": ["5.4"],
    "summary": "arbitrary code execution when processing untrusted YAML through full_load or FullLoader",
}

MLFLOW_CRITICAL = {
    "id": "PYSEC-2023-29",
    "aliases": ["CVE-2023-1177"],
    "severity": "critical",
    "purl": "pkg:pypi/mlflow@2.2.0",
    "package": "mlflow",
    "installed_version": "2.2.0",
    "fixed_versions": ["2.2.1"],
    "summary": "path traversal in mlflow prior to 2.2.1",
}

PILLOW_HIGH = {
    "id": "PYSEC-2023-227",
    "aliases": ["CVE-2023-44271"],
    "severity": "high",
    "purl": "pkg:pypi/pillow@9.5.0",
    "package": "pillow",
    "installed_version": "9.5.0",
    "fixed_versions": ["10.0.0"],
    "summary": "denial of service through unlimited text length in ImageFont",
}


def component(name: str, version: str, licences: list) -> dict:
    return {"component": f"pkg:pypi/{name}@{version}", "name": name, "licenses": licences}


def deploy_input() -> dict:
    """The all-good deploy: every shipped policy allows it."""
    return {
        "schema": "https://provenant.dev/policy-input/v1",
        "action": "deploy",
        "artifact": {
            "reference": f"fraud/scorer@{MODEL_DIGEST}",
            "requested": f"fraud/scorer@{MODEL_DIGEST}",
            "pinned": True,
            "digest": MODEL_DIGEST,
            "namespace": "fraud",
            "model": "scorer",
            "number": 7,
            "labels": {"team": "risk", "task": "fraud-detection"},
            "state": "active",
            "state_reason": None,
            "aliases": ["production"],
            "license": "apache-2.0",
            "created_by": "ci-release",
            "created_at": "2025-03-04T10:12:33Z",
        },
        "signatures": [copy.deepcopy(CERT_SIGNATURE)],
        "provenance": {
            "digest": digest("provenance fraud/scorer v7"),
            "trusted": True,
            "signer": "provenance-key",
            "fingerprint": PROVENANCE_KEY,
            "builder": TRAIN_WORKFLOW,
            "build_type": "https://provenant.dev/buildtypes/ml-training/v1",
            "invocation_id": REPO + "/actions/runs/13654879012/attempts/1",
            "repository": REPO,
            "commit": commit("fraud-scorer main 2025-03-04"),
            "commit_signature": {"status": "verified", "signer": "alice@acme.example"},
            "datasets": [
                {"uri": "s3://acme-ml-datasets/fraud/transactions-2024q4/", "digest": DATASET_TRANSACTIONS},
                {"uri": "hf://datasets/acme-ml/merchant-categories@v3", "digest": DATASET_MERCHANTS},
            ],
            "hyperparameters": {"learning_rate": 0.0003, "epochs": 12, "batch_size": 256, "seed": 1234},
            "images": [BASE_IMAGE],
            "parents": [f"fraud/scorer-base@{digest('model fraud/scorer-base v2')}"],
        },
        "sbom": {
            "digest": digest("sbom fraud/scorer v7"),
            "trusted": True,
            "format": "cyclonedx-json",
            "components": 4,
            "licenses": [
                component("torch", "2.3.0", ["BSD-3-Clause"]),
                component("numpy", "1.26.4", ["BSD-3-Clause"]),
                component("scikit-learn", "1.4.2", ["BSD-3-Clause"]),
                component("requests", "2.32.3", ["Apache-2.0"]),
            ],
        },
        "findings": {
            "scanned": True,
            "scanned_at": "2025-03-04T10:20:05Z",
            "open": [],
            "suppressed": [],
        },
        "approvals": [],
        "target": {
            "environment": "production",
            "cluster": "prod-eu-1",
            "kubernetes_namespace": "fraud-scoring",
            "alias": None,
            "workload": {"kind": "Deployment", "name": "scorer", "namespace": "fraud-scoring"},
            "images": [
                {"image": f"ghcr.io/acme-ml/scorer-server@{SERVER_IMAGE}", "digest": SERVER_IMAGE},
            ],
        },
    }


def promote_input() -> dict:
    """The all-good promote: version 7 moved to the production alias, named
    by number, signed with a listed key."""
    i = deploy_input()
    i["action"] = "promote"
    i["artifact"]["requested"] = "fraud/scorer:7"
    i["artifact"]["pinned"] = False
    i["artifact"]["aliases"] = ["staging"]
    i["signatures"] = [copy.deepcopy(KEY_SIGNATURE)]
    i["target"] = {
        "environment": "production",
        "cluster": None,
        "kubernetes_namespace": None,
        "alias": "production",
        "workload": None,
        "images": [],
    }
    return i


def ingest_input() -> dict:
    """The all-good ingest: a push carrying its signature, provenance and
    SBOM, not yet scanned."""
    i = deploy_input()
    i["action"] = "ingest"
    i["artifact"]["requested"] = "fraud/scorer"
    i["artifact"]["pinned"] = False
    i["artifact"]["number"] = None
    i["artifact"]["aliases"] = []
    i["findings"] = {"scanned": False, "scanned_at": None, "open": [], "suppressed": []}
    i["target"] = {
        "environment": None,
        "cluster": None,
        "kubernetes_namespace": None,
        "alias": None,
        "workload": None,
        "images": [],
    }
    return i


def cases() -> dict:
    """name -> (input, expected effective denies as "package id")."""
    out = {}

    out["all-allow-deploy"] = (deploy_input(), [])
    out["all-allow-promote"] = (promote_input(), [])
    out["all-allow-ingest"] = (ingest_input(), [])

    # signed
    i = deploy_input()
    i["signatures"] = [copy.deepcopy(KEY_SIGNATURE), copy.deepcopy(CERT_SIGNATURE)]
    out["signed-allow-key-and-certificate"] = (i, [])

    i = deploy_input()
    i["signatures"] = []
    out["signed-deny-unsigned"] = (i, ["provenant.signed unsigned"])

    i = deploy_input()
    i["signatures"] = [{
        "digest": MODEL_DIGEST,
        "signer": "laptop-key",
        "fingerprint": digest("bob laptop key spki"),
        "trusted": False,
        "certificate": None,
    }]
    out["signed-deny-untrusted-signer"] = (i, ["provenant.signed untrusted_signer"])

    i = deploy_input()
    branch = REPO + "/.github/workflows/release.yml@refs/heads/experiment/fast-path"
    i["signatures"] = [{
        "digest": MODEL_DIGEST,
        "signer": branch,
        "fingerprint": digest("fulcio ephemeral key 9"),
        "trusted": True,
        "certificate": {"identities": [branch], "issuer": GH_ISSUER},
    }]
    out["signed-deny-identity-not-allowed"] = (i, ["provenant.signed identity_not_allowed"])

    # provenance
    i = deploy_input()
    other = "https://github.com/acme-ml/fraud-features"
    i["provenance"]["repository"] = other + ".git"
    i["provenance"]["builder"] = other + "/.github/workflows/train.yml@refs/heads/main"
    i["provenance"]["invocation_id"] = other + "/actions/runs/13654870001/attempts/2"
    out["provenance-allow-other-approved-repository"] = (i, [])

    i = deploy_input()
    i["provenance"] = None
    out["provenance-deny-missing"] = (i, ["provenant.provenance missing_provenance"])

    i = deploy_input()
    i["provenance"]["trusted"] = False
    i["provenance"]["signer"] = "unknown"
    i["provenance"]["fingerprint"] = digest("someone else's provenance key")
    out["provenance-deny-untrusted"] = (i, ["provenant.provenance untrusted_provenance"])

    i = deploy_input()
    i["provenance"]["builder"] = "https://provenant.dev/builders/local"
    i["provenance"]["invocation_id"] = None
    out["provenance-deny-unknown-builder"] = (i, ["provenant.provenance unknown_builder"])

    i = deploy_input()
    i["provenance"]["repository"] = "https://github.com/mallory/fraud-scorer"
    out["provenance-deny-unapproved-repository"] = (i, ["provenant.provenance unapproved_repository"])

    i = deploy_input()
    i["provenance"]["commit_signature"] = {"status": "unsigned", "signer": None}
    out["provenance-deny-unsigned-commit"] = (i, ["provenant.provenance unsigned_commit"])

    # datasets
    i = deploy_input()
    i["provenance"]["datasets"] = i["provenance"]["datasets"][:1]
    out["datasets-allow-approved"] = (i, [])

    i = deploy_input()
    i["provenance"]["datasets"].append({
        "uri": "https://huggingface.co/datasets/unknown-org/scraped-reviews",
        "digest": digest("dataset scraped-reviews"),
    })
    out["datasets-deny-unapproved-dataset"] = (i, ["provenant.datasets unapproved_dataset"])

    # vulnerabilities
    i = deploy_input()
    i["findings"]["open"] = [copy.deepcopy(PILLOW_HIGH)]
    i["findings"]["suppressed"] = [{
        "id": "PYSEC-2022-43015",
        "purl": "pkg:pypi/torch@1.13.0",
        "by": "vex",
        "reason": "vulnerable_code_not_in_execute_path",
        "expires": None,
    }]
    out["vulnerabilities-allow-high-and-suppressed"] = (i, [])

    i = deploy_input()
    i["findings"]["open"] = [copy.deepcopy(PYYAML_CRITICAL)]
    out["vulnerabilities-allow-policy-exception"] = (i, [])

    i = deploy_input()
    i["findings"]["open"] = [copy.deepcopy(TORCH_CRITICAL), copy.deepcopy(PILLOW_HIGH)]
    out["vulnerabilities-deny-critical"] = (i, ["provenant.vulnerabilities critical_vulnerability:PYSEC-2022-43015"])

    i = deploy_input()
    i["findings"]["open"] = [copy.deepcopy(MLFLOW_CRITICAL)]
    out["vulnerabilities-deny-expired-exception"] = (i, ["provenant.vulnerabilities critical_vulnerability:PYSEC-2023-29"])

    # deploy_digest
    i = promote_input()
    i["artifact"]["requested"] = "fraud/scorer:staging"
    out["deploy_digest-allow-promote-by-alias"] = (i, [])

    i = deploy_input()
    i["artifact"]["requested"] = "fraud/scorer:production"
    i["artifact"]["pinned"] = False
    out["deploy_digest-deny-mutable-tag"] = (i, ["provenant.deploy_digest mutable_reference"])

    i = deploy_input()
    i["target"]["images"].append({"image": "ghcr.io/acme-ml/feature-sidecar:1.2", "digest": None})
    out["deploy_digest-deny-image-without-digest"] = (i, ["provenant.deploy_digest image_without_digest"])

    i = deploy_input()
    i["provenance"]["images"] = [digest("image docker.io/library/python:3.12")]
    out["deploy_digest-deny-unapproved-base-image"] = (i, ["provenant.deploy_digest unapproved_base_image"])

    # lifecycle
    i = deploy_input()
    i["artifact"]["state"] = "active"
    i["artifact"]["state_reason"] = "reactivated after the recall review of 2025-04-02"
    out["lifecycle-allow-reactivated"] = (i, [])

    i = promote_input()
    i["artifact"]["state"] = "deprecated"
    i["artifact"]["state_reason"] = "superseded by version 8 (recall regression on card-not-present fraud)"
    out["lifecycle-deny-deprecated"] = (i, ["provenant.lifecycle deprecated_version"])

    i = deploy_input()
    i["artifact"]["state"] = "archived"
    i["artifact"]["state_reason"] = "retired 2025-06-30"
    out["lifecycle-deny-archived"] = (i, ["provenant.lifecycle archived_version"])

    # licences
    i = deploy_input()
    i["artifact"]["license"] = "cc-by-nc-4.0"
    i["target"]["environment"] = "staging"
    i["target"]["cluster"] = "staging-eu-1"
    out["licences-allow-non-commercial-in-staging"] = (i, [])

    i = deploy_input()
    i["artifact"]["license"] = "cc-by-nc-4.0"
    out["licences-deny-non-commercial"] = (i, ["provenant.licences licence_not_allowed"])

    i = deploy_input()
    i["sbom"]["licenses"].append(component("pyqt5", "5.15.10", ["GPL-3.0-only"]))
    i["sbom"]["components"] = len(i["sbom"]["licenses"])
    out["licences-deny-dependency"] = (i, ["provenant.licences licence_not_allowed"])

    return out


def main() -> None:
    expected = {}
    for old in HERE.glob("*/input.json"):
        old.unlink()
        old.parent.rmdir()
    for name, (doc, denies) in sorted(cases().items()):
        path = HERE / name / "input.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")
        expected[name] = sorted(denies)
    (HERE / "expected.json").write_text(json.dumps({"expected": expected}, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
