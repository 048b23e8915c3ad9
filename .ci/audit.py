"""Audit the locked dependencies (requirements.lock) for known advisories with pip-audit,
when the advisory database can be reached; say so plainly when it cannot, and never fail CI
for being offline. Exit 1 only for a known advisory in a locked version.

Run with the audit environment's Python: `.venv-audit/bin/python .ci/audit.py requirements.lock`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

# A release with published advisories: if PyPI's data for it lists none, what this machine
# reaches is not the advisory database (a mirror without it, say).
PROBE = "https://pypi.org/pypi/aiohttp/3.9.0/json"


def advisories_reachable() -> str:
    """'' if PyPI's vulnerability data answers, else why not."""
    try:
        with urllib.request.urlopen(PROBE, timeout=20) as response:
            data = json.load(response)
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    if not data.get("vulnerabilities"):
        return "the index answers but carries no vulnerability data"
    return ""


def main(lock: str) -> int:
    why = advisories_reachable()
    if why:
        print(
            f"dependency audit SKIPPED: the advisory database cannot be reached from here ({why}). "
            f"This is not a failure; run `.venv-audit/bin/pip-audit -r {lock}` where it can."
        )
        return 0
    done = subprocess.run(
        [sys.executable, "-m", "pip_audit", "-r", lock, "--require-hashes", "--disable-pip",
         "--progress-spinner", "off", "--format", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print(f"dependency audit SKIPPED: pip-audit could not run ({done.stderr.strip()[-300:]})")
        return 0
    found = [(d["name"], d["version"], v["id"], ", ".join(v.get("fix_versions") or []))
             for d in report.get("dependencies", []) for v in d.get("vulns", [])]  # fmt: skip
    unaudited = [d["name"] for d in report.get("dependencies", []) if d.get("skip_reason")]
    if unaudited:
        print(
            f"dependency audit: could not audit {', '.join(unaudited)} (not found by the service)"
        )
    if found:
        print("dependency audit FAILED: known advisories in locked versions:")
        for name, version, ident, fixed in found:
            print(f"  {name} {version}: {ident} (fixed in {fixed or 'no release yet'})")
        print(f"Raise the floor in pyproject.toml and regenerate {lock} (see its header).")
        return 1
    audited = len(report.get("dependencies", [])) - len(unaudited)
    print(f"dependency audit: {audited} locked packages, no known advisories")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock"))
