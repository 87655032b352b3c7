"""``sessionplane sessions history``: an instance's session counts over time, as a small text chart or JSON.

Reads what the sampler of ``sessionplane serve`` stored (extensions §3) through the same history
domain as ``GET .../session-history``; the JSON is that endpoint's answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import typer

from sessionplane.cli import chart
from sessionplane.cli.context import DatabaseUrl, DataDir, console, load_settings, run
from sessionplane.cli.inventory import find_instance
from sessionplane.cli.output import AsJson, print_json
from sessionplane.errors import InvalidParameter
from sessionplane.history.rollup import bucket_of
from sessionplane.history.series import number
from sessionplane.history.service import GroupBy
from sessionplane.history.timespec import parse_since
from sessionplane.schema import utcnow
from sessionplane.services import Services

HistoryGroup = Literal["total", "name", "user", "lib_name", "ip", "node"]
_FIGURES = 24  # room for "  now 12345  peak 12345" after the sparkline
_MIN_WIDTH = 10


def history(
    instance: Annotated[str, typer.Option("--instance", help="Instance ID")],
    group_by: Annotated[
        HistoryGroup, typer.Option("--group-by", help="total (total, active, idle over), a dimension, or node")
    ] = "total",
    since: Annotated[str, typer.Option("--since", help="From: -1h, -30m, -7d, or an ISO 8601 time")] = "-1h",
    step: Annotated[
        int | None, typer.Option("--step", min=1, max=86400, help="Seconds per point (default: about 240 points)")
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Session counts of an instance over time, one sparkline per group (the sampler of serve records them)."""
    try:
        start = parse_since(since, now=utcnow())
    except InvalidParameter as exc:
        raise typer.BadParameter(exc.message.split("since: ", 1)[-1], param_hint="'--since'") from None
    chosen: GroupBy = group_by

    async def work(s: Services) -> dict[str, Any]:
        found = await find_instance(s, instance)
        try:
            answer = await s.history.history(instance_id=found.id, group_by=chosen, since=start, step=step)
        except InvalidParameter as exc:  # only the step can be wrong here: too many points
            raise typer.BadParameter(exc.message.split("step: ", 1)[-1], param_hint="'--step'") from None
        return {
            "instance_id": found.id,
            "group_by": group_by,
            "since": _iso(answer.since),
            "until": _iso(answer.until),
            "step": answer.step,
            "series": [{"key": x.key, "points": [[t, number(v)] for t, v in x.points]} for x in answer.series],
        }

    found = run(load_settings(data_dir, database_url), work)
    if as_json:
        print_json(found)
        return
    print_chart(found)


def print_chart(found: dict[str, Any]) -> None:
    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)  # soft wrap: a key is never cut

    step = found["step"]
    since, until = (datetime.fromisoformat(found[k].replace("Z", "+00:00")) for k in ("since", "until"))
    start, end = bucket_of(since.timestamp(), step), bucket_of(until.timestamp(), step)
    series = [(s["key"], [(t, v) for t, v in s["points"]]) for s in found["series"]]
    heading = f"sessions of instance {found['instance_id']} by {found['group_by']}, {since:%Y-%m-%d %H:%M} to "
    if not any(points for _key, points in series):
        say(heading + f"{until:%H:%M} UTC: no samples (the sampler of `sessionplane serve` records them)")
        return
    key_width = max(len(key) for key, _points in series)
    width = max(_MIN_WIDTH, console.width - key_width - 2 - _FIGURES)
    rows, top = chart.render(series, start=start, end=end, step=step, width=width)
    per_column, _count = chart.columns_for(start, end, step, width)
    say(heading + f"{until:%H:%M} UTC; one column = {per_column * step} s; {chart.BARS[-1]} = {chart.figure(top)}")
    now_width = max(len(chart.figure(row.now)) for row in rows)
    for row in rows:
        now, peak = chart.figure(row.now), chart.figure(row.peak)
        say(f"{row.key:<{key_width}}  {row.line}  now {now:>{now_width}}  peak {peak}")
    say(f"{chart.UNREADABLE} a node could not be read   {chart.ZERO} none   (blank) not sampled")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def register(app: typer.Typer) -> None:
    app.command("history")(history)
