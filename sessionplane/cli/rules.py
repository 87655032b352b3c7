"""``sessionplane rules add|list|show|update|remove|runs``: close rules, through the same domain as the API.

Rule bodies are validated exactly as the API validates them; every change is audited as
``cli:<os user>``. Rules run in ``sessionplane serve`` (the scheduler), not here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from sessionplane.cli.context import DatabaseUrl, DataDir, console, load_settings, run
from sessionplane.cli.inventory import find_instance
from sessionplane.cli.output import AsJson
from sessionplane.cli.sessions import operator_meta
from sessionplane.rules.model import Rule, RuleRun, parse_rule
from sessionplane.services import Services

app = typer.Typer(help="Close rules: scheduled closes of the sessions a selector matches.", no_args_is_help=True)
MatchOpt = Annotated[
    str | None, typer.Option("--match", help='Selector match, JSON: \'{"name": ["batch-*"], "min_idle_seconds": 60}\'')
]
ExcludeOpt = Annotated[str | None, typer.Option("--exclude", help='Selector exclude, JSON: \'{"user": ["ops"]}\'')]
IntervalOpt = Annotated[int | None, typer.Option("--interval", help="Seconds between runs (>= 10; default 60)")]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="report (count only; default) or enforce (close)")]
MaxOpt = Annotated[int | None, typer.Option("--max-per-run", help="Close at most this many per run (default 1000)")]


def _json(text: str | None, option: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise typer.BadParameter(f"{option} is not valid JSON") from None


def _body(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


RuleId = Annotated[str, typer.Argument(help="The rule's ID (rules list shows them)")]


async def _rule(s: Services, rule_id: str) -> Rule:
    rule = await s.rule_store.rule_any_project(rule_id)
    if rule is None:
        raise LookupError(f"close rule {rule_id} does not exist")
    return rule


@app.command("add")
def add(
    instance: Annotated[str, typer.Option("--instance", help="Instance ID")],
    name: Annotated[str, typer.Option("--name", help="What the rule is for, e.g. 'batch clients idle over 60 s'")],
    match: MatchOpt = None,
    exclude: ExcludeOpt = None,
    interval: IntervalOpt = None,
    mode: ModeOpt = None,
    max_per_run: MaxOpt = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a rule on an instance; prints its ID. Its first run is due at once."""
    body = _body(
        name=name,
        match=_json(match, "--match"),
        exclude=_json(exclude, "--exclude"),
        interval_seconds=interval,
        mode=mode,
        max_per_run=max_per_run,
        enabled=False if disabled else None,
    )

    async def work(s: Services) -> Rule:
        spec = parse_rule(body, partial=False)
        found = await find_instance(s, instance)
        return await s.rules.create(meta=await operator_meta(s, found), instance=found, spec=spec)

    console.print(run(load_settings(data_dir, database_url), work).id)


