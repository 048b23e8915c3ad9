"""The SSDA903 Missing table passes the DfE's own validator (csc-validator-be-903, import
name lac_validator): every Missing-table rule of the current ruleset, on an export of the
shipped scenarios. The validator's pins conflict with the project's, so it lives in its own
virtual environment, .venv-903, which .ci/run installs; without it these tests are skipped
saying so."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from bot.scenario import load_scenario
from handlers import exports
from storage import staff_store
from storage.models import Role
from tests.support.clock import LONDON, local
from tests.test_reports import open_harness

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = ROOT / ".venv-903" / "bin" / "python"
SCRIPT = ROOT / "tests" / "ssda903" / "validate_missing.py"
SCENARIOS = sorted((ROOT / "bot" / "scenarios").glob("*.yaml"))
# The rules that read the Missing table alone; the others also need the Episodes or Header
# tables (placements, legal status), which the bot does not keep, and the validator skips them.
MISSING_ONLY = {"1004", "1005", "1006", "564", "565", "566", "567", "570", "571", "574", "586"}

needs_validator = pytest.mark.skipif(
    not VALIDATOR.exists(),
    reason="the DfE validator's environment is not installed: python3 -m venv .venv-903 && "
    ".venv-903/bin/pip install csc-validator-be-903 (.ci/run does this)",
)


def validate(table: Path, year: int) -> tuple[int, dict]:
    done = subprocess.run(
        [str(VALIDATOR), str(SCRIPT), str(table), str(year)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def collection_year(start) -> int:
    """The DfE's collection year (the year it ends) of a date."""
    return start.year + 1 if start.month >= 4 else start.year


@needs_validator
def test_an_export_of_the_shipped_scenarios_passes_the_missing_table_rules(tmp_path, capsys):
    """The SSDA903 item: every shipped scenario played, exported as its team manager with
    --ssda903 in the validator's own convention, and all rows validated together."""
    rows: list[str] = []
    years = set()
    for path in SCENARIOS:
        scenario = load_scenario(path)
        db = tmp_path / f"{path.stem}.db"
        assert main(["simulate", str(path), "--db", str(db)]) == 0, path.name
        manager = next(s.id for s in scenario.staff if s.role is Role.TEAM_MANAGER)
        year = collection_year(scenario.start)
        years.add(year)
        out = tmp_path / path.stem
        assert main(["export", "--db", str(db), "--as", manager, "--ssda903", str(year),
                     "--out", str(out)]) == 0  # fmt: skip
        (table,) = out.glob("ssda903-missing-*.csv")
        header, *body = table.read_text().splitlines()
        assert header == "CHILD,DOB,MISSING,MIS_START,MIS_END"
        rows += body
    capsys.readouterr()
    assert len(years) == 1 and rows, "the scenarios fall in one collection year, with rows"
    combined = tmp_path / "ssda903-missing.csv"
    combined.write_text("\n".join(["CHILD,DOB,MISSING,MIS_START,MIS_END", *rows]) + "\n")
    code, report = validate(combined, years.pop())
    assert report["ruleset"] == "lac2026_27" and report["read_as"] == ["Missing"]
    assert set(report["run"]) >= MISSING_ONLY, report
    assert report["failed"] == {} and report["could_not_run"] == [], report
    assert code == 0


@needs_validator
@pytest.mark.rule("SUM-QUARTER")
async def test_a_period_open_on_31_march_has_no_end_in_that_years_return(tmp_path):
    """Rule 571 (an end after the collection year) and 574 (overlaps): a child missing over
    the end of March is still missing in the 2027 return; the next period follows it."""
    h = await open_harness(tmp_path, local("2027-03-31 20:00"))
    await h.say("sam", "/absent Jay 19:30 gone")
    await h.say("sam", "/police Jay ref WY-7 grade low")
    await h.until(local("2027-04-01 03:00"))
    await h.say("sam", "/found Jay 02:30 police brought back")
    hos = await staff_store.get_staff(h.db, "hos")
    text = await exports.ssda903_missing(h.db, hos, 2027, LONDON)
    await h.close()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["MIS_START"] == "31/03/2027" and row["MIS_END"] == ""
    table = tmp_path / "m.csv"
    table.write_text(text)
    code, report = validate(table, 2027)
    assert code == 0 and report["failed"] == {}, report


@needs_validator
def test_the_validator_really_refuses_a_bad_table(tmp_path):
    """The check can fail: an end before its start (567) and a period starting while the last
    is open (574) are caught."""
    table = tmp_path / "bad.csv"
    table.write_text(
        "CHILD,DOB,MISSING,MIS_START,MIS_END\n"
        "C-1,02/05/2011,M,02/04/2026,01/04/2026\n"
        "C-2,02/05/2011,A,05/05/2026,\n"
        "C-2,02/05/2011,M,06/05/2026,07/05/2026\n"
    )
    code, report = validate(table, 2027)
    assert code == 1 and {"567", "574"} <= set(report["failed"])


def test_the_collection_year_is_the_year_the_return_ends():
    """`--ssda903` takes the DfE's (and the validator's) collectionYear: 2027 = 2026-27."""
    start, end = exports.collection_year(2027, LONDON)
    assert (start.date().isoformat(), end.date().isoformat()) == ("2026-04-01", "2027-04-01")
    for given in ("2027", "2026-27", "2026/27", "2026-2027"):
        assert exports.read_collection_year(given) == 2027
    with pytest.raises(ValueError, match="the year the return ends"):
        exports.read_collection_year("2026-28")
