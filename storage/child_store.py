"""SQL for children: who may be reported, with what the protocols need to know of them."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from storage.db import Reader, Row, Tx
from storage.models import Child, LegalStatus

# The columns `child_from_row` reads (a join names them with a prefix).
CHILD_COLUMNS = (
    "id", "ref", "first_name", "full_name", "dob", "home", "area", "legal_status",
    "home_authority", "social_worker_id", "team_manager_id", "iro_id", "profile_json",
    "cp_chair_id", "placement_type", "no_parent_contact", "family", "home_authority_email",
)  # fmt: skip
CHILD_AS_C = ", ".join(f"c.{name} AS c_{name}" for name in CHILD_COLUMNS)


def child_from_row(row: Row, prefix: str = "") -> Child:
    def col(name: str) -> Any:
        return row[prefix + name]

    return Child(
        id=col("id"),
        ref=col("ref"),
        first_name=col("first_name"),
        full_name=col("full_name"),
        dob=date.fromisoformat(col("dob")) if col("dob") else None,
        home=col("home"),
        area=col("area"),
        legal_status=LegalStatus(col("legal_status")),
        home_authority=col("home_authority"),
        social_worker_id=col("social_worker_id"),
        team_manager_id=col("team_manager_id"),
        iro_id=col("iro_id"),
        profile=json.loads(col("profile_json") or "{}"),
        cp_chair_id=col("cp_chair_id"),
        placement_type=col("placement_type"),
        no_parent_contact=bool(col("no_parent_contact")),
        family=col("family"),
        home_authority_email=col("home_authority_email"),
    )


async def upsert_child(tx: Tx, child: Child) -> int:
    """Insert or update by reference; returns the child's id."""
    await tx.execute(
        "INSERT INTO children (ref, first_name, full_name, dob, home, area, legal_status,"
        " home_authority, social_worker_id, team_manager_id, iro_id, profile_json,"
        " cp_chair_id, placement_type, no_parent_contact, family, home_authority_email)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(ref) DO UPDATE SET first_name=excluded.first_name,"
        " full_name=excluded.full_name, dob=excluded.dob, home=excluded.home,"
        " area=excluded.area, legal_status=excluded.legal_status,"
        " home_authority=excluded.home_authority, social_worker_id=excluded.social_worker_id,"
        " team_manager_id=excluded.team_manager_id, iro_id=excluded.iro_id,"
        " profile_json=excluded.profile_json, cp_chair_id=excluded.cp_chair_id,"
        " placement_type=excluded.placement_type,"
        " no_parent_contact=excluded.no_parent_contact, family=excluded.family,"
        " home_authority_email=excluded.home_authority_email",
        (
            child.ref,
            child.first_name,
            child.full_name,
            child.dob.isoformat() if child.dob else None,
            child.home,
            child.area,
            child.legal_status.value,
            child.home_authority,
            child.social_worker_id,
            child.team_manager_id,
            child.iro_id,
            json.dumps(child.profile),
            child.cp_chair_id,
            child.placement_type,
            int(child.no_parent_contact),
            child.family,
            child.home_authority_email,
        ),
    )
    row = await tx.fetchone("SELECT id FROM children WHERE ref = ?", (child.ref,))
    assert row is not None
    return int(row["id"])


async def get_child(r: Reader, child_id: int) -> Child | None:
    row = await r.fetchone("SELECT * FROM children WHERE id = ?", (child_id,))
    return child_from_row(row) if row else None


async def get_child_by_ref(r: Reader, ref: str) -> Child | None:
    row = await r.fetchone("SELECT * FROM children WHERE UPPER(ref) = UPPER(?)", (ref,))
    return child_from_row(row) if row else None


async def list_children(r: Reader) -> list[Child]:
    return [child_from_row(row) for row in await r.fetchall("SELECT * FROM children ORDER BY ref")]


async def child_areas(r: Reader) -> list[str]:
    rows = await r.fetchall("SELECT DISTINCT area FROM children ORDER BY area")
    return [row["area"] for row in rows]


async def children_by_first_name(r: Reader, first_name: str) -> list[Child]:
    rows = await r.fetchall(
        "SELECT * FROM children WHERE LOWER(first_name) = LOWER(?) ORDER BY ref", (first_name,)
    )
    return [child_from_row(row) for row in rows]


async def home_links(r: Reader) -> list[tuple[str, str | None, str]]:
    """(home, team manager id, area) for every home that has children: who may register a
    home's chat, and whose preset says whether an admin may."""
    rows = await r.fetchall(
        "SELECT DISTINCT home, team_manager_id, area FROM children WHERE home IS NOT NULL"
        " ORDER BY home"
    )
    return [(row["home"], row["team_manager_id"], row["area"]) for row in rows]
