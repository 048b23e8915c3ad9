"""Personal notification rules: by which methods, and how long after it, an alert reaches a
person. Pure: the caller reads the rules and the person's verified methods.

A chain is an ordered list of (method, delay): chat at once, then e.g. SMS after 5 minutes
if nobody has taken the alert. There is one chain for urgent alerts and one for routine
ones. The person's own chain wins, then their role's (set by a manager), then the service's
default in the child's area preset. Chat always goes at once; a method the person has no
verified number or address for is skipped (and /notify says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from pydantic import TypeAdapter, ValidationError

from config.presets import NotificationRules, NotifyChain, NotifyStep

Chain = tuple[tuple[str, timedelta], ...]
METHOD_NAMES = {"chat": "chat", "sms": "SMS", "email": "e-mail"}
_ALIASES = {"text": "sms", "e-mail": "email", "mail": "email", "app": "chat"}
_CHAIN: TypeAdapter[tuple[NotifyStep, ...]] = TypeAdapter(NotifyChain)


@dataclass(frozen=True)
class Decision:
    chain: Chain  # the chain in force
    source: str  # whose it is: "yours", "your role's default", "the service's default"
    sends: Chain  # the methods beyond chat that will be used, with their delays
    skipped: tuple[str, ...]  # methods the chain names that the person has no way to receive


def service_chain(rules: NotificationRules, urgent: bool) -> Chain:
    return tuple((s.method, s.after) for s in (rules.urgent if urgent else rules.routine))


def decide(
    urgent: bool,
    service: NotificationRules,
    role: Chain | None,
    own: Chain | None,
    verified: set[str],
) -> Decision:
    if own is not None:
        chain, source = own, "yours"
    elif role is not None:
        chain, source = role, "your role's default"
    else:
        chain, source = service_chain(service, urgent), "the service's default"
    sends = tuple((m, after) for m, after in chain if m != "chat" and m in verified)
    skipped = tuple(m for m, _ in chain if m != "chat" and m not in verified)
    return Decision(chain, source, sends, skipped)


def parse_chain(text: str) -> Chain:
    """'chat 0, sms 5' (minutes; '5m', '1h', 'now' too) -> the chain; ValueError says what to
    type instead. Checked by the same rules as a preset's (config.presets.NotifyChain)."""
    steps = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        words = part.lower().split()
        method = _ALIASES.get(words[0], words[0])
        if method not in METHOD_NAMES or len(words) > 2:
            raise ValueError(
                f"{part!r}: a method (chat, sms, email) and minutes after the alert, "
                "e.g. 'chat 0, sms 5'"
            )
        delay = words[1] if len(words) == 2 else "0"
        if delay in ("now", "0", "at-once"):
            after = timedelta(0)
        elif re.fullmatch(r"\d{1,4}", delay):
            after = timedelta(minutes=int(delay))
        elif found := re.fullmatch(r"(\d{1,3})(m|min|h)", delay):
            amount = int(found.group(1))
            after = timedelta(hours=amount) if found.group(2) == "h" else timedelta(minutes=amount)
        else:
            raise ValueError(f"{part!r}: the delay in minutes (sms 5) or hours (email 1h)")
        steps.append({"method": method, "after": after})
    if not steps:
        raise ValueError("give at least one method, e.g. 'chat 0, sms 5'")
    try:
        checked = _CHAIN.validate_python(steps)
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    return tuple((s.method, s.after) for s in checked)


def _delay_words(after: timedelta) -> str:
    minutes = int(after.total_seconds() // 60)
    if minutes == 0:
        return "at once"
    if minutes % 60 == 0:
        return f"after {minutes // 60} h"
    return f"after {minutes} min"


def chain_words(chain: Chain) -> str:
    """'chat at once, SMS after 5 min'; a chat-only chain is 'chat only'."""
    if [m for m, _ in chain] == ["chat"]:
        return "chat only"
    return ", ".join(f"{METHOD_NAMES[m]} {_delay_words(after)}" for m, after in chain)
