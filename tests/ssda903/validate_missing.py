"""Run the DfE's SSDA903 validator (csc-validator-be-903, import name lac_validator) on a
Missing table, with the rules of a collection year that read the Missing table.

Runs in its own virtual environment (its pins, numpy<1.25 and pandas<2, conflict with the
project's): `.venv-903/bin/python tests/ssda903/validate_missing.py FILE.csv YEAR`, where
YEAR is the validator's `collectionYear`, the year the return ends (2027 = April 2026 to
March 2027). Prints one JSON object: the ruleset, the table the file was read as, the rules
run, those skipped for want of other tables, and each rule's failing rows. Exit 0 if no
rule failed, 1 if one did, 2 if the file was not read as a Missing table.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    path, year = Path(argv[0]), int(argv[1])
    logging.disable(logging.CRITICAL)  # the validator logs at INFO as it goes
    from lac_validator import lac_validator
    from lac_validator.ingress import read_from_text

    ruleset = f"lac{year - 1}_{year % 100:02d}"
    registry = importlib.import_module(f"lac_validator.rules.{ruleset}").registry
    missing_rules = {code: rule for code, rule in registry.items() if "Missing" in rule.tables}
    files = [{"name": path.name, "file_content": path.read_bytes(), "description": "This year"}]
    tables, _ = read_from_text(files)
    if set(tables) != {"Missing"}:
        print(json.dumps({"ruleset": ruleset, "read_as": sorted(tables)}))
        return 2
    checked = lac_validator.LacValidator(
        metadata={"collectionYear": str(year), "localAuthority": "E08000035"},
        files=files,
        registry=missing_rules,
    )
    results = checked.ds_results["Missing"]
    failed = {
        code: [int(i) for i in results.index[results[f"ERR_{code}"].fillna(False).astype(bool)]]
        for code in checked.dones
        if f"ERR_{code}" in results
    }
    failed = {code: rows for code, rows in failed.items() if rows}
    print(
        json.dumps(
            {
                "ruleset": ruleset,
                "read_as": ["Missing"],
                "rows": len(results),
                "run": sorted(map(str, checked.dones)),
                "skipped": sorted(map(str, checked.skips)),
                "could_not_run": sorted(map(str, checked.fails)),
                "failed": failed,
            }
        )
    )
    return 1 if failed or checked.fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
