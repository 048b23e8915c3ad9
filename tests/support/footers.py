"""Reading a message's footer in tests: the rule ids it names."""

from __future__ import annotations

from config.citations import BETWEEN_RULES, SEPARATOR, split_footer


def footer_rules(text: str) -> list[str]:
    """The rule ids a message's footer names ('ABS-SW · West Yorkshire §3; MIS-NOTIFY …'),
    or [] when it ends with no footer."""
    _, footer = split_footer(text)
    if footer is None:
        return []
    return [part.split(SEPARATOR, 1)[0] for part in footer.split(BETWEEN_RULES)]
