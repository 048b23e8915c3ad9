"""Block Kit for the Slack adapter: messages with buttons, the report form, the App Home tab.

Pure functions from Whereabouts' words to Slack's JSON shapes, and back for the form.
No rule lives here: a button carries its typed command, the form becomes one /absent command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.guided_report import CONCERN_LABELS, QUESTIONS, ReportField
from handlers.messages import split_text
from storage.models import Button, Child

Block = dict[str, Any]

SECTION_LIMIT = 3000  # characters of text in one section block
FALLBACK_LIMIT = 3000  # the notification text that goes with blocks
MAX_SECTIONS = 45  # a message holds 50 blocks: room for the buttons and a context line
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
SELECT_OPTIONS_LIMIT = 100  # options in a static select
HOME_SECTIONS = 40  # of 100 blocks in a Home tab, per list

ACTION_PREFIX = "cmd:"  # action_id of a button that runs its value as a typed command
OPEN_REPORT = "open_report"  # the Home tab's "Report a child absent" button
REPORT_CALLBACK = "whereabouts_report"  # the guided report modal
PRESSED_BLOCK = "whereabouts_pressed"  # block_id prefix of the "who took it" context lines


def escape(text: str) -> str:
    """Slack's three control characters in a message's top-level text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def section(text: str) -> Block:
    # plain_text: what people typed is shown as typed, never read as formatting or links
    return {"type": "section", "text": plain(text or " ")}


def context(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "context", "elements": [plain(text)]}
    if block_id:
        block["block_id"] = block_id
    return block


Sealer = Callable[[str, str], str]  # (label, command) -> the seal in its action_id (seal.py)


def actions(buttons: tuple[Button, ...], seal: Sealer | None = None) -> Block | None:
    """Each button's value is its typed command; a press runs it as the presser. Its
    action_id is `cmd:<n>:<seal>`: a press is run only if the seal matches (bot/button_seal.py)."""
    usable = [b for b in buttons if len(b.command) <= BUTTON_VALUE_LIMIT][:25]
    if not usable:
        return None
    elements = []
    for i, button in enumerate(usable):
        label = button.label[:BUTTON_LABEL_LIMIT]
        sealed = f":{seal(label, button.command)}" if seal else ""
        element: dict[str, Any] = {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}{i}{sealed}",
            "text": plain(label),
            "value": button.command,
        }
        if button.command.startswith("/ack "):
            element["style"] = "primary"
        elements.append(element)
    return {"type": "actions", "elements": elements}


@dataclass(frozen=True)
class Part:
    """One Slack message: the notification text and its blocks."""

    text: str
    blocks: list[Block]


def message_parts(
    text: str,
    buttons: tuple[Button, ...] = (),
    footer: str | None = None,
    seal: Sealer | None = None,
) -> list[Part]:
    """A message as Slack takes it: long text over several messages, buttons on the last."""
    chunks = split_text(text, SECTION_LIMIT)
    groups = [chunks[i : i + MAX_SECTIONS] for i in range(0, len(chunks), MAX_SECTIONS)]
    parts = []
    for n, group in enumerate(groups):
        blocks = [section(chunk) for chunk in group]
        last = n == len(groups) - 1
        if last and footer:
            blocks.append(context(footer))
        if last and (row := actions(buttons, seal)) is not None:
            blocks.append(row)
        parts.append(Part(escape("\n".join(group))[:FALLBACK_LIMIT], blocks))
    return parts


def pressed(blocks: list[Block], line: str) -> list[Block]:
    """A pressed alert: its buttons go, a line says who took it and when."""
    kept = [b for b in blocks if b.get("type") != "actions"]
    n = sum(1 for b in kept if str(b.get("block_id", "")).startswith(PRESSED_BLOCK))
    return [*kept, context(line, f"{PRESSED_BLOCK}{n}")]


# ---- the guided report ---------------------------------------------------------------------


def report_modal(children: list[Child], metadata: dict[str, str]) -> dict[str, Any]:
    """The report as a form (the questions are handlers/guided_report.py's): nothing is saved
    until it is submitted."""
    if len(children) <= SELECT_OPTIONS_LIMIT:
        child_element: dict[str, Any] = {
            "type": "static_select",
            "action_id": "value",
            "placeholder": plain("Choose the child"),
            "options": [{"text": plain(c.label[:75]), "value": c.ref} for c in children],
        }
    else:  # too many for a list: their reference, checked on submit
        child_element = {
            "type": "plain_text_input",
            "action_id": "value",
            "placeholder": plain("Their reference, e.g. C-0042"),
        }
    seen = {"type": "plain_text_input", "action_id": "value"}
    where = {"type": "plain_text_input", "action_id": "value", "multiline": True}
    done = {"type": "plain_text_input", "action_id": "value", "multiline": True}
    concern = {
        "type": "radio_buttons",
        "action_id": "value",
        "options": [
            {"text": plain(label), "value": level.value} for level, label in CONCERN_LABELS.items()
        ],
    }
    elements: dict[ReportField, dict[str, Any]] = {
        ReportField.CHILD: child_element,
        ReportField.SEEN: seen,
        ReportField.WHERE: where,
        ReportField.DONE: done,
        ReportField.CONCERN: concern,
    }
    for question, element in elements.items():
        if hint := QUESTIONS[question].hint:
            element["placeholder"] = plain(hint)
    return {
        "type": "modal",
        "callback_id": REPORT_CALLBACK,
        "private_metadata": json.dumps(metadata),
        "title": plain("Report a child absent"),
        "submit": plain("Report"),
        "close": plain("Cancel"),
        "blocks": [
            _input(question, QUESTIONS[question].label, element)
            for question, element in elements.items()
        ],
    }


def _input(block_id: str, label: str, element: dict[str, Any]) -> Block:
    return {"type": "input", "block_id": block_id, "label": plain(label), "element": element}


def read_report(values: dict[str, Any]) -> dict[ReportField, str]:
    """The submitted form's answers, as text (missing answers are empty)."""

    def answer(block_id: str) -> str:
        state = values.get(block_id, {}).get("value") or {}
        option = state.get("selected_option") or {}
        return " ".join(str(option.get("value") or state.get("value") or "").split())

    return {question: answer(question) for question in ReportField}


# ---- the App Home tab ----------------------------------------------------------------------


def home_view(
    greeting: str, episodes: str | None, duties: str | None, can_report: bool, stamp: str
) -> dict[str, Any]:
    blocks: list[Block] = [
        {"type": "header", "text": plain("Whereabouts")},
        section(greeting),
    ]
    if can_report:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": OPEN_REPORT,
                        "text": plain("Report a child absent"),
                        "style": "primary",
                    }
                ],
            }
        )
    for title, text in (("Open episodes", episodes), ("Your duties", duties)):
        if text is None:
            continue
        blocks.append({"type": "divider"})
        blocks.append({"type": "header", "text": plain(title)})
        blocks.extend(section(chunk) for chunk in split_text(text, SECTION_LIMIT)[:HOME_SECTIONS])
    blocks.append(context(f"Updated {stamp}. Open this tab again to refresh."))
    return {"type": "home", "blocks": blocks}
