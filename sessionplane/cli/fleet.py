"""``sessionplane sessions search|summary|close``: the fleet operations of extensions §2, selector as flags.

The CLI works on the store directly, through the same ``FleetService`` as the HTTP routes, as an
administrator of one project (``cli:<os user>`` in the audit trail). A close always previews first
(a dry run: the count and the longest-idle rows), asks before it closes (``--yes`` for scripts),
and sends the previewed count as ``expect_at_most``: if more sessions match by the time it closes,
nothing is closed (SP.0001) and the command exits 1.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from sessionplane.auth.principal import RequestMeta
from sessionplane.cli.context import DatabaseUrl, DataDir, console, err_console, load_settings, run
from sessionplane.cli.output import AsJson, print_json, print_table
from sessionplane.cli.progress import slow_status
from sessionplane.cli.selector_flags import SelectorFlags, with_selector_flags
from sessionplane.cli.sessions import operator_in
from sessionplane.errors import TooManySessions
from sessionplane.inventory.records import Instance, Node
from sessionplane.ops.fleet import Target, every_node
from sessionplane.services import Services
from sessionplane.sessions.fleet import GROUPS, SORTS
from sessionplane.sessions.selector import Selector

SESSION_COLUMNS = ("id", "addr", "name", "user", "lib_name", "db", "age", "idle", "cmd")
SESSION_HEADERS = ("node", "id", "addr", "name", "user", "lib", "db", "age", "idle", "cmd")
PREVIEW_SORT = "-idle"  # the preview shows the longest idle first: what an operator checks before closing

Sort = Literal[SORTS]  # type: ignore[valid-type]
GroupBy = Literal[GROUPS]  # type: ignore[valid-type]
SortOpt = Annotated[
    Sort, typer.Option("--sort", help="Order: age (newest first), -age (oldest first), idle, -idle, addr, name, db")
]


@dataclass(frozen=True)
class Scoped:
    """Who the CLI acts as (an administrator of the one project in scope) and how many nodes it reads."""

    meta: RequestMeta
    nodes: int
    labels: dict[str, str]  # node ID -> "instance name/node name" (every node of the project)

    def fresh(self) -> RequestMeta:
        """The same operator under a new request id (one per audited call)."""
        return RequestMeta(request_id=uuid.uuid4().hex, principal=self.meta.principal)


async def scoped(s: Services, flags: SelectorFlags) -> Scoped:
    targets = await every_node(s.inventory)
    project_id = await _project(s, flags, targets)
    principal = await operator_in(s, project_id)
    meta = RequestMeta(request_id=uuid.uuid4().hex, principal=principal)
    mine = [t for t in targets if t.instance.project_id == project_id]
    labels = {t.node.id: f"{t.instance.name}/{t.node.name}" for t in mine}
    return Scoped(meta, _node_count(flags, mine), labels)


async def _project(s: Services, flags: SelectorFlags, targets: list[Target]) -> str:
    """The project the scope lives in: named, implied by the instances and nodes, or the only one."""
    owners: dict[str, str] = {}  # project -> the first ID that implies it (for the error)
    instances = {t.instance.id: t.instance for t in targets}
    nodes = {t.node.id: t.instance for t in targets}
    for kind, ids, known in (("instance", flags.instance_ids, instances), ("node", flags.node_ids, nodes)):
        for id_ in ids:
            owner = known.get(id_) or (await s.inventory.instance_any_project(id_) if kind == "instance" else None)
            if owner is None:
                raise LookupError(f"{kind} {id_} does not exist")
            owners.setdefault(owner.project_id, f"{kind} {id_}")
    if flags.project is not None:
        if await s.inventory.project(flags.project) is None:
            raise LookupError(f"project {flags.project} does not exist")
        owners.setdefault(flags.project, f"project {flags.project}")
    if len(owners) > 1:
        named = ", ".join(f"{what} is in project {project}" for project, what in owners.items())
        raise typer.BadParameter(f"one command works in one project ({named})", param_hint="'--instance' / '--node'")
    if owners:
        return next(iter(owners))
    projects = await s.inventory.projects()
    if not projects:
        raise LookupError("there are no projects yet (sessionplane project add)")
    if len(projects) > 1:
        raise typer.BadParameter(
            f"there are {len(projects)} projects: name one, or name instances or nodes", param_hint="'--project'"
        )
    return projects[0].id


def _node_count(flags: SelectorFlags, targets: list[Target]) -> int:
    scope = flags.selector.scope
    if scope.implicit:
        return len(targets)
    return len({t.node.id for t in targets if t.instance.id in scope.instance_ids or t.node.id in scope.node_ids})


def _nodes(count: int) -> str:
    return plural(count, "node")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def matching(count: int) -> str:
    return f"{plural(count, 'session')} {'matches' if count == 1 else 'match'}"


def warn_failed(failed: list[dict[str, Any]]) -> None:
    """A node that could not be read is said, on stderr: an answer never hides a failure."""
    for f in failed:
        err_console.print(
            f"warning: node {f['node_id']} could not be read: {f['error_code']} {f['error_msg']}",
            markup=False,
            highlight=False,
        )


def print_sessions(
    sessions: list[dict[str, Any]], *, title: str, labels: dict[str, str], target: Console = console
) -> None:
    """A table that fits: nodes as #1, #2 with their full IDs below it; columns no session fills left out."""
    refs: dict[str, str] = {}
    rows = [
        [refs.setdefault(s["node_id"], f"#{len(refs) + 1}"), *(str(s.get(c, "")) for c in SESSION_COLUMNS)]
        for s in sessions
    ]
    kept = [i for i, _h in enumerate(SESSION_HEADERS) if i < 2 or any(row[i] for row in rows)]
    headers = [SESSION_HEADERS[i] for i in kept]
    print_table(headers, [[row[i] for i in kept] for row in rows], title=title, target=target)
    for node_id, ref in refs.items():
        label = labels.get(node_id)
        target.print(f"{ref} node {node_id}" + (f" ({label})" if label else ""), markup=False, highlight=False)


