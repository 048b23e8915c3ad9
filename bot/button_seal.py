"""Buttons the bot issued, and only those (Slack's action ids, Teams' card actions): each
carries a seal (an HMAC of its label and command under a key from the platform's secret), so
a press whose value or label was made up (a button lives in the client) is refused, not run."""

from __future__ import annotations

import base64
import hashlib
import hmac

SEAL_LENGTH = 22  # base64 characters: 132 bits


class Seal:
    def __init__(self, token: str) -> None:
        self._key = hashlib.sha256(b"whereabouts slack buttons\0" + token.encode()).digest()

    def __call__(self, label: str, command: str) -> str:
        digest = hmac.new(self._key, f"{label}\0{command}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:SEAL_LENGTH]

    def issued(self, action_id: str, label: str, command: str) -> bool:
        """True if a button with this label and command is one this bot made."""
        seal = action_id.rsplit(":", 1)[-1]
        return len(seal) == SEAL_LENGTH and hmac.compare_digest(seal, self(label, command))
