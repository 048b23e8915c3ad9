"""Plain words, read for a report: which child, when, and what happened.

"Jay's not back from town, last seen 9pm" becomes a draft the sender confirms: the typed
command it stands for ("/absent C-0042 21:00 not back from town"), offered as a choice.
Nothing is recorded here: confirming runs that command through the dispatcher like any
other, so every check it has applies. When the words do not say enough, the reply says what
was understood and offers the guided report (/absent on its own).

Rules only (word lists and the project's own time parser): no model, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.context import Step
from handlers.help_text import help_for
from handlers.messages import Outcome, Reply
from handlers.names import child_label
from handlers.timeparse import AmbiguousTime, TimeChoice, TimeParseError, split_leading_time
from reminders.access import can_see, may
from storage import child_store
from storage.models import Button, Child

# What happened, as carers say it. Longest first; the "not back" family is read before
# "back", so "hasn't come back" is never a return.
GONE = (
    "has not come back", "hasn't come back", "hasnt come back", "didn't come back",
    "didnt come back", "not come back", "not came back", "not returned", "hasn't returned",
    "has not returned", "not back", "not home", "not in", "no sign of", "can't find",
    "cannot find", "cant find", "gone missing", "gone awol", "run off", "ran off",
    "run away", "ran away", "runaway", "absconded", "missing", "gone", "left", "awol",
    "out late", "disappeared",
)  # fmt: skip
BACK = (
    "came back", "come back", "has come back", "walked back in", "walked in", "turned up",
    "is home", "home safe", "back home", "is back", "found", "back", "returned",
)  # fmt: skip
# How a child came back, when the words say it (else the sender picks).
HOW_BACK = {
    "police": "police",
    "family": "family",
    "mum": "family",
    "dad": "family",
    "school": "school",
    "social worker": "social-care",
    "by themselves": "self",
    "by himself": "self",
    "by herself": "self",
    "on their own": "self",
    "on his own": "self",
    "on her own": "self",
    "walked back in": "self",
    "walked in": "self",
}
# Before a time: these say a time follows, so a bare number there is a time ("seen at 9").
TIME_LEADS = ("at", "since", "seen", "about", "around", "approx", "roughly", "by")
FILLER = re.compile(
    r"^(?:(?:has|have|is|was|just|been|he|she|they|'s|s|and|,|-|who|that)\s+)+", re.I
)
LAST_SEEN = re.compile(r"\b(?:was\s+)?last\s+seen\b(?:\s+(?:at|about|around))?", re.I)
_REF = re.compile(r"^[A-Za-z]{1,3}-\d{1,6}$")
_MAX_TIME_WORDS = 4


@dataclass(frozen=True)
class _Time:
    when: datetime | None
    start: int  # first word of the time in the text's words
    end: int  # one past its last
    ambiguous: AmbiguousTime | None = None


def _words(text: str) -> list[str]:
    return text.split()


def _bare(word: str) -> str:
    """A word without its punctuation and possessive: "Jay's," -> "jay"."""
    word = word.strip('.,!?;:"()').lower()
    return re.sub(r"['’]s$", "", word)


def _has(phrases: tuple[str, ...], text: str) -> str | None:
    for phrase in sorted(phrases, key=len, reverse=True):
        if re.search(rf"(?<![\w']){re.escape(phrase)}(?![\w'])", text):
            return phrase
    return None


def what_happened(text: str) -> str | None:
    """'absent', 'found' or None, from the words alone."""
    said = " ".join(text.lower().replace("’", "'").split())
    gone = _has(GONE, said)
    if gone is not None:
        said = said.replace(gone, " ")
        if _has(BACK, said) is None or gone in ("gone", "left", "missing"):
            return "absent"
    return "found" if _has(BACK, said) is not None else None


def _find_time(words: list[str], now: datetime, tz: ZoneInfo) -> _Time | None:
    """The first run of words that reads as a time (the longest at that place)."""
    clean = [w.strip(',;!?()"') for w in words]
    for i in range(len(clean)):
        if not clean[i]:
            continue
        optional = not (i > 0 and _bare(clean[i - 1]) in TIME_LEADS)
        window = clean[i : i + _MAX_TIME_WORDS]
        try:
            when, rest = split_leading_time(window, now, tz, optional=optional)
        except AmbiguousTime as error:
            size = len(error.said.split())
            return _Time(None, i, i + size, error)
        except TimeParseError:
            continue
        return _Time(when, i, i + len(window) - len(rest))
    return None


async def _children_named(step: Step, words: list[str]) -> tuple[list[list[Child]], set[int]]:
    """The sender's children the words name (by reference or first name), one group per
    name (a first name two children share is one group of two), and which words they are."""
    visible = [c for c in await child_store.list_children(step.svc.db) if can_see(step.staff, c)]
    groups: list[list[Child]] = []
    used: set[int] = set()
    for index, word in enumerate(words):
        bare = _bare(word)
        if _REF.match(bare):
            named = [c for c in visible if c.ref.lower() == bare]
        else:
            named = [c for c in visible if c.first_name.lower() == bare]
        if named:
            used.add(index)
            if [c.id for c in named] not in [[c.id for c in g] for g in groups]:
                groups.append(named)
    return groups, used


def _time_words(words: list[str], name_words: set[int], spotted: _Time | None) -> set[int]:
    """The words that are not the story: the children's names, the time and its lead."""
    skip = set(name_words)
    if spotted is not None:
        skip |= set(range(spotted.start, spotted.end))
        if spotted.start > 0 and _bare(words[spotted.start - 1]) in set(TIME_LEADS) - {"seen"}:
            skip.add(spotted.start - 1)  # "since", "at": the time's, not the story's
    return skip


