"""The `whereabouts` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from config import rule_ids
from config.presets import PresetError, load_all_presets
from config.settings import DISPLAY_TIMEZONE, Settings
from config.yamlfile import DataFileError

if TYPE_CHECKING:
    from storage.db import Database

EXIT_USAGE = 2
SQLITE_ONLY = (
    "error: backup and check are for a SQLite file. On PostgreSQL use the server's own "
    "tools (pg_dump for a copy; the server checks its pages itself)."
)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {"db": args.db} if getattr(args, "db", None) else {}
    return Settings(**overrides)


def _log_level(settings: Settings, args: argparse.Namespace) -> None:
    """The long-running commands log at WHEREABOUTS_LOG_LEVEL (-v: DEBUG, as in main)."""
    from bot import logs

    logs.set_level(logging.DEBUG if args.verbose else settings.log_level)


def database_target(text: str) -> Path | str:
    """--db: a SQLite file, or a PostgreSQL database's URL."""
    from config.settings import DatabaseUrl

    return DatabaseUrl(text) if text.startswith(("postgresql://", "postgres://")) else Path(text)


def demo_scenario_path() -> Path:
    return Path(str(resources.files("bot").joinpath("scenarios", "west-yorkshire.yaml")))


def demo_team_path() -> Path:
    return Path(str(resources.files("config").joinpath("demo", "team.yaml")))


class NoDatabase(Exception):
    """A command that reads a database was pointed at a file that does not exist."""


def _must_exist(settings: Settings) -> None:
    if isinstance(settings.db, Path) and not settings.db.exists():
        raise NoDatabase(
            f"no database at {settings.db.resolve()}. Point --db or WHEREABOUTS_DB at yours, or "
            "create one: `whereabouts init-db`, `whereabouts import team.yaml` or "
            "`whereabouts console`."
        )


async def _open(settings: Settings, create: bool = False, locked: bool = False) -> Database:
    """The database; only the commands that set one up (init-db, import, console) create it:
    any other refuses a missing file, naming the one it looked for."""
    from storage import process_lock
    from storage.db import Database

    if not create:
        _must_exist(settings)
    if not locked and process_lock.is_sqlite_target(settings.db):
        # Beside a running bot (it holds the lock): fine, unless this would upgrade its schema.
        process_lock.refuse_upgrade_under(settings.db)
    return await Database(settings.db, settings.synchronous).open()


