"""Recovery after a restart (issue #9): how soon the overdue alerts go out.

A database holds 10,000 open episodes (one per child), each with a live escalation climb
(ABS-REVIEW, the carer-review ladder, built as reminders/escalation.py builds it); 1,000 of
those climbs are overdue (next_at in the past, as if the bot had been down). Staff are
bound to Telegram ids, so each overdue climb's message goes to the stand-in (by default
each to a different carer: 1,000 recipients). Then `whereabouts run` is started as its own
process (WHEREABOUTS_DB, TELEGRAM_BOT_TOKEN, WHEREABOUTS_TELEGRAM_BASE_URL pointing at the
stand-in; synchronous=FULL) and timed from process start to the last of the 1,000 messages
reaching the stand-in. Its peak RSS (VmHWM) is read from /proc.

Afterwards two /status commands measure what 10,000 open episodes cost a person: a carer
(who sees their home's children) and an out-of-hours worker (who sees every child).

    python bench/recovery.py
    python bench/recovery.py --episodes 10000 --overdue 1000 --recipients 50
    python bench/recovery.py --db postgresql://wb@127.0.0.1:55432/postgres   # and on PostgreSQL

With `--db` (a server whose user may create databases) the same database is copied into a
scratch PostgreSQL database with `whereabouts migrate-db` and measured there too, with the
limiter off, beside `whereabouts-no-limits` in the same run, and given as ratios to it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import (
    SYNCHRONOUS,
    BotProcess,
    MeasuringTelegram,
    bot_env,
    durability,
    machine,
    machine_cpu,
    office_hours,
    others_cpu,
    table,
    wait_until_polling,
    whereabouts_command,
)
from _pg import scratch_database, server_settings

from config.citations import split_footer

# With --db only: the same data copied in by migrate-db, and the limiter off as in
# whereabouts-no-limits, so the two differ only in the engine (as shipped both wait on
# Telegram's 30 messages a second).
POSTGRES = "whereabouts-postgresql-no-limits"
VARIANTS = ("whereabouts", "whereabouts-no-limits", POSTGRES)
AREA = "west-yorkshire"
LADDER = "carer_review"  # ABS-REVIEW: its first step tells the reporter
TARGET_LAST = 5.0  # seconds from process start to the last of the overdue messages
TARGET_RSS_MB = 150
FIRST_NAMES = ("Jay", "Mia", "Leo", "Ava", "Kai", "Zoe", "Eli", "Ivy", "Max", "Amy")
LATE = re.compile(r"\n\(late by [^)]*\)$")


def review_alert(text: str) -> str | None:
    """The body of an ABS-REVIEW alert (its footer names the rule first), without any
    "(late by …)" note; None for anything else."""
    body, footer = split_footer(text)
    if footer is None or not footer.startswith("ABS-REVIEW"):
        return None
    return LATE.sub("", body)


# ---- the database ------------------------------------------------------------------------


def team_spec(children: int, homes: int, carers: int) -> dict:
    staff: list[dict] = [
        {"id": "ooh-1", "role": "out_of_hours"},
        {"id": "ooh-2", "role": "out_of_hours"},
        {"id": "oohm-1", "role": "out_of_hours_manager"},
        {"id": "pc-1", "role": "police_liaison"},
        {"id": "admin-1", "role": "admin"},
    ]
    managers = [f"tm-{n}" for n in range(1, max(1, homes // 10) + 1)]
    workers = [f"sw-{n}" for n in range(1, max(1, children // 50) + 1)]  # caseloads of 50
    iros = [f"iro-{n}" for n in range(1, max(1, children // 50) + 1)]
    staff += [{"id": m, "role": "team_manager"} for m in managers]
    staff += [
        {"id": w, "role": "social_worker", "manager": managers[n % len(managers)]}
        for n, w in enumerate(workers)
    ]
    staff += [{"id": i, "role": "iro"} for i in iros]
    staff += [{"id": f"carer-{n:05d}", "role": "carer", "home": home_of(n, homes)}
              for n in range(carers)]  # fmt: skip
    kids = []
    for n in range(children):
        kids.append(
            {
                "ref": f"C-{n + 1:05d}",
                "first_name": FIRST_NAMES[n % len(FIRST_NAMES)],
                "dob": "2011-05-02",
                "home": home_of(n, homes),
                "legal_status": "looked_after",
                "social_worker": workers[n % len(workers)],
                "team_manager": managers[n % len(managers)],
                "iro": iros[n % len(iros)],
            }
        )
    now = datetime.now(UTC)
    rota = [
        {"role": role, "staff": who, "from": now - timedelta(days=1), "to": now + timedelta(days=2)}
        for role, who in (
            ("out_of_hours", "ooh-1"),
            ("out_of_hours", "ooh-2"),
            ("out_of_hours_manager", "oohm-1"),
            ("police_liaison", "pc-1"),
        )
    ]
    for person in staff:
        person.setdefault("name", person["id"].replace("-", " ").title())
    return {"staff": staff, "children": kids, "rota": rota}


def carer_count(args: argparse.Namespace) -> int:
    """Enough carers for the recipients, and at least five in every home."""
    return max(args.recipients, 5 * args.homes)


def home_of(n: int, homes: int) -> str:
    return f"home-{n % homes:03d}"


def climb(preset, ladder_name: str, actor: str, details: str) -> tuple:  # noqa: ANN001
    """The steps and context a climb carries, made as reminders/escalation.py makes them."""
    from reminders.escalation import climb_snapshot

    return climb_snapshot(
        preset.ladders[ladder_name], preset.absence.review_interval, actor=actor, details=details
    )


async def build_database(path: Path, args: argparse.Namespace) -> dict[tuple[int, str], int]:
    """Returns {(telegram user id, child ref): 1} for every overdue climb's message."""
    from bot.admin import import_team
    from config.presets import load_preset
    from config.team import TeamFile
    from storage import child_store, episode_store, escalation_store, staff_store
    from storage.db import Database
    from storage.models import Category, Concern

    rng = random.Random(args.seed)
    homes = args.homes
    spec = team_spec(args.episodes, homes, carer_count(args))
    db = await Database(path, SYNCHRONOUS).open()
    preset = load_preset(AREA)
    expected: dict[tuple[int, str], int] = {}
    try:
        await import_team(db, TeamFile.model_validate(spec), default_area=AREA)
        user_of = {s["id"]: 200_000 + n for n, s in enumerate(spec["staff"])}
        children = await child_store.list_children(db)
        carers_by_home: dict[str, list[str]] = {}
        for s in spec["staff"]:
            if s["role"] == "carer":
                carers_by_home.setdefault(s["home"], []).append(s["id"])
        now = datetime.now(UTC)
        overdue = set(rng.sample(range(len(children)), args.overdue))
        carers = [s["id"] for s in spec["staff"] if s["role"] == "carer"][: args.recipients]
        async with db.write() as tx:
            for staff_id, user_id in user_of.items():
                await staff_store.bind_identity(tx, "telegram", str(user_id), staff_id)
            # each overdue climb's reporter in turn (so, by default, a different carer each)
            reporter_of = {n: carers[k % len(carers)] for k, n in enumerate(sorted(overdue))}
            for n, child in enumerate(children):
                assert child.home is not None
                reporter = reporter_of.get(n) or rng.choice(carers_by_home[child.home])
                if n in overdue:
                    next_at = now - timedelta(minutes=rng.uniform(1, 55))
                else:
                    next_at = now + timedelta(minutes=rng.uniform(30, 12 * 60))
                reported = next_at - preset.absence.review_interval
                last_seen = reported - timedelta(minutes=rng.uniform(5, 60))
                details = "left after a row, phone off, took a bike"
                episode_id = await episode_store.insert_episode(
                    tx,
                    child=child,
                    category=Category.ABSENT,
                    concern=Concern.CARER,
                    last_seen_at=last_seen,
                    last_seen_place=details,
                    reported_by=reporter,
                    reported_at=reported,
                )
                for kind, text, at in (
                    ("last_seen", f"last seen: {details}", last_seen),
                    ("reported", "reported absent; level of concern: carer", reported),
                ):
                    await episode_store.append_event(
                        tx,
                        episode_id=episode_id,
                        child_id=child.id,
                        at=at,
                        recorded_at=reported,
                        actor_id=reporter,
                        kind=kind,
                        text=text,
                        rule_id="ABS-LOG",
                    )
                steps, context = climb(preset, LADDER, reporter.replace("-", " ").title(), details)
                await escalation_store.insert_escalation(
                    tx,
                    episode_id=episode_id,
                    child_id=child.id,
                    ladder=LADDER,
                    rule_id=preset.ladders[LADDER].rule,
                    needs_ack=preset.ladders[LADDER].needs_ack,
                    context=context,
                    steps=steps,
                    next_at=next_at,
                    started_at=next_at,
                )
                if n in overdue:
                    key = (user_of[reporter], child.ref)
                    expected[key] = expected.get(key, 0) + 1
    finally:
        await db.close()
    return expected


