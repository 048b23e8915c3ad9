"""Every command the README shows that can run offline runs as written, in a fresh folder:
its `whereabouts` command blocks (in the order given), the scenario example, and the bench
commands' form (rough edges a newcomer hit, issue 19)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from bot.cli import demo_team_path, main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PROGRAM = ".venv/bin/whereabouts "
# What a command needs that this test can't give it, by its first words.
NOT_OFFLINE = {
    "run": "needs a chat platform's token and network",
    "console": "interactive",
    "rota import": "reads the reader's own rota file",
    "rota remove": "needs a shift id from `rota list`",
}
PLACEHOLDER = re.compile(r"\b(?:FILE|ID|TEXT|DAY|SCENARIO)\b|<|…")


def command_lines() -> list[str]:
    """`whereabouts …` lines of the README's indented command blocks, comments dropped."""
    found = []
    for line in README.splitlines():
        text = line.strip()
        if not line.startswith("    ") or PROGRAM not in text:
            continue
        command = text.split(PROGRAM, 1)[1].split("  #", 1)[0].strip()
        if text.split(PROGRAM, 1)[0].strip() not in ("", "&&") and "=" in text.split(PROGRAM)[0]:
            continue  # TOKEN=… whereabouts run: needs a platform
        found.append(command)
    return found


def runnable(command: str) -> list[list[str]]:
    """The argv lists a README line stands for: optional [parts] left out, `a|b` both."""
    plain = re.sub(r"\s*\[[^\]]*\]", "", command)
    if PLACEHOLDER.search(plain):
        return []
    if any(plain == k or plain.startswith(k + " ") for k in NOT_OFFLINE):
        return []
    words = shlex.split(plain)
    if any("|" in w for w in words):
        (at,) = [i for i, w in enumerate(words) if "|" in w]
        return [words[:at] + [alt] + words[at + 1 :] for alt in words[at].split("|")]
    return [words]


def scenario_example() -> str:
    section = README.split("## Scenarios", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_readme_commands_run_as_written_in_a_fresh_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WHEREABOUTS_DB", raising=False)
    shutil.copy(demo_team_path(), tmp_path / "team.yaml")  # "copy it and change the people"
    ran = []
    for line in command_lines():
        for argv in runnable(line):
            code = main(argv)
            out = capsys.readouterr()
            assert code == 0, f"`whereabouts {' '.join(argv)}` exited {code}: {out.err}"
            assert "Traceback" not in out.err
            ran.append(argv[0])
    assert {"import", "list", "invite", "export", "backup", "check", "rota", "demo"} <= set(ran)
    assert not list(tmp_path.glob("backups/*-wal")), "the backup is one file"


def test_the_scenario_example_plays_as_written(tmp_path, capsys):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(scenario_example())
    assert main(["simulate", str(scenario), "--strict"]) == 0, capsys.readouterr().err
    assert "Recorded" in capsys.readouterr().out


@pytest.mark.parametrize("script", sorted(set(re.findall(r"`[^`]*?(bench/\w+\.py)", README))))
def test_bench_commands_name_the_projects_python_and_a_script_that_exists(script):
    """The bench commands run without an activated environment: `.venv/bin/python bench/…`."""
    assert (ROOT / script).exists()
    uses = re.findall(rf"`([^`]*{re.escape(script)}[^`]*)`", README)
    assert uses and all(u.startswith(".venv/bin/python ") for u in uses), uses
