"""The catalogue of rule ids from ../shared/RULES.md: every timed or conditional duty.

Every timer, reminder and message names one of these ids, so a reader can go from a chat
message back to the protocol sentence that demands it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    sources: str


@cache
def catalogue() -> dict[str, Rule]:
    text = resources.files("config").joinpath("rules.yaml").read_text(encoding="utf-8")
    return {item["id"]: Rule(**item) for item in yaml.safe_load(text)}


def rule(rule_id: str) -> Rule:
    """The rule with this id; KeyError names an id that is not in RULES.md."""
    try:
        return catalogue()[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id {rule_id!r}: not in RULES.md") from None