# ---- one run ------------------------------------------------------------------------------


async def run_variant(
    variant: str, args: argparse.Namespace, workdir: Path, template: Path, expected: dict
) -> dict:
    vdir = workdir / variant
    vdir.mkdir()
    if variant != POSTGRES:
        db = vdir / "whereabouts.db"
        shutil.copy(template, db)
        return await _run_variant(variant, args, vdir, db, expected)
    from storage.db_copy import migrate_db

    with scratch_database(args.db, "recovery") as url:
        await migrate_db(template, url)
        return await _run_variant(variant, args, vdir, url, expected)


async def _run_variant(
    variant: str, args: argparse.Namespace, vdir: Path, db: Path | str, expected: dict
) -> dict:
    fake = await MeasuringTelegram().start()
    total = sum(expected.values())
    bot = BotProcess(
        whereabouts_command(rate_limits=variant == "whereabouts"),
        bot_env(db, fake),  # type: ignore[arg-type]  # a URL on PostgreSQL
        vdir / "log",
    )
    machine0 = machine_cpu()
    bot.start()
    t0 = bot.started_at
    sampler = asyncio.create_task(sample_rss(bot))
    result: dict = {"variant": variant}
    try:
        await wait_until_polling(fake, bot, timeout=60)
        result["polling"] = time.monotonic() - t0
        done = await fake.until_sends(
            total, t0 + args.timeout, lambda t: review_alert(t) is not None
        )
        wall = time.monotonic() - t0
        cpu = bot.cpu_seconds()
        result["others_cpu"] = others_cpu(machine0, machine_cpu(), cpu, wall)
        result["bot_cpu"] = cpu
        result["complete"] = done
        await asyncio.sleep(1.0)  # anything sent twice arrives now
        ours = [(at, chat, body) for at, chat, text in fake.outbox_sends
                if (body := review_alert(text)) is not None]  # fmt: skip
        result["received"] = len(ours)
        result["others"] = len(fake.outbox_sends) - len(ours)
        seen = Counter((chat, text) for _, chat, text in ours)
        result["duplicates"] = sum(n - 1 for n in seen.values() if n > 1)
        got = Counter()
        for _, chat, text in ours:
            match = re.search(r"No update on (\S+)", text)
            if match:
                got[(chat, match.group(1))] += 1
        result["distinct"] = sum(min(n, expected.get(k, 0)) for k, n in got.items())
        result["misrouted"] = sum(n for k, n in got.items() if k not in expected)
        times = sorted(at for at, _, _ in ours)
        result["first"] = times[0] - t0 if times else math.nan
        result["last"] = times[min(len(times), total) - 1] - t0 if times else math.nan
        result["peak_rss_recovery"] = bot.sample_peak_rss()
        # What 10,000 open episodes cost a person asking /status.
        result["status"] = await status_probes(fake, bot, args)
        result["peak_rss"] = bot.sample_peak_rss()
    finally:
        sampler.cancel()
        await bot.stop()
        await fake.stop()
    result["log"] = bot.log_tail(8)
    return result


