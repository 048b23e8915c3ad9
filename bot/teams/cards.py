"""Adaptive Cards for the Teams adapter: messages with buttons, a pressed alert, the report form.

Pure functions from Whereabouts' words to the card JSON Teams takes, and back for the form.
Text goes in TextRuns (plain text: what people typed is never read as markdown or a link).
Each button is an `Action.Execute` (Universal Actions) whose data is its typed command and a
seal (bot/button_seal.py's HMAC: a press of a button the bot did not send is refused); the
report form submits one `Action.Execute` whose inputs become one /absent command.
"""

from __future__ import annotations

from typing import Any

from bot.button_seal import Seal
from handlers.guided_report import CONCERN_LABELS, QUESTIONS, ReportField
from handlers.messages import split_text
from storage.models import Button, Child

Card = dict[str, Any]

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
VERSION = "1.4"  # Action.Execute needs 1.4
COMMAND_VERB = "cmd"  # a button: data {"command", "label", "seal"}
REPORT_VERB = "report"  # the report form's submit
BLOCK_LIMIT = 4000  # characters in one text run
MAX_ACTIONS = 6  # Teams shows at most six actions on a card
TAKEN_ID = "taken"  # id prefix of the "who took it" lines


def run_block(text: str, subtle: bool = False) -> dict[str, Any]:
    run: dict[str, Any] = {"type": "TextRun", "text": text or " "}
    if subtle:
        run["isSubtle"] = True
        run["size"] = "Small"
    return {"type": "RichTextBlock", "inlines": [run]}


def actions(buttons: tuple[Button, ...], seal: Seal) -> list[dict[str, Any]]:
    return [
        {
            "type": "Action.Execute",
            "title": button.label,
            "verb": COMMAND_VERB,
            "data": {
                "command": button.command,
                "label": button.label,
                "seal": seal(button.label, button.command),
            },
            **({"style": "positive"} if button.command.startswith("/ack ") else {}),
        }
        for button in buttons[:MAX_ACTIONS]
    ]


def message_card(
    text: str, buttons: tuple[Button, ...], seal: Seal, footer: str | None = None
) -> Card:
    body = [run_block(chunk) for chunk in split_text(text, BLOCK_LIMIT)]
    if footer:
        body.append(run_block(footer, subtle=True))
    card: Card = {"type": "AdaptiveCard", "version": VERSION, "body": body}
    if buttons:
        card["actions"] = actions(buttons, seal)
    return card


def pressed(card: Card, line: str) -> Card:
    """A pressed alert: its buttons go, a line says who took it and when."""
    body = list(card.get("body") or [])
    n = sum(1 for b in body if str(b.get("id", "")).startswith(TAKEN_ID))
    return {
        "type": "AdaptiveCard",
        "version": VERSION,
        "body": [*body, {**run_block(line), "id": f"{TAKEN_ID}{n}"}],
    }


def sealed_press(data: Any, seal: Seal) -> tuple[str, str] | None:
    """(label, command) of a press on a button this bot sent; None for anything made up."""
    if not isinstance(data, dict):
        return None
    command, label, mark = data.get("command"), data.get("label"), data.get("seal")
    if not (isinstance(command, str) and isinstance(label, str) and isinstance(mark, str)):
        return None
    if not seal.issued(f"x:{mark}", label, command):
        return None
    return label, command


# ---- the guided report ---------------------------------------------------------------------

CHOICES_LIMIT = 100  # children in the list; more: their reference, typed


def report_card(
    children: list[Child],
    channel: str,
    errors: dict[ReportField, str] | None = None,
    answers: dict[ReportField, str] | None = None,
) -> Card:
    """The report as a form (the questions are handlers/guided_report.py's): nothing is saved
    until it is sent; errors show under their field, the answers kept."""
    errors, answers = errors or {}, answers or {}

    def value(field: ReportField) -> dict[str, str]:
        return {"value": answers[field]} if answers.get(field) else {}

    if len(children) <= CHOICES_LIMIT:
        child: dict[str, Any] = {
            "type": "Input.ChoiceSet",
            "style": "compact",
            "choices": [{"title": c.label, "value": c.ref} for c in children],
        }
    else:
        child = {"type": "Input.Text", "placeholder": "Their reference, e.g. C-0042"}
    inputs: dict[ReportField, dict[str, Any]] = {
        ReportField.CHILD: child,
        ReportField.SEEN: {"type": "Input.Text"},
        ReportField.WHERE: {"type": "Input.Text", "isMultiline": True},
        ReportField.DONE: {"type": "Input.Text", "isMultiline": True},
        ReportField.CONCERN: {
            "type": "Input.ChoiceSet",
            "style": "expanded",
            "choices": [{"title": t, "value": level.value} for level, t in CONCERN_LABELS.items()],
        },
    }
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": "Report a child absent", "weight": "Bolder", "wrap": True}
    ]
    for field, element in inputs.items():
        question = QUESTIONS[field]
        if question.hint and "placeholder" not in element:
            element["placeholder"] = question.hint
        body.append({**element, **value(field), "id": str(field), "label": question.label})
        if field in errors:
            body.append({**run_block(errors[field]), "id": f"error-{field}"})
    return {
        "type": "AdaptiveCard",
        "version": VERSION,
        "body": body,
        "actions": [
            {
                "type": "Action.Execute",
                "title": "Report",
                "verb": REPORT_VERB,
                "style": "positive",
                "data": {"channel": channel},
            }
        ],
    }


def read_report(data: dict[str, Any]) -> dict[ReportField, str]:
    """The submitted form's answers, as text (missing answers are empty)."""
    return {field: " ".join(str(data.get(str(field)) or "").split()) for field in ReportField}


def closed_card(text: str) -> Card:
    return {"type": "AdaptiveCard", "version": VERSION, "body": [run_block(text)]}
