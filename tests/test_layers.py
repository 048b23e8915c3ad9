"""Layers point down only: bot -> handlers -> reminders -> storage; config is read by all and
imports nothing of theirs but the plain data types of storage.models."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("storage", "reminders", "handlers", "bot")  # each may import those before it
CONFIG_MAY_IMPORT = {"storage.models"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module imported anywhere in the file (function-level imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return found


def _violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in _imports(path):
            top = module.split(".")[0]
            if package == "config":
                allowed = any(module == m or module.startswith(m + ".") for m in CONFIG_MAY_IMPORT)
                if top in LAYERS and not allowed:
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {module}")
            elif top in LAYERS and LAYERS.index(top) > LAYERS.index(package):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    return bad


def test_no_layer_imports_a_higher_one():
    bad = [v for package in LAYERS for v in _violations(package)]
    assert not bad, "imports pointing up:\n" + "\n".join(bad)


def test_config_imports_only_plain_data_types():
    bad = _violations("config")
    assert not bad, "config imports code of the layers it configures:\n" + "\n".join(bad)
