"""Teams inbound cost: from an activity's POST to its 200, and to its answer, through the real
adapter (token checked against the stand-in's keys, stored in the inbox with synchronous=FULL
before the 200), beside Slack's HTTP endpoint (signature checked, stored the same way) as the
baseline, in the same run, on the same kind of database.

    python bench/teams_inbound.py [--commands 300] [--users 10]

In-process, against the stand-ins on 127.0.0.1 (tests/support/); nothing reaches Microsoft or
Slack. Figures include whatever else the machine was doing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.clock import local  # noqa: E402
from tests.support.fake_slack import dm_of  # noqa: E402
from tests.support.fake_teams import personal_id  # noqa: E402
from tests.support.slack_rig import SLACK_IDS, SlackRig  # noqa: E402
from tests.support.teams_rig import TEAMS_IDS, TeamsRig  # noqa: E402

NOW = local("2026-10-23 21:10")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def teams(n: int, users: list[str], workdir: Path) -> tuple[list[float], list[float]]:
    rig = await TeamsRig.start(workdir / "teams.db", NOW)
    acked, answered = [], []
    try:
        for i in range(n):
            who = users[i % len(users)]
            before = len(rig.fake.in_conversation(personal_id(TEAMS_IDS[who])))
            start = time.perf_counter()
            status = await rig.says(TEAMS_IDS[who], "/status")
            acked.append(time.perf_counter() - start)
            assert status == 200
            await rig.fake.wait_for(
                lambda w=who, b=before: len(rig.fake.in_conversation(personal_id(TEAMS_IDS[w]))) > b
            )
            answered.append(time.perf_counter() - start)
    finally:
        await rig.stop()
    return acked, answered


async def slack(n: int, users: list[str], workdir: Path) -> tuple[list[float], list[float]]:
    rig = await SlackRig.start(workdir / "slack.db", NOW)
    acked, answered = [], []
    try:
        for i in range(n):
            who = users[i % len(users)]
            before = len(rig.fake.told_to(SLACK_IDS[who])) + len(
                rig.fake.in_channel(dm_of(SLACK_IDS[who]))
            )
            start = time.perf_counter()
            status, _ = await rig.command(who, "/wb-status")
            acked.append(time.perf_counter() - start)
            assert status == 200
            await rig.fake.wait_for(
                lambda w=who, b=before: (
                    len(rig.fake.told_to(SLACK_IDS[w]))
                    + len(rig.fake.in_channel(dm_of(SLACK_IDS[w])))
                    > b
                )
            )
            answered.append(time.perf_counter() - start)
    finally:
        await rig.stop()
    return acked, answered


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--users", type=int, default=10)
    args = parser.parse_args()
    users = [u for u in ("sam", "alex", "priya", "tom", "ooh1", "ooh2", "oohm", "pc1", "iro1",
                         "admin")][: args.users]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rows = {
            "slack (baseline)": await slack(args.commands, users, workdir),
            "teams": await teams(args.commands, users, workdir),
        }
    print(f"{args.commands} /status commands, {len(users)} people, synchronous=FULL")
    print(f"{'':18} {'200 p50':>9} {'200 p99':>9} {'answer p50':>11} {'answer p99':>11}")
    for name, (acked, answered) in rows.items():
        print(
            f"{name:18} {pct(acked, 50) * 1e3:7.1f}ms {pct(acked, 99) * 1e3:7.1f}ms"
            f" {pct(answered, 50) * 1e3:9.1f}ms {pct(answered, 99) * 1e3:9.1f}ms"
        )
    base, mine = rows["slack (baseline)"], rows["teams"]
    print(
        "teams / slack, median: 200 "
        f"{statistics.median(mine[0]) / statistics.median(base[0]):.2f}x, answer "
        f"{statistics.median(mine[1]) / statistics.median(base[1]):.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