async def status_probes(
    fake: MeasuringTelegram, bot: BotProcess, args: argparse.Namespace
) -> list[tuple[str, float, int, int, bool]]:
    """/status as a carer (their home's children) and as out-of-hours (every child):
    (who, seconds to the last part of the reply, characters, parts, whether it finished)."""
    out = []
    for seq, (who, user_id) in enumerate(
        (("carer", args.probe_carer), ("out-of-hours", args.probe_ooh)), start=1_000_000
    ):
        fake.command(seq, user_id, "/status")
        cap = time.monotonic() + args.probe_timeout
        await fake.until_answered(range(seq, seq + 1), cap)
        # The rest of a reply sent in parts (at most one a second per chat, when limited).
        while seq in fake.replied_at and time.monotonic() - fake.replied_at[seq] < 3.0:
            if time.monotonic() > cap:
                break
            await asyncio.sleep(0.1)
        if seq in fake.replied_at:
            latency = fake.replied_at[seq] - fake.queued_at[seq]
            done = time.monotonic() <= cap
            out.append((who, latency, fake.reply_chars[seq], fake.reply_parts[seq], done))
        else:
            out.append((who, math.inf, 0, 0, False))
        bot.sample_peak_rss()
    return out


async def sample_rss(bot: BotProcess) -> None:
    while True:
        if bot.proc is not None and bot.alive():
            bot.sample_peak_rss()
        await asyncio.sleep(0.05)