# -- search ---------------------------------------------------------------------------------------


@with_selector_flags
def search(
    sort: SortOpt = "age",
    offset: Annotated[int, typer.Option("--offset", min=0, max=10**6, help="Skip this many sessions")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Show at most this many sessions")] = 50,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    *,
    flags: SelectorFlags,
) -> None:
    """Client sessions across nodes, instances or a whole project that the selector flags match."""

    async def work(s: Services) -> tuple[dict[str, Any], dict[str, str]]:
        where = await scoped(s, flags)
        async with slow_status(f"searching {_nodes(where.nodes)}"):
            found = await s.fleet.search(
                meta=where.meta, selector=flags.selector, sort=sort, offset=offset, limit=limit
            )
        return found, where.labels

    found, labels = run(load_settings(data_dir, database_url), work)
    if as_json:
        print_json(found)
        return
    warn_failed(found["failed_nodes"])
    shown = found["sessions"]
    span = f"{offset + 1}-{offset + len(shown)}" if shown else "none"
    title = f"{matching(found['total_count'])} (showing {span}, sorted by {sort})"
    print_sessions(shown, title=title, labels=labels)


# -- summary --------------------------------------------------------------------------------------


@with_selector_flags
def summary(
    group_by: Annotated[GroupBy, typer.Option("--group-by", help="Count sessions by this")] = "ip",
    top: Annotated[int, typer.Option("--top", min=1, max=100, help="Show the largest this many groups")] = 20,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    *,
    flags: SelectorFlags,
) -> None:
    """Sessions the selector flags match, counted by IP, name, user, library, DB, node or command."""
    settings = load_settings(data_dir, database_url)

    async def work(s: Services) -> dict[str, Any]:
        where = await scoped(s, flags)
        async with slow_status(f"counting on {_nodes(where.nodes)}"):
            return await s.fleet.summary(meta=where.meta, selector=flags.selector, group_by=group_by, top=top)

    found = run(settings, work)
    if as_json:
        print_json(found)
        return
    warn_failed(found["failed_nodes"])
    rows = [[g["key"], str(g["count"]), str(g["active"]), str(g["idle_over"])] for g in found["groups"]]
    if found["other"]:
        rows.append(["(other groups)", str(found["other"]), "", ""])
    headers = [group_by, "sessions", "active", f"idle >= {settings.idle_over_seconds:g}s"]
    print_table(headers, rows, title=f"{matching(found['total_count'])}, by {group_by}")


# -- close ----------------------------------------------------------------------------------------


@with_selector_flags
def close(
    session_id: Annotated[
        list[int] | None, typer.Option("--id", help="Close these session IDs of the one --node; repeat")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask (still refused if more match than the preview counted)")
    ] = False,
    show: Annotated[int, typer.Option("--show", min=1, max=1000, help="Preview this many sessions")] = 10,
    watch: Annotated[
        bool, typer.Option("--watch/--no-watch", help="Then wait reconnect_window_seconds and count who came back")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the preview and the result as JSON (the preview text goes to stderr)")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    *,
    flags: SelectorFlags,
) -> None:
    """Close the sessions the selector flags match, after a preview and a confirmation.

    Without any flag but the scope, every client session in scope. Replication links,
    sessionplane's own and protected sessions are never closed.
    """
    settings = load_settings(data_dir, database_url)
    if session_id and len(flags.node_ids) != 1:
        raise typer.BadParameter("needs exactly one --node", param_hint="'--id'")
    closing = Closing(flags=flags, yes=yes, show=show, as_json=as_json, window=settings.reconnect_window_seconds)

    async def work(s: Services) -> dict[str, Any]:
        where = await scoped(s, flags)
        if session_id:
            return await closing.by_id(s, where, tuple(session_id))
        answer = await closing.by_selector(s, where)
        if watch and answer.get("result"):
            answer["reconnected"] = await closing.watch(s, answer["result"]["closed"])
        return answer

    answer = run(settings, work)
    failed = answer.pop("failed")
    if as_json:
        print_json(answer)
    if failed:
        raise typer.Exit(1)


@dataclass(frozen=True)
class Closing:
    flags: SelectorFlags
    yes: bool
    show: int
    as_json: bool
    window: float

    @property
    def out(self) -> Console:
        return err_console if self.as_json else console  # with --json, stdout is the JSON alone

    def say(self, text: str) -> None:
        self.out.print(text, markup=False, highlight=False, soft_wrap=True)

    async def by_selector(self, s: Services, where: Scoped) -> dict[str, Any]:
        selector = self.flags.selector
        async with slow_status(f"previewing on {_nodes(where.nodes)}"):
            preview = await s.fleet.close(
                meta=where.fresh(), selector=selector, dry_run=True, expect_at_most=None, sort=PREVIEW_SORT,
                limit=self.show,
            )  # fmt: skip
        self.print_preview(preview, where.labels)
        count = preview["would_close"]
        if count == 0:
            self.say("nothing to close")
            return {"preview": preview, "result": None, "failed": bool(preview["failed_nodes"])}
        self.confirm(f"Close {plural(count, 'session')}?")
        async with slow_status(f"closing on {_nodes(where.nodes)}"):
            try:
                result = await s.fleet.close(meta=where.fresh(), selector=selector, dry_run=False, expect_at_most=count)
            except TooManySessions as exc:
                err_console.print(f"error: {exc.code}: {exc.message}", markup=False, highlight=False, soft_wrap=True)
                raise typer.Exit(1) from None
        self.print_result(result)
        return {"preview": preview, "result": result, "failed": bool(result["failed_nodes"])}

    async def by_id(self, s: Services, where: Scoped, ids: tuple[int, ...]) -> dict[str, Any]:
        (node_id,) = self.flags.node_ids
        instance, node = await _owner(s, node_id)
        self.confirm(f"Close sessions {', '.join(map(str, ids))} on node {node_id}?")
        selector = Selector(session_ids=ids, match=self.flags.selector.match, exclude=self.flags.selector.exclude)
        closed = await s.sessions.close_node(meta=where.fresh(), instance=instance, node=node, selector=selector)
        self.say(f"{node.name} {node.id}: closed {closed}")
        return {"result": {"closed": closed, "nodes": [{"node_id": node.id, "closed": closed}]}, "failed": False}

    def confirm(self, question: str) -> None:
        """Ask on stderr (stdout may be a pipe of JSON); anything but yes, or no answer at all, closes nothing."""
        if self.yes:
            return
        try:
            answer = err_console.input(f"{question} [y/N]: ", markup=False)
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            err_console.print("nothing was closed", markup=False, highlight=False)
            raise typer.Exit(1)

    def print_preview(self, preview: dict[str, Any], labels: dict[str, str]) -> None:
        warn_failed(preview["failed_nodes"])
        shown, count = preview["sessions"], preview["would_close"]
        title = f"{plural(count, 'session')} would be closed" + (
            f" (the first {len(shown)}, longest idle first)" if count > len(shown) else ""
        )
        if count:
            print_sessions(shown, title=title, labels=labels, target=self.out)

    def print_result(self, result: dict[str, Any]) -> None:
        for n in result["nodes"]:
            outcome = f"failed: {n['error_code']} {n['error_msg']}" if n["error_code"] else f"closed {n['closed']}"
            self.say(f"node {n['node_id']}: {outcome}")
        self.say(f"closed {result['closed']} (audit record {result['audit_id']})")

    async def watch(self, s: Services, closed: int) -> int:
        if closed:
            self.say(f"watching for reconnects for {self.window:g} s (the close is done; Ctrl-C stops watching)")
        back = await s.reconnects.drain()
        self.say(f"closed {closed}, {back} came back within {self.window:g} s")
        return back


async def _owner(s: Services, node_id: str) -> tuple[Instance, Node]:
    for target in await every_node(s.inventory):
        if target.node.id == node_id:
            return target.instance, target.node
    raise LookupError(f"node {node_id} does not exist")


def register(app: typer.Typer) -> None:
    """Add the fleet commands to ``sessionplane sessions``."""
    app.command("search")(search)
    app.command("summary")(summary)
    app.command("close")(close)