@app.command("list")
def list_rules(
    instance: Annotated[str, typer.Option("--instance", help="Instance ID")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The instance's rules, newest first."""

    async def work(s: Services) -> list[Rule]:
        found = await find_instance(s, instance)
        rules, _total = await s.rule_store.rules(project_id=found.project_id, instance_id=found.id, limit=100)
        return rules

    table = Table("id", "name", "mode", "every", "max/run", "enabled", "match", "exclude")
    for r in run(load_settings(data_dir, database_url), work):
        enabled = "yes" if r.enabled else escape(f"no: {r.disabled_reason}") if r.disabled_reason else "no"
        table.add_row(
            r.id,
            escape(r.name),
            r.mode,
            f"{r.interval_seconds}s",
            str(r.max_per_run),
            enabled,
            escape(json.dumps(dict(r.match))),
            escape(json.dumps(dict(r.exclude))) if r.exclude else "",
        )
    console.print(table)


@app.command("show")
def show(rule_id: RuleId, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """A rule and its last five runs."""
    settings = load_settings(data_dir, database_url)

    async def work(s: Services) -> tuple[Rule, list[RuleRun]]:
        rule = await _rule(s, rule_id)
        runs, _total = await s.rule_store.runs(rule.id, limit=5)
        return rule, runs

    rule, runs = run(settings, work)
    state = "enabled" if rule.enabled else f"disabled ({rule.disabled_reason or 'by an operator'})"
    console.print(
        f"[bold]{escape(rule.name)}[/bold] {rule.id} on instance {rule.instance_id}: {rule.mode}, {escape(state)}"
    )
    console.print(
        f"every {rule.interval_seconds} s, at most {rule.max_per_run} per run; next run {rule.next_run_at:%c}"
    )
    console.print(escape(f"match {json.dumps(dict(rule.match))}  exclude {json.dumps(dict(rule.exclude))}"))
    for r in runs:
        console.print(f"  {r.started_at:%Y-%m-%d %H:%M:%S}  {describe(r, settings.reconnect_window_seconds)}")


@app.command("update")
def update(
    rule_id: RuleId,
    name: Annotated[str | None, typer.Option("--name", help="A new name")] = None,
    match: MatchOpt = None,
    exclude: ExcludeOpt = None,
    interval: IntervalOpt = None,
    mode: ModeOpt = None,
    max_per_run: MaxOpt = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="Enable (runs at once) or disable")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change what is given; the rest stays."""
    body = _body(
        name=name,
        match=_json(match, "--match"),
        exclude=_json(exclude, "--exclude"),
        interval_seconds=interval,
        mode=mode,
        max_per_run=max_per_run,
        enabled=enabled,
    )

    async def work(s: Services) -> Rule:
        spec = parse_rule(body, partial=True)
        rule = await _rule(s, rule_id)
        found = await find_instance(s, rule.instance_id)
        return await s.rules.update(meta=await operator_meta(s, found), instance=found, rule=rule, spec=spec)

    updated = run(load_settings(data_dir, database_url), work)
    console.print(f"{updated.id}: {updated.mode}, {'enabled' if updated.enabled else 'disabled'}")


@app.command("remove")
def remove(rule_id: RuleId, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Delete a rule and its runs."""

    async def work(s: Services) -> None:
        rule = await _rule(s, rule_id)
        found = await find_instance(s, rule.instance_id)
        await s.rules.delete(meta=await operator_meta(s, found), instance=found, rule=rule)

    run(load_settings(data_dir, database_url), work)
    console.print(f"{rule_id}: removed")


@app.command("runs")
def runs(
    rule_id: RuleId,
    limit: Annotated[int, typer.Option(min=1, max=100, help="The newest this many runs")] = 20,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The rule's runs, newest first."""
    settings = load_settings(data_dir, database_url)

    async def work(s: Services) -> list[RuleRun]:
        found, _total = await s.rule_store.runs((await _rule(s, rule_id)).id, limit=limit)
        return found

    found = run(settings, work)
    if as_json:
        console.print_json(json.dumps([_run_json(r) for r in found]))
        return
    table = Table("started (UTC)", "mode", "result", "per node")
    for r in found:
        per_node = "; ".join(
            f"{n.node_id[:8]}: " + (n.error_code or f"matched {n.matched}, closed {n.closed}") for n in r.nodes
        )
        table.add_row(
            f"{r.started_at:%Y-%m-%d %H:%M:%S}", r.mode, describe(r, settings.reconnect_window_seconds), per_node
        )
    console.print(table)


def describe(run: RuleRun, window: float) -> str:
    """One run in words: ``matched 52, closed 40, 37 came back within 30 s``."""
    text = f"matched {run.matched}"
    if run.mode == "enforce":
        back = "reconnects not counted yet" if run.reconnected is None else f"{run.reconnected} came back"
        text += f", closed {run.closed}, {back} within {window:g} s"
    failed = sum(1 for n in run.nodes if n.error_code)
    return text + (f", {failed} node(s) failed" if failed else "")


def _run_json(run: RuleRun) -> dict[str, Any]:
    return {
        **{k: v for k, v in run.__dict__.items() if k != "nodes"},
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "nodes": [n.__dict__ for n in run.nodes],
    }
