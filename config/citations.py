"""The footer a message ends with: its rule ids and the child's own area's sections.

A person reads what happened and what to do first; the footer after it keeps the trail from
a chat message back to the protocol sentence ("ABS-OOH · West Yorkshire §8"). Sections come
from the catalogue's sources (config/rules.yaml, copied from RULES.md), filtered to the area
whose protocol the child is under: a West Yorkshire episode never cites Jersey's protocol.
A rule the area's preset adopted from another protocol says so instead of citing the other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from config.presets import AREAS, load_preset
from config.rules import catalogue

SEPARATOR = " · "
BETWEEN_RULES = "; "
ADOPTED = "(adopted)"

# A footer line: rule ids, each with an optional " · place §section" after it.
_RULE_ID = r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+"
FOOTER_LINE = re.compile(rf"^{_RULE_ID}(?:{SEPARATOR}[^;\n]+)?(?:{BETWEEN_RULES}{_RULE_ID}.*)?$")


@cache
def _sections(rule_id: str) -> dict[str, tuple[str, ...]]:
    """A rule's sources by protocol code: 'J §5.8, WY §8' -> {'J': ('§5.8',), 'WY': ('§8',)}.
    A token without a code continues the one before it ('H §6.7.1, §6.7.2')."""
    codes = _codes()
    found: dict[str, list[str]] = {}
    current: str | None = None
    for token in (t.strip() for t in catalogue()[rule_id].sources.split(",")):
        head, _, rest = token.partition(" ")
        if head in codes:
            current = head
            found.setdefault(head, [])
            if rest:
                found[head].append(rest)
        elif current is not None and token:
            found[current].append(token)
    return {code: tuple(sections) for code, sections in found.items()}


@cache
def _codes() -> frozenset[str]:
    return frozenset(c.code for area in AREAS if (c := load_preset(area).cite_as) is not None)


def citation(rule_id: str, area: str | None) -> str:
    """'ABS-OOH · West Yorkshire §8'; the id alone when no area is known (a message about
    no one child) or the rule is not in the catalogue."""
    if area is None or area not in AREAS or rule_id not in catalogue():
        return rule_id
    cite = load_preset(area).cite_as
    if cite is None:
        return rule_id
    sections = _sections(rule_id)
    if cite.code not in sections:
        return f"{rule_id}{SEPARATOR}{cite.name} {ADOPTED}"
    where = ", ".join(sections[cite.code])
    return f"{rule_id}{SEPARATOR}{cite.name} {where}".rstrip()


def footer(rule_ids: Sequence[str], area: str | None) -> str:
    """The footer line for a message sent for these rules, in the given area."""
    return BETWEEN_RULES.join(citation(rule_id, area) for rule_id in dict.fromkeys(rule_ids))


def split_footer(text: str) -> tuple[str, str | None]:
    """(the message without its footer, the footer or None)."""
    body, newline, last = text.rpartition("\n")
    if newline and FOOTER_LINE.match(last):
        return body, last
    return text, None


def joined_footers(footers: Sequence[str]) -> str:
    """One footer for a message merged from several: each rule's citation once, in order."""
    parts = [part for line in footers for part in line.split(BETWEEN_RULES)]
    return BETWEEN_RULES.join(dict.fromkeys(parts))
