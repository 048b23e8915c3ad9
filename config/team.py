"""Staff, children and rota as data files (the admin import and the scenario runner share them)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.dates import read_day
from config.presets import AREAS
from config.vocabulary import Audience
from config.yamlfile import at, load_model
from storage.models import LegalStatus, Role

PROFILE_LIMIT = 20_000  # characters of a child's missing profile (as stored)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?\d{7,15}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_STAFF_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_CHILD_REF = re.compile(r"[A-Z]{1,3}-\d{1,6}")


class StaffSpec(Strict):
    id: str
    name: str | None = None
    role: Role
    home: str | None = None
    team: str | None = None
    manager: str | None = None
    # Omitted: a new person is active, and someone already here stays as they are (an import
    # never brings a leaver back unless it says `active: true`).
    active: bool | None = None
    email: str | None = None  # for calendar matching now, e-mail later; never in group chats
    phone: str | None = None  # for SMS later; never in group chats

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _STAFF_ID.fullmatch(value):
            raise ValueError(
                f"{value!r} can't be a staff id: use lower-case letters, digits, '.', '_' and '-',"
                " starting with a letter or digit (sam, ooh1, j.smith)"
            )
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an e-mail address (name@example.org)")
        return value.lower()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = re.sub(r"[\s().-]", "", value.strip())
        if not _PHONE.fullmatch(digits):
            raise ValueError(
                f"{value!r} is not a phone number: digits, optionally starting with +"
                " (+44 7700 900123 or 07700 900123)"
            )
        return digits


# How a child is placed: "with_parents" is a looked-after child living at home under the
# Placement with Parents Regulations (WY §8).
PlacementType = Literal["foster", "residential", "with_parents", "other"]


class ChildSpec(Strict):
    ref: str
    first_name: str
    full_name: str | None = None
    dob: date | None = None
    home: str | None = None
    area: str | None = None
    legal_status: LegalStatus = LegalStatus.LOOKED_AFTER
    home_authority: str | None = None
    # where formal notices to the home authority go (HOST-TELL, the Director's letter)
    home_authority_email: str | None = None
    social_worker: str | None = None
    team_manager: str | None = None
    iro: str | None = None
    profile: dict[str, Any] = {}
    cp_chair: str | None = None  # child protection conference chair (B LCS §1.9)
    placement_type: PlacementType | None = None  # WY §8 "Placement with Parents"
    no_parent_contact: bool = False  # the care plan says the parents are not told
    family: str | None = None  # children of one family share it (H §10.10)

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        if not _CHILD_REF.fullmatch(value):
            raise ValueError(
                f"{value!r} can't be a child's reference: one to three capital letters, a hyphen"
                " and up to six digits (C-0042)"
            )
        return value

    @field_validator("home_authority_email")
    @classmethod
    def _authority_email(cls, value: str | None) -> str | None:
        return StaffSpec._email(value)

    @field_validator("dob", mode="before")
    @classmethod
    def _dob(cls, value: Any) -> Any:
        """2011-05-02 or 02/05/2011 (day first, as UK staff write it)."""
        return read_day(value) if isinstance(value, str) else value

    @field_validator("profile")
    @classmethod
    def _profile_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, default=str, ensure_ascii=False))
        if size > PROFILE_LIMIT:
            raise ValueError(
                f"the profile is {size:,} characters; at most {PROFILE_LIMIT:,} (a missing"
                " profile is a description, not a document: link to the full one instead)"
            )
        return value

    @model_validator(mode="after")
    def _area(self) -> ChildSpec:
        if self.area is not None and self.area not in AREAS:
            raise ValueError(f"unknown area {self.area!r}; the areas are {', '.join(AREAS)}")
        if self.legal_status is LegalStatus.LOOKED_AFTER_ELSEWHERE and not self.home_authority:
            raise ValueError("a child looked after by another authority needs home_authority")
        return self


class RotaSpec(Strict):
    role: Audience | Role
    staff: str
    from_: datetime = Field(alias="from")
    to: datetime

    @model_validator(mode="after")
    def _ordered(self) -> RotaSpec:
        if self.to <= self.from_:
            raise ValueError("a rota span must end after it starts")
        return self


class TeamFile(Strict):
    staff: list[StaffSpec] = []
    children: list[ChildSpec] = []
    rota: list[RotaSpec] = []

    @model_validator(mode="after")
    def _references(self) -> TeamFile:
        ids = [s.id for s in self.staff]
        for number, staff_id in enumerate(ids):
            if staff_id in ids[:number]:
                raise ValueError(at("staff", number, "id") + f"staff id {staff_id!r} is used twice")
        known = set(ids)
        for number, s in enumerate(self.staff):
            if s.manager and s.manager not in known:
                raise ValueError(at("staff", number, "manager") + f"{s.manager!r} is not in staff")
        for number, c in enumerate(self.children):
            for field in ("social_worker", "team_manager", "iro", "cp_chair"):
                who = getattr(c, field)
                if who and who not in known:
                    raise ValueError(at("children", number, field) + f"{who!r} is not in staff")
        # A rota row may name someone only in the database (a rota-only file): the import
        # checks those against the database (bot/admin.py), naming the row.
        return self

    def rota_staff_elsewhere(self) -> list[tuple[int, str]]:
        """(row number, staff id) of rota rows whose person is not in this file's staff."""
        known = {s.id for s in self.staff}
        return [(n, r.staff) for n, r in enumerate(self.rota) if r.staff not in known]


def load_team_file(path: Path | str) -> TeamFile:
    return load_model(TeamFile, path)
