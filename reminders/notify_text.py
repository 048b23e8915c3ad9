"""What a text message or an e-mail may say. SMS and e-mail are less private than an enrolled
chat account: they sit on lock screens, in shared inboxes and in the phone company's logs.

Subject lines: an e-mail's text may begin with a line "Subject: …" (`with_subject`); the
Notify platform sends it as the subject and the rest as the body (`split_subject`).
"""

from __future__ import annotations

import re

_SUBJECT = re.compile(r"^(?:\[[^\]\n]*\]\s*)?Subject:[ \t]*(?P<subject>[^\n]+)\n+", re.IGNORECASE)
DEFAULT_SUBJECT = "Whereabouts"


def with_subject(subject: str, body: str) -> str:
    """An e-mail's text with its subject line (the first line, taken off when sent)."""
    return f"Subject: {' '.join(subject.split())}\n\n{body}"


def split_subject(text: str) -> tuple[str, str]:
    """(subject, body) of an e-mail's text; a text without a subject line gets ours."""
    found = _SUBJECT.match(text)
    if found is None:
        return DEFAULT_SUBJECT, text
    return found.group("subject").strip(), text[found.end() :]
