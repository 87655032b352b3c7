"""``sessionplane audit list``: the audit trail of closes and denied closes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from sessionplane.audit.records import AuditEvent, AuditFilter, Outcome
from sessionplane.cli.context import DatabaseUrl, DataDir, load_settings, run
from sessionplane.cli.identity import find_account
from sessionplane.cli.output import AsJson, print_json, print_table
from sessionplane.services import Services

audit = typer.Typer(help="The audit trail of closes and denied closes.", no_args_is_help=True)

INTERRUPTED_NOTE = "unknown: the process stopped mid-close; some sessions may have been closed"


@audit.command("list")
def audit_list(
    domain: Annotated[str | None, typer.Option("--domain", help="Account (default: every account)")] = None,
    since: Annotated[datetime | None, typer.Option(help="From this time (ISO 8601; UTC unless it says)")] = None,
    until: Annotated[datetime | None, typer.Option(help="Up to this time (ISO 8601; UTC unless it says)")] = None,
    user: Annotated[str | None, typer.Option("--user", help="User name (cli:<os user> for CLI closes)")] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="user:<name>, rule:<id>, cli:<os user>; a trailing * for a prefix")
    ] = None,
    instance: Annotated[str | None, typer.Option("--instance", help="Instance ID")] = None,
    outcome: Annotated[Outcome | None, typer.Option(help="Only records with this outcome")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many records, newest first")] = 100,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List audit records, newest first.

    A close that was still running when its process died is shown as interrupted: how many sessions it
    closed is unknown (list the node's sessions to see where things stand).
    """
    where = AuditFilter(
        since=_utc(since),
        until=_utc(until),
        user_name=user,
        actor=actor,
        instance_id=instance,
        outcome=outcome.value if outcome else None,
        limit=limit,
    )

    async def work(s: Services) -> list[AuditEvent]:
        account_id = (await find_account(s, domain)).id if domain else None
        return await s.audit_store.events(account_id=account_id, where=where)

    events = run(load_settings(data_dir, database_url), work)
    if as_json:
        print_json([_json(e) for e in events])
        return
    headers = ["time (UTC)", "outcome", "actor", "action", "instance / node", "per node", "reconnects", "request id"]
    print_table(headers, [_row(e) for e in events])


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=moment.tzinfo or UTC) if moment else None


def _json(e: AuditEvent) -> dict[str, Any]:
    return {
        **e.__dict__,
        "at": e.at.isoformat(),
        "parameters": dict(e.parameters),
        "node_results": list(e.node_results),
    }


def _row(e: AuditEvent) -> list[str]:
    if e.outcome == Outcome.INTERRUPTED:
        per_node = INTERRUPTED_NOTE
    else:
        per_node = "\n".join(
            f"{r.get('node_id', '')}: " + (f"closed {r['closed']}" if "closed" in r else str(r.get("error_code")))
            for r in e.node_results
        )
    return [
        e.at.strftime("%Y-%m-%d %H:%M:%S"),
        e.outcome,
        e.actor or e.user_name or "",
        e.action.split(":")[-1],
        f"{e.instance_id or ''}\n{e.node_id or ''}".strip(),
        per_node,
        _reconnects(e),
        e.request_id,
    ]


def _reconnects(event: AuditEvent) -> str:
    """Closed and came back (``closed 40, 37 came back``), once reconnect tracking has counted."""
    if event.closed is None or event.reconnected is None:
        return ""
    return f"closed {event.closed}, {event.reconnected} came back"
