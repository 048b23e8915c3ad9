"""`whereabouts rota list|add|remove|import|ical`: the rota from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.private_files import write_private
from config.presets import load_all_presets, load_preset
from config.role_words import on_rota
from config.settings import Settings
from handlers import rota, rota_files, rota_gaps
from storage import rota_store, staff_store
from storage.db import Database, Tx

EXIT_USAGE = 2
IMPORT_AHEAD = timedelta(weeks=13)  # a calendar's recurring events are read this far ahead


def _zone(settings: Settings) -> ZoneInfo:
    return load_preset(settings.default_area).zone


def _day(text: str | None, zone: ZoneInfo, default: datetime) -> datetime:
    """A day (YYYY-MM-DD: its local midnight) or a local time (YYYY-MM-DDTHH:MM)."""
    if text is None:
        return default
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone)
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=zone)


async def _gaps(tx: Tx, now: datetime, zone: ZoneInfo, why: str) -> None:
    await rota_gaps.tell_gaps(tx, load_all_presets(), now, zone, why)


def _err(text: str) -> int:
    print(f"error: {text}", file=sys.stderr)
    return EXIT_USAGE


async def run(args: argparse.Namespace, db: Database, settings: Settings) -> int:
    zone = _zone(settings)
    now = datetime.now(UTC)
    try:
        if args.rota_command == "list":
            return await _list(args, db, zone, now)
        if args.rota_command == "add":
            return await _add(args, db, zone, now)
        if args.rota_command == "remove":
            async with db.write() as tx:
                shift = await rota.remove(tx, args.id, now=now, zone=zone, actor=None)
                await _gaps(tx, now, zone, "after a shift was removed")
            print(f"Removed shift {shift.id}: {await _line(db, shift, zone)}")
            return 0
        if args.rota_command == "import":
            return await _import(args, db, zone, now)
        if args.rota_command == "ical":
            return await _ical(args, db, now)
    except (rota.RotaError, ValueError) as exc:
        return _err(str(exc))
    raise AssertionError(args.rota_command)


async def _line(db: Database, shift: rota_store.Shift, zone: ZoneInfo) -> str:
    staff = await staff_store.get_staff(db, shift.staff_id)
    name = staff.name if staff else shift.staff_id
    cover = " (cover)" if shift.is_cover else ""
    return (
        f"{on_rota(shift.role)}: {name}{cover}, "
        f"{rota.span_text(shift.starts_at, shift.ends_at, zone)}"
    )


async def _list(args: argparse.Namespace, db: Database, zone: ZoneInfo, now: datetime) -> int:
    start = _day(args.from_, zone, now)
    end = _day(args.to, zone, start + timedelta(days=7))
    if end <= start:
        return _err("--to must be after --from.")
    for shift in await rota_store.shifts_between(db, start, end, role=args.role):
        if args.json:
            print(
                json.dumps(
                    {
                        "id": shift.id,
                        "role": shift.role,
                        "staff": shift.staff_id,
                        "from": shift.starts_at.astimezone(zone).isoformat(),
                        "to": shift.ends_at.astimezone(zone).isoformat(),
                        "source": shift.source,
                        "cover": shift.is_cover,
                    }
                )
            )
        else:
            print(f"{shift.id:6} {await _line(db, shift, zone)}  [{shift.source}]")
    return 0


async def _add(args: argparse.Namespace, db: Database, zone: ZoneInfo, now: datetime) -> int:
    role = rota.read_role(args.role)
    if role is None:
        return _err(f"'{args.role}' is not a rota role. Roles: {', '.join(rota.ROTA_ROLES)}")
    staff = await staff_store.get_staff(db, args.staff)
    if staff is None or not staff.active:
        return _err(f"no active staff '{args.staff}'. `whereabouts list staff` shows them.")
    start, end = _day(args.start, zone, now), _day(args.end, zone, now)
    async with db.write() as tx:
        if args.cover:
            change = await rota.add_cover(
                tx, role, staff.id, start, end, now=now, zone=zone, actor=None, source="cli"
            )
            shift, told = change.shift, change.displaced
        else:
            shift, told = (
                await rota.add_scheduled(
                    tx, role, staff.id, start, end, now=now, actor=None, source="cli"
                ),
                [],
            )
        await _gaps(tx, now, zone, "after a shift was added")
    print(f"Added shift {shift.id}: {await _line(db, shift, zone)}")
    if told:
        print(f"Told {', '.join(told)}: the cover replaces them for that span.")
    return 0


async def _import(args: argparse.Namespace, db: Database, zone: ZoneInfo, now: datetime) -> int:
    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _err(f"cannot read {path}: {exc.strerror}")
    directory = await rota_files.Directory.load(db)
    if path.suffix.lower() == ".csv":
        read = rota_files.read_csv(data.decode("utf-8-sig"), directory, zone)
    else:
        start = _day(args.from_, zone, datetime.combine(now.astimezone(zone).date(), time(0), zone))
        end = _day(args.to, zone, start + IMPORT_AHEAD)
        read = rota_files.read_ics(data, directory, zone, start, end)
    if read.unmatched and not args.allow_unmatched:
        print(
            f"error: {len(read.unmatched)} events match no role and staff member:", file=sys.stderr
        )
        for where in read.unmatched:
            print(f"  {where}", file=sys.stderr)
        print(
            "Nothing was imported. Name them '<role>: <staff id or name>' (or give staff their "
            "e-mail), or pass --allow-unmatched to import the rest.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    async with db.write() as tx:
        await rota.check_staff(tx, read.rows)
        result = await rota.apply_import(
            tx, read.rows, source_file=path.name, now=now, zone=zone, window=read.window
        )
        await _gaps(tx, now, zone, f"after {path.name} was imported")
    print(f"Imported {path.name}: {result.summary}.")
    for where in read.unmatched:
        print(f"  not imported (matches nobody): {where}")
    if result.told:
        print(f"Told of changes: {', '.join(dict.fromkeys(result.told))}")
    return 0


async def _ical(args: argparse.Namespace, db: Database, now: datetime) -> int:
    from handlers import rota_calendar

    staff = await staff_store.get_staff(db, args.staff)
    if staff is None:
        return _err(f"no staff '{args.staff}'. `whereabouts list staff` shows them.")
    data, shifts, duties = await rota_calendar.person_calendar(db, staff, now)
    out: Path = args.out or Path(f"whereabouts-{staff.id}.ics")
    write_private(out, data)  # a person's shifts and duties: theirs to read
    print(f"Wrote {out}: {shifts} shifts and {duties} open duties of {staff.name}.")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], with_db: object) -> None:
    """The `rota` command and its subcommands."""
    assert callable(with_db)
    p = sub.add_parser("rota", help="list, add, remove or import rota shifts")
    rsub = p.add_subparsers(dest="rota_command", required=True)
    q = with_db(
        rsub.add_parser("list", help="shifts from --from to --to (default: the next 7 days)")
    )
    q.add_argument("--from", dest="from_", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (default: now)")
    q.add_argument("--to", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (default: 7 days on)")
    q.add_argument("--role", help="only this role")
    q.add_argument("--json", action="store_true", help="one JSON object a line")
    q = with_db(rsub.add_parser("add", help="put someone on a role for a span"))
    q.add_argument("role")
    q.add_argument("staff", help="staff id")
    q.add_argument("start", help="YYYY-MM-DDTHH:MM, local")
    q.add_argument("end", help="YYYY-MM-DDTHH:MM, local")
    q.add_argument("--cover", action="store_true", help="override whoever is scheduled")
    q = with_db(rsub.add_parser("remove", help="take a shift off the rota (ids from `rota list`)"))
    q.add_argument("id", type=int)
    q = with_db(
        rsub.add_parser("import", help="a CSV (role,staff,from,to) or an iCalendar (.ics) file")
    )
    q.add_argument("file", type=Path)
    q.add_argument("--from", dest="from_", help="a calendar's first day (default: today)")
    q.add_argument("--to", help="a calendar's end (default: 13 weeks on)")
    q.add_argument(
        "--allow-unmatched", action="store_true", help="import the rest; list what matched nobody"
    )
    q = with_db(rsub.add_parser("ical", help="a person's shifts and open duties as .ics"))
    q.add_argument("--staff", required=True, help="staff id")
    q.add_argument("--out", type=Path, help="the file (default: whereabouts-<id>.ics)")
