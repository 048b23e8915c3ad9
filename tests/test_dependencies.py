"""Dependencies: floors past known advisories, ruff bounded, and a hashed lock file that
satisfies pyproject.toml (.ci/run installs from it first, and audits it)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = (ROOT / "requirements.lock").read_text()


def declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    return [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]
    ]


def locked() -> dict[str, tuple[Version, int]]:
    """name → (version, number of hashes) from requirements.lock."""
    entries = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", LOCK):
        found = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", block)
        if found:
            name = re.sub(r"[-_.]+", "-", found.group(1)).lower()
            entries[name] = (Version(found.group(2)), block.count("--hash=sha256:"))
    return entries


def name(req: Requirement) -> str:
    return re.sub(r"[-_.]+", "-", req.name).lower()


def test_floors_are_past_the_known_advisories_and_ruff_is_bounded():
    """Item 11: aiohttp serves HTTP (Slack's HTTP mode, the Telegram webhook): 3.14.3 or
    later; Pillow (under matplotlib) 12.3.0 or later; ruff has an upper bound; Tornado is no
    longer pulled in (the webhook is aiohttp's)."""
    reqs = {name(r): r for r in declared()}
    assert not reqs["aiohttp"].specifier.contains("3.14.2")
    assert reqs["aiohttp"].specifier.contains("3.14.3")
    assert not reqs["pillow"].specifier.contains("12.2.0")
    assert any(s.operator == "<" for s in reqs["ruff"].specifier)
    assert "webhooks" not in reqs["python-telegram-bot"].extras
    assert "tornado" not in locked()


def test_the_lock_file_is_hashed_and_satisfies_pyproject():
    """Item 11: every declared dependency is locked at a version its specifier allows, and
    every locked package carries hashes (pip installs it with --require-hashes)."""
    lock = locked()
    for req in declared():
        if req.marker is not None and not req.marker.evaluate():
            continue
        assert name(req) in lock, f"{req.name} is not in requirements.lock: regenerate it"
        version, _ = lock[name(req)]
        assert req.specifier.contains(version, prereleases=True), f"{req} vs locked {version}"
    assert all(hashes >= 1 for _, hashes in lock.values())


def test_ci_installs_from_the_lock_before_the_readme_command_and_audits_it():
    run = (ROOT / ".ci" / "run").read_text()
    lock_at = run.index("--require-hashes -r requirements.lock")
    assert lock_at < run.index("pip install -q -e '.[test]'")
    assert ".ci/audit.py requirements.lock" in run