# ---- report ---------------------------------------------------------------------------


def report(results: list[dict], args: argparse.Namespace, workdir: Path, built: float) -> None:
    print()
    print(
        f"Recovery: {args.episodes} open episodes, {args.overdue} with an overdue escalation "
        f"(ABS-REVIEW) to {min(args.recipients, args.overdue)} different people; database "
        f"built in {built:.1f} s"
    )
    print(f"Durability: {durability(workdir)}")
    if any(r["variant"] == POSTGRES for r in results):
        print(f"Durability ({POSTGRES}): {server_settings(args.db)}")
    print(f"Machine: {machine()}")
    print(f"Clock: {office_hours()}")
    headers = ["bot", "episodes", "overdue", "polling at", "first msg", "last msg",
               "received", "duplicates", "peak RSS", "synchronous"]  # fmt: skip
    rows = []
    for r in results:
        rows.append(
            [r["variant"], str(args.episodes), str(args.overdue), f"{r['polling']:.2f} s",
             f"{r['first']:.2f} s", f"{r['last']:.2f} s" if r["complete"] else
             f"not all within {args.timeout:g} s", f"{r['distinct']}/{args.overdue}",
             str(r["duplicates"]), mb(r["peak_rss"]), SYNCHRONOUS]
        )  # fmt: skip
    print(table(headers, rows))
    print("(times from process start; 'received' counts distinct expected messages; peak RSS "
          "is VmHWM over the whole run, /status probes included)")  # fmt: skip

    print("\nAfter recovery, /status with every episode open:")
    srows = []
    for r in results:
        for who, latency, length, parts, done in r["status"]:
            srows.append([r["variant"], who,
                          f"{latency:.2f} s" if done else (
                              f"no reply within {args.probe_timeout:g} s" if math.isinf(latency)
                              else f"{latency:.2f} s, and still coming"),
                          f"{length} characters", str(parts)])  # fmt: skip
    print(table(["bot", "asked by", "whole reply after", "reply length", "messages"], srows))

    print("\nDetails:")
    for r in results:
        notes = [
            f"bot CPU {r['bot_cpu']:.1f} s",
            f"peak RSS during the recovery {mb(r['peak_rss_recovery'])}",
            f"{r['others']} other messages",
        ]
        if r["misrouted"]:
            notes.append(f"{r['misrouted']} went to the wrong person")
        if r["others_cpu"] > 0.25:
            notes.append(
                f"OTHER PROCESSES used {r['others_cpu']:.1f} CPUs meanwhile: the figures include "
                "their interference"
            )
        print(f"  {r['variant']}: " + "; ".join(notes))

    by_name = {r["variant"]: r for r in results}
    if POSTGRES in by_name and "whereabouts-no-limits" in by_name:
        pg, lite = by_name[POSTGRES], by_name["whereabouts-no-limits"]
        status = [
            f"/status as {a[0]} {a[1] / b[1]:.2f}x"
            for a, b in zip(pg["status"], lite["status"], strict=True)
        ]
        print(
            f"\nPostgreSQL / SQLite, both with the limiter off: first message "
            f"{pg['first'] / lite['first']:.2f}x, last {pg['last'] / lite['last']:.2f}x, "
            f"bot CPU {pg['bot_cpu'] / lite['bot_cpu']:.2f}x, peak RSS "
            f"{(pg['peak_rss'] or 0) / (lite['peak_rss'] or 1):.2f}x; " + ", ".join(status)
        )

    print("\nVerdict:")
    if (args.episodes, args.overdue) != (10_000, 1_000):
        print("  (the targets are set for 10000 open episodes and 1000 overdue; this run differs)")
    for r in results:
        last_ok = r["complete"] and r["last"] <= TARGET_LAST
        rss = (r["peak_rss"] or 0) / 1024
        print(
            f"  {r['variant']}: last of {args.overdue} overdue messages at "
            f"{r['last']:.2f} s: target <= {TARGET_LAST:g} s {'MET' if last_ok else 'NOT MET'}; "
            f"peak RSS {rss:.0f} MB: target <= {TARGET_RSS_MB} MB "
            f"{'MET' if rss <= TARGET_RSS_MB else 'NOT MET'} [synchronous={SYNCHRONOUS}]"
        )
        if not r["complete"]:
            print(f"    log tail:\n{r['log']}")
    if args.keep:
        print(f"\nLogs and databases: {workdir}")