def _typed_time(when: datetime, now: datetime, tz: ZoneInfo) -> str:
    """The time as a command takes it, and reads back as the same instant."""
    local = when.astimezone(tz)
    today = now.astimezone(tz).date()
    candidates = [f"{local:%H:%M}"] if local.date() == today else []
    if local.date() == today - timedelta(days=1):
        candidates.append(f"yesterday {local:%H:%M}")
    candidates.append(local.isoformat(sep=" ", timespec="minutes"))
    for typed in candidates:
        try:
            back, rest = split_leading_time(typed.split(), now, tz)
        except TimeParseError:
            continue
        if back == when and not rest:
            return typed
    return candidates[-1]


def _description(words: list[str], skip: set[int]) -> str:
    """The sender's words without the child's name and the time (a comma after a skipped
    word stays, so the clauses keep apart)."""
    out: list[str] = []
    for index, word in enumerate(words):
        if index not in skip:
            out.append(word)
        elif word.endswith((",", ";")) and out and not out[-1].endswith((",", ";")):
            out[-1] += ","
    kept = " ".join(out)
    kept = LAST_SEEN.sub(" ", kept)
    kept = " ".join(kept.split())
    kept = re.sub(r"\s+([,.;!?])", r"\1", kept)
    kept = FILLER.sub("", kept).strip(" ,.;-!?")
    kept = re.sub(r"[,;]\s*$", "", kept)
    return re.sub(r"(?:,\s*){2,}", ", ", kept)


def _label(step: Step, child: Child) -> str:
    in_group = step.chat is not None and step.chat.is_group
    today = step.now.astimezone(step.svc.preset_for(child).zone).date()
    return child.label if in_group else child_label(child, today)


def _guided(understood: str, missing: str) -> Outcome:
    said = " ".join(part for part in (understood, missing) if part)
    text = (
        f"{said} Nothing is recorded yet. Type /absent on its own and I'll "
        "ask one question at a time, or type the command in full (/help shows how)."
    )
    return Outcome([Reply(text, (Button("Start a report", "/absent"),))])


async def read(step: Step, text: str) -> Outcome:
    """A draft to confirm, or what was understood and the guided report."""
    words = _words(text)
    groups, name_words = await _children_named(step, words)
    children = list({c.id: c for group in groups for c in group}.values())
    happened = what_happened(text)
    if not children and happened is None:
        nothing = (
            "I look for a child's name, a time and what happened in a message, and found "
            "none of them here, so nothing is recorded."
        )
        return Outcome([Reply(nothing), Reply(help_for(step.staff))])
    if len(children) > 1 and happened == "absent":
        drafts = await _several(step, groups, words, name_words, children)
        if drafts is not None:
            return drafts
    if len(children) != 1:
        what = "a child absent" if happened == "absent" else "a child back"
        understood = f"I understood {what}," if happened else "I couldn't tell what happened,"
        if children:
            listed = "; ".join(_label(step, c) for c in children)
            return _guided(
                f"{understood} but I can't tell which child: {listed}.",
                "Use the reference in the command.",
            )
        return _guided(f"{understood} but not which child among yours.", "")
    child = children[0]
    label = _label(step, child)
    if happened is None:
        return _guided(f"I understood {label}, but not what happened.", "")
    action = "report" if happened == "absent" else "found"
    if not may(step.staff, action, child):
        return Outcome.say(
            f"I understood {label} {happened}, but your role doesn't record that. "
            "Tell the carer on shift or the duty team."
        )
    tz = step.svc.preset_for(child).zone
    spotted = _find_time(words, step.now, tz)
    description = _description(words, _time_words(words, name_words, spotted))
    if spotted is None and happened == "found":
        text = (
            f"I understood {label} back. When? Nothing is recorded yet. If they are back now, "
            f"say how they came back with the button below; else type /found {child.ref} "
            "<time> <how: self, police, family…> (e.g. 21:05)."
        )
        return Outcome([Reply(text, (Button("Back now", f"/found {child.ref} now"),))])
    if spotted is None:
        asked = "last seen" if happened == "absent" else "back"
        return _guided(
            f"I understood {label} {happened}.",
            f"When were they {asked}? Add the time, e.g. "
            f"/{'absent' if happened == 'absent' else 'found'} {child.ref} <time> "
            f"{description or 'what happened'}.",
        )
    if spotted.ambiguous is not None:
        return _which_time(step, child, label, happened, description, spotted.ambiguous)
    assert spotted.when is not None
    typed = _typed_time(spotted.when, step.now, tz)
    return _draft(child, label, happened, typed, description)


