#!/bin/sh
# Dev tool: evaluates every input of policies/corpus with OPA against the
# shipped policies (test files left out) and policies/data.example.json, and
# checks that the effective denies (enforce-mode denies not suppressed by a
# valid exception, as the engine decides) are exactly those listed in
# corpus/expected.json, and that a case denies exactly when its name says so.
#
#   policies/check-corpus.sh [-v]      (OPA from $OPA, else `opa` on PATH)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
OPA=${OPA:-opa}
exec python3 - "$here" "$OPA" "$@" <<'PY'
import datetime, json, pathlib, subprocess, sys

here = pathlib.Path(sys.argv[1])
opa = sys.argv[2]
verbose = "-v" in sys.argv[3:]
modules = sorted(p for p in here.rglob("*.rego")
                 if not p.name.endswith("_test.rego") and "corpus" not in p.parts)
data = here / "data.example.json"
expected = json.loads((here / "corpus" / "expected.json").read_text())["expected"]
now = datetime.datetime.now(datetime.timezone.utc)


def packages(node, path):
    """(package name, package document) for every package under node."""
    if not isinstance(node, dict):
        return
    if any(k in node for k in ("deny", "warn", "exception", "mode")):
        yield ".".join(path), node
    for k, v in node.items():
        if k not in ("deny", "warn", "exception", "mode") and isinstance(v, dict):
            yield from packages(v, path + [k])


def valid(e):
    if not isinstance(e, dict) or not e.get("justification") or not isinstance(e.get("expires"), str):
        return False
    try:
        t = datetime.datetime.fromisoformat(e["expires"].replace("Z", "+00:00"))
    except ValueError:
        return False
    return t.tzinfo is not None and t > now


def effective(raw):
    out, warns = [], []
    for pkg, doc in packages(raw, ["provenant"]):
        mode = doc.get("mode", "enforce")
        excepted = {e["id"] for e in doc.get("exception", []) if valid(e)}
        for d in doc.get("deny", []):
            ident = d.get("id") if isinstance(d, dict) else None
            msg = d.get("msg") if isinstance(d, dict) else d
            if mode == "enforce" and ident not in excepted:
                out.append((pkg, ident, msg))
            else:
                warns.append((pkg, ident, msg))
        for w in doc.get("warn", []):
            warns.append((pkg, w.get("id") if isinstance(w, dict) else None,
                          w.get("msg") if isinstance(w, dict) else w))
    return sorted(out), sorted(warns)


failed = 0
cases = sorted((here / "corpus").glob("*/input.json"))
for path in cases:
    case = path.parent
    cmd = [opa, "eval", "--format", "json", "-d", str(data), "-i", str(path)]
    for m in modules:
        cmd += ["-d", str(m)]
    cmd.append("data.provenant")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL {case.name}: opa eval failed: {r.stderr.strip() or r.stdout.strip()}")
        failed += 1
        continue
    raw = json.loads(r.stdout)["result"][0]["expressions"][0]["value"]
    denies, warns = effective(raw)
    got = sorted(f"{p} {i}" for p, i, _ in denies)
    want = expected.get(case.name)
    problems = []
    if want is None:
        problems.append("not listed in corpus/expected.json")
    elif sorted(set(got)) != sorted(set(want)):
        problems.append(f"denies {sorted(set(got))}, expected {sorted(set(want))}")
    says_deny = "-deny-" in case.name
    if says_deny != bool(denies):
        problems.append("named " + ("deny" if says_deny else "allow") + " but " + ("denied" if denies else "allowed"))
    if says_deny and denies and not all(p == "provenant." + case.name.split("-")[0] for p, _, _ in denies):
        problems.append("denied by a policy other than the one it is named for")
    status = "FAIL" if problems else "ok  "
    print(f"{status} {case.name}" + (": " + "; ".join(problems) if problems else ""))
    if problems or verbose:
        for p, i, m in denies:
            print(f"       deny {p} [{i}] {m}")
        for p, i, m in warns:
            print(f"       warn {p} [{i}] {m}")
    failed += bool(problems)

print(f"{len(cases) - failed}/{len(cases)} corpus cases as expected")
sys.exit(1 if failed else 0)
PY