async def cmd_init_db(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = await _open(settings, create=True)
    await db.close()
    print(f"Database ready: {settings.db}")
    return 0


async def cmd_import(args: argparse.Namespace) -> int:
    from bot.admin import StaffReport, import_team
    from config.team import load_team_file

    settings = _settings(args)
    team = load_team_file(args.file)
    db = await _open(settings, create=True)
    report = StaffReport()
    try:
        staff, children = await import_team(
            db,
            team,
            default_area=args.area or settings.default_area,
            report=report,
            source_file=args.file.name,
        )
    except ValueError as exc:  # a rota row naming nobody: nothing was imported
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await db.close()
    print(f"Imported {staff} staff and {children} children into {settings.db}")
    for line in report.lines():
        print(line)
    return 0


async def cmd_list(args: argparse.Namespace) -> int:
    from storage import child_store, staff_store

    db = await _open(_settings(args))
    try:
        if args.what == "staff":
            for s in await staff_store.list_staff(db):
                left = f"  (left {s.left_at:%Y-%m-%d})" if s.left_at else ""
                print(f"{s.id:12} {s.role.value:22} {s.name}  {s.home or s.team or ''}{left}")
        else:
            for c in await child_store.list_children(db):
                print(
                    f"{c.ref:8} {c.first_name:12} {c.area:16} {c.legal_status.value:22} {c.home or ''}"
                )
    finally:
        await db.close()
    return 0


async def cmd_export(args: argparse.Namespace) -> int:
    """SUM-QUARTER: CSV of a period's episodes, events and duties; or the SSDA903 table."""
    from datetime import datetime, time, timedelta

    from config.dates import read_day
    from handlers import exports
    from storage import staff_store

    zone = ZoneInfo(DISPLAY_TIMEZONE)
    db = await _open(_settings(args))
    try:
        staff = await staff_store.get_staff(db, args.as_)
        if staff is None:
            print(
                f"error: no staff '{args.as_}'. The export shows what they may see.",
                file=sys.stderr,
            )
            return EXIT_USAGE
        out: Path = args.out
        if args.ssda903 is not None:
            year = exports.read_collection_year(args.ssda903)
            files = {
                f"ssda903-missing-{year - 1}-{year % 100:02d}.csv": (
                    await exports.ssda903_missing(db, staff, year, zone)
                )
            }
            print(
                f"SSDA903 collection year {year}: 1 April {year - 1} to 31 March {year}",
                file=sys.stderr,
            )
        else:
            if args.from_ is None or args.to is None:
                print(
                    "error: give --from and --to (2026-07-01 or 01/07/2026), or --ssda903 YEAR",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            first, last = read_day(args.from_), read_day(args.to)
            if last < first:
                print(
                    f"error: --to {last:%d/%m/%Y} is before --from {first:%d/%m/%Y}; nothing "
                    "was exported. Give the first day with --from and the last with --to.",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            start = datetime.combine(first, time(0), tzinfo=zone)
            end = datetime.combine(
                last + timedelta(days=1), time(0), tzinfo=zone
            )  # --to is inclusive
            files = await exports.period(db, staff, start, end, zone)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await db.close()
    from bot.private_files import private_dir, write_private

    if out.exists() and any(out.iterdir()) and not args.force:
        print(
            f"error: {out} already holds an export; nothing was written. Choose another --out, "
            "or add --force to replace its files.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    private_dir(out)  # names and dates of birth: the owner's eyes only (0700, files 0600)
    for name, text in files.items():
        write_private(out / name, text)
        print(f"wrote {out / name} ({text.count(chr(10)) - 1} rows)")
    return 0


async def cmd_backup(args: argparse.Namespace) -> int:
    from storage import maintenance

    settings = _settings(args)
    if not isinstance(settings.db, Path):
        print(SQLITE_ONLY, file=sys.stderr)
        return EXIT_USAGE
    db = await _open(settings)  # migrates first, so the copy is of the current schema
    await db.close()
    try:
        await maintenance.backup(settings.db, args.target)
    except (FileExistsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    health = await maintenance.check(args.target)
    print(f"Backed up {settings.db} to {args.target}: integrity {health.integrity}, "
          f"schema version {health.schema_version}, {health.episodes} episodes")  # fmt: skip
    return 0 if health.ok else 1


async def cmd_migrate_db(args: argparse.Namespace) -> int:
    from storage.db_copy import CopyRefused, migrate_db

    try:
        report = await migrate_db(args.source, args.to)
    except CopyRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Copied {args.source} into PostgreSQL: {report.total} rows in {len(report.rows)} "
          f"tables, every table's count checked, the timeline identical event by event "
          f"({report.rows.get('events', 0)} events). Point WHEREABOUTS_DB at it.")  # fmt: skip
    return 0


async def cmd_check(args: argparse.Namespace) -> int:
    from storage import maintenance

    settings = _settings(args)
    if not isinstance(settings.db, Path):
        print(SQLITE_ONLY, file=sys.stderr)
        return EXIT_USAGE
    try:
        health = await maintenance.check(settings.db)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not health.ok:
        print(f"{settings.db}: damaged, integrity check failed: {health.integrity}\n"
              "Stop the bot and restore the latest backup (copy it into place).")  # fmt: skip
        return 1
    print(f"{settings.db}: integrity {health.integrity}; schema version {health.schema_version}; "
          f"{health.episodes} episodes, {health.open_episodes} open; "
          f"{health.pending_messages} messages waiting to send")  # fmt: skip
    return 0 if health.ok else 1


async def cmd_console(args: argparse.Namespace) -> int:
    from storage import process_lock

    settings = _settings(args)
    _log_level(settings, args)
    # The console runs the sweeper and the outbox like `run`: one such process per file.
    lock = (
        process_lock.acquire(settings.db, "console")
        if process_lock.is_sqlite_target(settings.db)
        else None
    )
    try:
        return await _console(args, settings)
    finally:
        if lock is not None:
            lock.release()


async def _console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.admin import DEMO_ROTA_DAYS, import_team, seed_demo_rota
    from bot.console import ConsoleTransport
    from bot.heartbeat import Heartbeat
    from config.presets import load_preset
    from config.team import load_team_file
    from handlers.context import Services
    from handlers.report_jobs import ReportJobs
    from handlers.rota_gaps import GapJobs
    from reminders.clock import SystemClock
    from reminders.sweeper import Sweeper
    from storage import staff_store

    db = await _open(settings, create=True, locked=True)
    try:
        if not await staff_store.list_staff(db):
            team = load_team_file(demo_team_path())
            await import_team(db, team, settings.default_area)
            zone = load_preset(settings.default_area).zone
            shifts = await seed_demo_rota(db, team, SystemClock().now(), zone)
            print(
                f"Empty database: loaded the demo team into {settings.db}, with {shifts} people "
                f"on the rota for the next {DEMO_ROTA_DAYS} days (whereabouts rota list)"
            )
        svc = Services(db=db)
        console = ConsoleTransport(
            svc,
            files_dir=(
                settings.db.resolve().parent if isinstance(settings.db, Path) else Path.cwd()
            )
            / "whereabouts-files",
        )
        # Timers keep running while you type: escalations print as they fall due.
        beat = Heartbeat(
            Sweeper(
                db,
                svc.clock,
                svc.presets,
                jobs=[ReportJobs(db, svc.clock, svc.presets), GapJobs(db, svc.clock, svc.presets)],
            ),
            console.delivery,
            svc.clock,
            settings.sweep_interval_seconds,
        )
        console.after_command = beat.wake
        await beat.start()
        try:
            await console.repl(args.as_)
        finally:
            beat.shutdown()
    finally:
        await db.close()
    return 0


async def cmd_invite(args: argparse.Namespace) -> int:
    from handlers.context import Services
    from handlers.enrolment import create_invite
    from handlers.staff_commands import bulk_invites

    if (args.staff is None) == (args.team is None):
        print("error: give --staff ID, or --team HOME for everyone in it", file=sys.stderr)
        return EXIT_USAGE
    db = await _open(_settings(args))
    try:
        if args.team is not None:
            for person, each, until in await bulk_invites(
                Services(db=db), args.team, args.add_device
            ):
                print(f"{person.id}\t{person.name}\t{each}\texpires {until}")
            return 0
        code, expires = await create_invite(Services(db=db), args.staff, args.add_device)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await db.close()
    when = expires.astimezone(ZoneInfo(DISPLAY_TIMEZONE)).strftime("%a %d %b %H:%M")
    print(f"Invite code for {args.staff}: {code}")
    print(f"They send '/start {code}' to the bot in a direct message (Telegram), or DM the code")
    print(f"to the app (Slack, Teams). It works once and expires {when}.")
    if args.add_device:
        print("It adds a device: their other chat accounts stay enrolled.")
    else:
        print(
            "Used, it replaces any chat account they are enrolled on now (--add-device: keeps them)."
        )
    return 0


async def cmd_staff_leave(args: argparse.Namespace) -> int:
    """`whereabouts staff leave <id>`: cut off at once, what they held handed on."""
    from handlers.context import Services
    from handlers.staff_commands import record_leave, unknown_staff
    from reminders.leavers import NotALeaver
    from storage import staff_store

    db = await _open(_settings(args))
    try:
        if await staff_store.get_staff(db, args.id) is None:
            print(f"error: {await unknown_staff(db, args.id)}", file=sys.stderr)
            return EXIT_USAGE
        handover = await record_leave(Services(db=db), args.id, None, args.reason)
    except NotALeaver as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await db.close()
    print(handover.summary("the command line", args.reason))
    print(f"Told: {', '.join(handover.told) or 'nobody (no manager or admin to tell)'}.")
    return 0


async def cmd_rota(args: argparse.Namespace) -> int:
    from bot import rota_cli

    settings = _settings(args)
    db = await _open(settings)
    try:
        return await rota_cli.run(args, db, settings)
    finally:
        await db.close()


async def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import StartupError, run_forever

    settings = _settings(args)
    _log_level(settings, args)
    _must_exist(settings)  # a live bot runs on the team's database, never a new empty one
    unset = [p.name for p in load_all_presets().values() if not p.contacts.emergency_duty_team]
    if unset:  # the number a reporter is told to phone when nobody could be alerted
        print(
            f"warning: no emergency duty team number for {', '.join(unset)}; set them in "
            "WHEREABOUTS_AREA_CONTACTS (see config/contacts.py)",
            file=sys.stderr,
        )
    try:
        await run_forever(settings)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


async def cmd_simulate(args: argparse.Namespace, path: Path | None = None) -> int:
    from bot.scenario import ScenarioRun, load_scenario

    scenario = load_scenario(path or args.scenario)
    keep: Path | None = getattr(args, "db", None)
    if keep is not None and keep.exists():
        print(
            f"error: {keep} exists. A scenario starts from an empty database: name a new file.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    run = ScenarioRun(scenario) if args.json else ScenarioRun(scenario, out=print)
    records = await run.run(keep)
    if args.json:
        for record in records:
            print(record.as_json())
    if keep is not None:
        print(f"The scenario's database is kept in {keep}.", file=sys.stderr)
    if getattr(args, "strict", False) and run.refused:
        print(f"error: {len(run.refused)} step(s) refused:", file=sys.stderr)
        for line in run.refused:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    if not args.json:
        print(
            "Whereabouts demo: a Friday night at Oak House (fictional), West Yorkshire protocol.\n"
        )
    return await cmd_simulate(args, demo_scenario_path())


async def cmd_areas(args: argparse.Namespace) -> int:
    """The areas a child may be under: each a preset from one local protocol."""
    default = _settings(args).default_area
    for name, preset in load_all_presets().items():
        hours = preset.office_hours
        days = f"{hours.weekdays[0]}-{hours.weekdays[-1]}" if hours.weekdays else "none"
        holidays = preset.holidays.country + (
            f"-{preset.holidays.subdiv}" if preset.holidays.subdiv else ""
        )
        mark = "  (default)" if name == default else ""
        print(f"{name}{mark}\n    {preset.title}")
        print(
            f"    {len(preset.rules)} rules; office hours {days} {hours.open:%H:%M}-{hours.close:%H:%M};"
            f" {preset.timezone}; bank holidays {holidays}"
        )
    print("\nA child's area is `area:` in the team file; otherwise WHEREABOUTS_DEFAULT_AREA.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whereabouts", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--db",
            type=database_target,
            help="SQLite file or postgresql:// URL (default: $WHEREABOUTS_DB or ./whereabouts.db)",
        )
        return p

    with_db(sub.add_parser("init-db", help="create or upgrade the database")).set_defaults(
        func=cmd_init_db
    )
    p = with_db(sub.add_parser("import", help="import staff and children from a YAML file"))
    p.add_argument("file", type=Path)
    p.add_argument("--area", help="area for children that name none")
    p.set_defaults(func=cmd_import)
    p = with_db(sub.add_parser("list", help="list staff or children"))
    p.add_argument("what", choices=["staff", "children"])
    p.set_defaults(func=cmd_list)
    p = with_db(sub.add_parser("console", help="chat with the bot in this terminal"))
    p.add_argument("--as", dest="as_", help="staff id to type as")
    p.set_defaults(func=cmd_console)
    p = with_db(sub.add_parser("invite", help="issue a one-time enrolment code (72 hours)"))
    p.add_argument("--staff", help="staff id the code enrols")
    p.add_argument("--team", help="a home or team: one code for everyone in it, one line each")
    p.add_argument(
        "--add-device", action="store_true", help="keep their other accounts (a second device)"
    )
    p.set_defaults(func=cmd_invite)
    staff_cmd = sub.add_parser("staff", help="staff lifecycle: record a leaver")
    staff_sub = staff_cmd.add_subparsers(dest="staff_command", required=True)
    p = with_db(staff_sub.add_parser("leave", help="cut someone off and hand on what they held"))
    p.add_argument("id", help="staff id")
    p.add_argument("--reason", help="why (kept on the record)")
    p.set_defaults(func=cmd_staff_leave)
    p = with_db(
        sub.add_parser("export", help=f"CSV for a period ({rule_ids.QUARTERLY_EXPORT}) or SSDA903")
    )
    p.add_argument("--as", dest="as_", required=True, help="staff id: what they may see")
    p.add_argument("--from", dest="from_", help="first day, 2026-07-01 or 01/07/2026")
    p.add_argument("--to", help="last day, inclusive (2026-09-30 or 30/09/2026)")
    p.add_argument(
        "--ssda903",
        metavar="YEAR",
        help="the SSDA903 Missing table for collection year YEAR, the year the return ends as"
        " the DfE and its validator count: 2027 (or 2026-27) is April 2026 to March 2027",
    )
    p.add_argument("--out", type=Path, default=Path("export"), help="directory (./export)")
    p.add_argument(
        "--force", action="store_true", help="replace the files of an export already in --out"
    )
    p.set_defaults(func=cmd_export)
    p = with_db(sub.add_parser("backup", help="a consistent copy, safe while the bot runs"))
    p.add_argument("target", type=Path, help="a new file for the copy")
    p.set_defaults(func=cmd_backup)
    p = with_db(sub.add_parser("check", help="integrity check and schema version"))
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("migrate-db", help="copy a SQLite database into an empty PostgreSQL one")
    p.add_argument("--from", dest="source", type=Path, required=True, help="the SQLite file")
    p.add_argument("--to", required=True, help="postgresql://user@host/db (an empty database)")
    p.set_defaults(func=cmd_migrate_db)
    from bot import rota_cli

    rota_cli.add_parser(sub, with_db)
    sub.choices["rota"].set_defaults(func=cmd_rota)
    p = with_db(sub.add_parser("run", help="run the live bot (Telegram, Slack and/or Teams)"))
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("simulate", help="play a scenario file with a fake clock")
    p.add_argument("scenario", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.add_argument(
        "--db", type=Path, help="keep the scenario's database in this new file (to inspect it)"
    )
    p.add_argument("--strict", action="store_true", help="exit 1 if any step was refused")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("areas", help="the areas (protocol presets) and which is the default")
    p.set_defaults(func=cmd_areas)
    p = sub.add_parser("demo", help="play the Friday-night demo episode")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_demo)
    return parser


def run_on_event_loop(main: Coroutine[Any, Any, int]) -> int:
    """On uvloop where it is installed (not Windows): each command's round trips through
    the loop cost less, which a bot answering 200 commands a second feels (bench/README.md)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from pydantic import ValidationError

    from storage.db import DatabaseUnusable
    from storage.process_lock import DatabaseInUse

    try:
        load_all_presets()  # a bad preset stops the start, naming the file and line
        return run_on_event_loop(args.func(args))
    except (DataFileError, PresetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:  # a setting (WHEREABOUTS_*) that can't be used
        print(f"error: {settings_problem(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseUnusable as exc:  # damaged, not a database, or not writable: said plainly
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except NoDatabase as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseInUse as exc:  # another bot holds the file, or an upgrade would go under it
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def settings_problem(exc: Any) -> str:
    """A settings error as the variable a person set and what it may be."""
    lines = []
    for error in exc.errors():
        name = "WHEREABOUTS_" + "_".join(str(p) for p in error["loc"]).upper()
        given = error.get("input")
        expected = (error.get("ctx") or {}).get("expected")
        what = f"must be one of {expected}" if expected else error["msg"]
        lines.append(f"{name}={given!s}: {what}" if given is not None else f"{name}: {what}")
    return "; ".join(lines)


if __name__ == "__main__":
    sys.exit(main())
