"""The numbers a person is told to phone when the bot could reach nobody.

Each area's preset carries its emergency duty team (out-of-hours social work) and police
non-emergency numbers under `contacts`. None of the five protocols prints a number, so the
presets leave the emergency duty team unset (a placeholder the deployment must fill) and
give 101, the national police non-emergency number, for the English areas (ours). A
deployment sets or replaces them without editing a preset, by a JSON object in
`WHEREABOUTS_AREA_CONTACTS` (or `area_contacts` in the `WHEREABOUTS_CONFIG` file):

    WHEREABOUTS_AREA_CONTACTS='{"west-yorkshire": {"emergency_duty_team": "0113 535 0600"}}'

A number that does not look like one (digits, spaces, +, brackets, hyphens) is refused at
start-up, naming the area.
"""

from __future__ import annotations

import json
import os
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{1,23}[0-9]$")

ENV = "WHEREABOUTS_AREA_CONTACTS"


def _phone(value: str) -> str:
    value = value.strip()
    if not _PHONE.match(value):
        raise ValueError(
            f"{value!r} is not a phone number: use digits, spaces, + and brackets, e.g. 0113 535 0600"
        )
    return value


PhoneNumber = Annotated[str, AfterValidator(_phone)]


class AreaContacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    emergency_duty_team: PhoneNumber | None = None  # out-of-hours social work
    police_non_emergency: PhoneNumber | None = None
    source: str = (
        ""  # where the numbers come from (the protocol gives none: ours, or the deployment)
    )


class ContactsError(ValueError):
    """A deployment's numbers are not valid; the message names the area and the field."""


def _configured() -> dict[str, Any]:
    raw = os.environ.get(ENV)
    if raw:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ContactsError(f"{ENV} is not valid JSON: {exc.msg}") from exc
        if not isinstance(data, dict):
            raise ContactsError(f"{ENV} must be an object of areas")
        return data
    config_file = os.environ.get("WHEREABOUTS_CONFIG")
    if config_file:
        from config.settings import Settings  # the YAML file, read as the settings read it

        return dict(Settings().area_contacts)
    return {}


def deployed(area: str, preset_contacts: AreaContacts, areas: tuple[str, ...]) -> AreaContacts:
    """The preset's numbers with the deployment's on top; refuses a bad one, naming it."""
    configured = _configured()
    unknown = sorted(set(configured) - set(areas))
    if unknown:
        raise ContactsError(f"{ENV}: unknown area {unknown[0]!r}; the areas are {', '.join(areas)}")
    override = configured.get(area)
    if not override:
        return preset_contacts
    if not isinstance(override, dict):
        raise ContactsError(f"{ENV}: {area} must be an object of numbers")
    merged = preset_contacts.model_dump() | {"source": "set by this deployment"} | override
    try:
        return AreaContacts.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ContactsError(f"{ENV}: {area}.{field}: {first['msg']}") from exc