def mb(kb: int | None) -> str:
    return f"{kb / 1024:.0f} MB" if kb else "n/a"


# ---- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--episodes", type=int, default=10_000, help="open episodes (default 10000)")
    p.add_argument("--overdue", type=int, default=1_000, help="of them overdue (default 1000)")
    p.add_argument("--recipients", type=int, default=1_000,
                   help="carers the overdue alerts go to (default 1000: one each)")  # fmt: skip
    p.add_argument("--homes", type=int, default=200)
    p.add_argument("--timeout", type=float, default=120.0,
                   help="give up waiting for the messages after this many seconds")  # fmt: skip
    p.add_argument("--variants",
                   help=f"comma-separated, from {', '.join(VARIANTS)} (default the first two, "
                   "and the third with --db)")  # fmt: skip
    p.add_argument("--db", help=f"a PostgreSQL server (postgresql://…) for {POSTGRES}")
    p.add_argument("--probe-timeout", type=float, default=60.0,
                   help="stop waiting for a /status reply after this many seconds")  # fmt: skip
    p.add_argument("--seed", type=int, default=9)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    default = VARIANTS if args.db else VARIANTS[:2]
    args.variants = [
        v.strip() for v in (args.variants or ",".join(default)).split(",") if v.strip()
    ]
    if POSTGRES in args.variants and not args.db:
        p.error(f"{POSTGRES} needs --db postgresql://… (a server whose user may create databases)")
    if set(args.variants) - set(VARIANTS):
        p.error(f"variants are {', '.join(VARIANTS)}")
    if args.probe_timeout < 5:
        p.error("--probe-timeout must be at least 5 s (a reply is whole after 3 s of quiet)")
    if not 0 < args.overdue <= args.episodes or args.recipients < 1:
        p.error("need 0 < overdue <= episodes and at least one recipient")
    return args


async def amain(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="wb-recovery-"))
    template = workdir / "template.db"
    try:
        print(f"Building {template} …", flush=True)
        started = time.monotonic()
        expected = await build_database(template, args)
        built = time.monotonic() - started
        spec_staff = team_spec(args.episodes, args.homes, carer_count(args))["staff"]
        ids = {s["id"]: 200_000 + n for n, s in enumerate(spec_staff)}
        args.probe_carer = ids["carer-00000"]
        args.probe_ooh = ids["ooh-1"]
        results = []
        for variant in args.variants:
            print(f"Running {variant} …", flush=True)
            results.append(await run_variant(variant, args, workdir, template, expected))
        report(results, args, workdir, built)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
