"""Charts for the managers' view, rendered to PNG (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on a server

import matplotlib.pyplot as plt  # noqa: E402

from handlers.summaries import View, children_in_view, episode_kind  # noqa: E402
from storage import episode_store  # noqa: E402

WEEKS = 26
KINDS = ("absent", "away", "missing")
COLOURS = {"absent": "#f2b134", "away": "#4e9ad6", "missing": "#d64e4e"}


def _week_start(at: datetime, zone: ZoneInfo) -> datetime:
    local = at.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, datetime.min.time(), tzinfo=zone)


async def episodes_chart(view: View, title: str) -> bytes:
    """Episodes per week over the last 6 months by category, and the children with most."""
    first_week = _week_start(view.now, view.zone) - timedelta(weeks=WEEKS - 1)
    children = await children_in_view(view)
    episodes = [
        e
        for e in await episode_store.episodes_started_between(view.r, first_week, view.now)
        if e.child_id in children
    ]
    weeks = [first_week + timedelta(weeks=i) for i in range(WEEKS)]
    per_week = {kind: [0] * WEEKS for kind in KINDS}
    for episode in episodes:
        index = (_week_start(episode.last_seen_at, view.zone) - first_week).days // 7
        if 0 <= index < WEEKS:
            per_week[episode_kind(episode)][index] += 1
    most = Counter(children[e.child_id].label for e in episodes).most_common(10)

    figure, (left, right) = plt.subplots(
        1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]}, layout="constrained"
    )
    try:
        bottom = [0] * WEEKS
        labels = [w.strftime("%d %b") for w in weeks]
        for kind in KINDS:
            left.bar(labels, per_week[kind], bottom=bottom, label=kind, color=COLOURS[kind])
            bottom = [b + n for b, n in zip(bottom, per_week[kind], strict=True)]
        left.set_title("Episodes per week (week starting)")
        ticks = list(range(0, WEEKS, 4))
        left.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, fontsize=8)
        left.yaxis.get_major_locator().set_params(integer=True)
        left.legend()
        if most:
            right.barh([n for n, _ in reversed(most)], [c for _, c in reversed(most)], color="#555")
            right.xaxis.get_major_locator().set_params(integer=True)
        else:
            right.text(0.5, 0.5, "no episodes", ha="center", va="center")
            right.set_axis_off()
        right.set_title("Most episodes, last 6 months")
        figure.suptitle(title)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()
    finally:
        plt.close(figure)
