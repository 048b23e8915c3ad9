"""Optimistic locking: a row carries a version, and an update lands only on the version read.

Episodes, duties and climbs are each moved on by commands and timers at once; whoever read
an older version gets StaleWrite, its transaction rolls back, and the command or timer runs
again on what is stored now.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from storage.db import Row, Tx, to_db_time


class StaleWrite(RuntimeError):
    """The row changed under us; the caller's transaction must roll back."""


def db_value(value: Any) -> Any:
    """A Python value as a column holds it."""
    if isinstance(value, datetime):
        return to_db_time(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Enum):
        return value.value
    return value


async def update_versioned(
    tx: Tx,
    table: str,
    noun: str,
    columns: frozenset[str],
    row_id: int,
    version: int,
    changes: Mapping[str, Any],
) -> Row:
    """Apply `changes` to row `row_id` if it is still at `version`; returns the row as stored
    now (else StaleWrite). `columns` are the ones callers may change; `noun` names the record
    in errors."""
    unknown = set(changes) - columns
    if unknown:
        raise ValueError(f"not {noun} columns: {sorted(unknown)}")
    assignments = "".join(f"{name} = ?, " for name in changes)
    cursor = await tx.execute(
        f"UPDATE {table} SET {assignments}version = version + 1 WHERE id = ? AND version = ?",
        (*(db_value(v) for v in changes.values()), row_id, version),
    )
    if cursor.rowcount != 1:
        raise StaleWrite(f"{noun} {row_id} changed while it was being updated")
    # Read back rather than RETURNING: in SQLite an UPDATE ... RETURNING * costs more than
    # the UPDATE and a SELECT by key together.
    row = await tx.fetchone(f"SELECT * FROM {table} WHERE id = ?", (row_id,))
    assert row is not None
    return row