def _draft(child: Child, label: str, happened: str, typed: str, description: str) -> Outcome:
    if happened == "absent":
        said = description or "not back"
        command = f"/absent {child.ref} {typed} {said}"
        text = (
            f"Report {label} absent, last seen {typed}, '{said}'? Nothing is recorded until "
            f"you confirm.\nYes: {command}\nChange it: /absent for the guided report"
        )
        return Outcome([Reply(text, (Button("Yes, report it", command), _change()))])
    how = _how_back(description)
    if how is not None:
        command = f"/found {child.ref} {typed} {how} {description}".rstrip()
        text = (
            f"Record {label} back at {typed} ({how}), '{description}'? Nothing is recorded "
            f"until you confirm.\nYes: {command}"
        )
        return Outcome([Reply(text, (Button("Yes, record it", command),))])
    from handlers.arguments import FOUND_BUTTONS

    text = (
        f"Record {label} back at {typed}? How did they come back? Nothing is recorded until "
        "you choose."
    )
    buttons = tuple(
        Button(name, f"/found {child.ref} {typed} {word} {description}".rstrip())
        for word, name in FOUND_BUTTONS
    )
    return Outcome([Reply(text, buttons)])


def _change() -> Button:
    return Button("Change it", "/absent")


def _how_back(description: str) -> str | None:
    said = description.lower()
    for phrase in sorted(HOW_BACK, key=len, reverse=True):
        if re.search(rf"\b{re.escape(phrase)}\b", said):
            return HOW_BACK[phrase]
    return None


def _which_time(
    step: Step, child: Child, label: str, happened: str, description: str, error: AmbiguousTime
) -> Outcome:
    """A time that could be two: each reading its own draft, nothing guessed."""
    how = _how_back(description) if happened == "found" else None
    if happened == "absent":
        drafts = [
            (c, f"/absent {child.ref} {c.typed} {description or 'not back'}") for c in error.choices
        ]
    else:
        drafts = [_one(child, how, c, description) for c in error.choices]
    lines = [f"I understood {label} {happened}. {error} Nothing is recorded yet."]
    lines += [f"{choice.label}: {command}" for choice, command in drafts]
    runnable = happened == "absent" or how is not None
    buttons = tuple(Button(choice.label, command) for choice, command in drafts if runnable)
    if not runnable:
        lines.append("Put how they came back after the time: self, police, family, school…")
    return Outcome([Reply("\n".join(lines), buttons)])


def _one(
    child: Child, how: str | None, choice: TimeChoice, description: str
) -> tuple[TimeChoice, str]:
    if how is None:
        found = f"/found {child.ref} {choice.typed} <how> {description}".rstrip()
    else:
        found = f"/found {child.ref} {choice.typed} {how} {description}".rstrip()
    return choice, found


async def _several(
    step: Step,
    groups: list[list[Child]],
    words: list[str],
    name_words: set[int],
    children: list[Child],
) -> Outcome | None:
    """Children absent together ("Jay and Kai ran off at 8"): one report for them all; a
    first name two share ("Jay"): one draft per child to choose from. None: can't tell."""
    if not all(may(step.staff, "report", c) for c in children):
        return None
    tz = step.svc.preset_for(children[0]).zone
    spotted = _find_time(words, step.now, tz)
    if spotted is None or spotted.when is None:
        return None
    said = _description(words, _time_words(words, name_words, spotted)) or "not back"
    said = re.sub(r"^(?:and|&|\+)\s+", "", said)
    typed = _typed_time(spotted.when, step.now, tz)
    if all(len(group) == 1 for group in groups):
        refs = ",".join(c.ref for c in children)
        names = " and ".join(_label(step, c) for c in children)
        command = f"/absent {refs} {typed} {said}"
        text = (
            f"Report {names} absent together, last seen {typed}, '{said}'? Nothing is "
            f"recorded until you confirm.\nYes: {command}\nChange it: /absent for the guided "
            "report"
        )
        return Outcome([Reply(text, (Button("Yes, report them", command), _change()))])
    if len(groups) == 1:
        choices = [(c, f"/absent {c.ref} {typed} {said}") for c in groups[0]]
        lines = [
            f"More than one child called {groups[0][0].first_name}: which is absent, last seen "
            f"{typed}, '{said}'? Nothing is recorded until you choose."
        ]
        lines += [f"{_label(step, c)}: {command}" for c, command in choices]
        buttons = tuple(Button(_label(step, c), command) for c, command in choices)
        return Outcome([Reply("\n".join(lines), buttons)])
    return None
