"""Phone numbers and e-mail addresses as SMS and e-mail are sent to them (GOV.UK Notify).

A UK mobile is stored as +447…: "07700 900123", "+44 (0)7700 900123", "0044 7700 900123"
and "447700900123" are one number. Other numbers are kept in international form when they
start with + or 00; a number that is neither is refused with what to type instead.
"""

from __future__ import annotations

import re

_UK_MOBILE = re.compile(r"^(?:\+44|0044|44)?0?(7\d{9})$")
_INTERNATIONAL = re.compile(r"^(?:\+|00)([1-9]\d{7,14})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AddressError(ValueError):
    """Not a number or address we can send to; the message says what would be."""


def normalise_phone(text: str) -> str:
    digits = re.sub(r"[\s().-]", "", text.strip()).replace("+44(0)", "+44")
    digits = re.sub(r"^\+440", "+44", digits)
    uk = _UK_MOBILE.fullmatch(digits)
    if uk:
        return f"+44{uk.group(1)}"
    if digits.startswith(("+44", "0044", "0")):
        raise AddressError(
            "That is not a UK mobile number: text messages go to mobiles (07700 900123)."
        )
    world = _INTERNATIONAL.fullmatch(digits)
    if world:
        return f"+{world.group(1)}"
    raise AddressError("That is not a mobile number. Type it as 07700 900123 or +44 7700 900123.")


def normalise_email(text: str) -> str:
    value = text.strip()
    if not _EMAIL.fullmatch(value) or len(value) > 254:
        raise AddressError("That is not an e-mail address. Type it as name@example.org.")
    return value.lower()
