"""How people and children are named where two could be confused."""

from __future__ import annotations

from datetime import date

from storage.models import Child


def home_name(home: str | None) -> str | None:
    """'oak-house' -> 'Oak House'."""
    return home.replace("-", " ").replace("_", " ").title() if home else None


def child_label(child: Child, today: date) -> str:
    """Reference, first name, home and age: 'C-0042 Jay (Oak House, 15)'. For direct
    messages only: a group chat shows the reference and first name (child.label)."""
    age = child.age_on(today)
    extra = [
        part for part in (home_name(child.home), str(age) if age is not None else None) if part
    ]
    return f"{child.label} ({', '.join(extra)})" if extra else child.label
