"""Crash loop bench (issue #9): 1,000 SIGKILLs of a live bot, then the same checks as CI.

`whereabouts run` runs in its own process against the Telegram Bot API stand-in while
scripted episodes (one carer per child; shared social worker, managers, police liaison)
are typed and pressed; the bot is killed at random moments (seeded) and restarted. At the
end it drains and stops, and tests/support/crash_rig.py checks the database against what the
stand-in received: answered commands on the timeline, every message delivered, none twice
except one in flight at a kill, no duty or climb step fired twice, no half-written
episode, PRAGMA integrity_check. The CI run of the same harness is
tests/test_crash_loop.py (20 kills).

`--db postgresql://…` runs on a PostgreSQL server instead (a scratch database of its own,
dropped after: bench/_pg.py); `--instances 2` runs two processes on it at once, each kill
picking either (PostgreSQL only: SQLite's file lock refuses a second process by design).

    python bench/crash_loop.py                 # 1,000 kills (about 45 minutes)
    python bench/crash_loop.py --kills 100 --seed 7 --children 4 --keep /tmp/crash
    python bench/crash_loop.py --db postgresql://wb@127.0.0.1:55499/postgres --instances 2

Exit status 1 if any check failed; the problems are printed with the seed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests` is not an installed package; run from a checkout
    sys.path.insert(0, str(ROOT))

from _pg import scratch_database, server_settings  # noqa: E402

from tests.support.crash_rig import ONLY_POSTGRESQL, CrashConfig, run_crash_loop  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    defaults = {f.name: f.default for f in fields(CrashConfig)}
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=defaults["seed"])
    parser.add_argument("--children", type=int, default=defaults["children"])
    parser.add_argument(
        "--synchronous", choices=["FULL", "NORMAL", "EXTRA"], default=defaults["synchronous"]
    )
    parser.add_argument(
        "--max-uptime",
        type=float,
        default=defaults["max_uptime"],
        help="a kill falls up to this many seconds after the bot polls (default %(default)s)",
    )
    parser.add_argument(
        "--db", metavar="POSTGRESQL_URL", help="a PostgreSQL server: a scratch database on it"
    )
    parser.add_argument(
        "--instances", type=int, choices=[1, 2], default=defaults["instances"],
        help="bot processes on one database, each kill picking one (2 needs --db)",
    )  # fmt: skip
    parser.add_argument("--keep", type=Path, help="work here and keep the database and bot.log")
    args = parser.parse_args(argv)
    if args.instances > 1 and args.db is None:
        parser.error(ONLY_POSTGRESQL + ": give --db postgresql://…")
    config = CrashConfig(
        kills=args.kills,
        seed=args.seed,
        children=args.children,
        synchronous=args.synchronous,
        max_uptime=args.max_uptime,
        instances=args.instances,
    )
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="whereabouts-crash-"))
    try:
        with contextlib.ExitStack() as stack:
            db = None
            if args.db is not None:
                # --keep keeps the files, not the database: it is dropped with the run
                db = stack.enter_context(scratch_database(args.db, "crash"))
                print(server_settings(db))
            result = asyncio.run(run_crash_loop(workdir, config, db))
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(result.report())
    if result.problems:
        again = f"--kills {args.kills} --seed {args.seed}"
        if args.db is not None:
            again += f" --db {args.db} --instances {args.instances}"
        print(f"FAILED: reproduce with {again}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
