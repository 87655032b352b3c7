"""The Audit page shows the closes made in the test (actor, action, count, reconnects), filtered by actor;
a close's result tells, once the reconnect window has passed, how many of its sessions came back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import Instance
from tests.browser.clients import ReconnectingClient
from tests.browser.conftest import RECONNECT_WINDOW_SECONDS, Console
from tests.browser.pages import open_instance, preview_count, shown_rows
from tests.live import LiveService
from tests.support import RawSession

COUNTED_MS = (RECONNECT_WINDOW_SECONDS + 15) * 1000  # the window, then the console's next poll of the audit


@pytest.fixture
def console_service(timed_service: LiveService) -> LiveService:
    return timed_service


def test_a_close_result_tells_how_many_came_back_after_the_reconnect_window(
    console: Console,
    cluster: LocalCluster,
    adopt: Callable[..., Instance],
    sessions: Callable[..., RawSession],
    reconnecting: Callable[..., ReconnectingClient],
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    # Back a second after the close, within the window: after the page's listing that follows the close.
    retrying = [reconnecting(server, name=f"pool-{i}", after=1.0) for i in range(2)]
    gone = sessions(server, name="one-shot")  # closed, and does not come back
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    rows = page.locator("table.sessions tbody tr")
    expect(rows).to_have_count(3)

    page.get_by_role("button", name="Close all of this node").click()
    assert preview_count(page) == 3
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Close 3 sessions").click()
    result = dialog.locator(".result")
    expect(result).to_contain_text("Closed 3 sessions")
    expect(result).to_contain_text("Reconnects are counted after the reconnect window.")
    expect(rows).to_have_count(0)  # listed right after the close
    assert gone.closed_by_node()
    assert all(client.came_back.wait(10) for client in retrying)  # liveness guard: they reconnect on EOF

    # The dialog follows the close's audit record until its reconnect count is in.
    expect(result).to_contain_text(
        "2 sessions came back (same ip, name and user) within the reconnect window.",
        timeout=COUNTED_MS,
    )
    console.assert_accessible()
    console.screenshot("close-came-back")
    dialog.get_by_role("button", name="Done").click()
    expect(page.get_by_role("status").filter(has_text="2 sessions came back")).to_be_visible()
    expect(rows).to_have_count(2)  # listed again once the count was in: the two that came back


def test_the_audit_page_shows_the_closes_made_in_the_test_with_actor_counts_and_reconnects(
    console: Console,
    cluster: LocalCluster,
    adopt: Callable[..., Instance],
    sessions: Callable[..., RawSession],
    reconnecting: Callable[..., ReconnectingClient],
) -> None:
    server = cluster.start_server()
    instance = adopt(server, name="audited-cache")
    picked = [reconnecting(server, name="picked-0"), sessions(server, name="picked-1")]
    rest = [sessions(server, name=f"rest-{i}") for i in range(3)]
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(5)

    for session in picked:  # close selected: the GeminiDB node close, by ID
        page.get_by_label(f"Select session {session.id}").check()
    page.get_by_role("button", name="Close selected (2)").click()
    assert preview_count(page) == 2
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Close 2 sessions").click()
    expect(dialog.locator(".result")).to_contain_text("Closed 2 sessions")
    # the next close waits for this one's window: it would close the one that came back before it is counted
    expect(dialog.locator(".result")).to_contain_text("1 session came back", timeout=COUNTED_MS)
    dialog.get_by_role("button", name="Done").click()
    page.get_by_label("Close when idle over (s)").fill("0")  # the selector close: the fleet close
    page.get_by_role("button", name="Close idle").click()
    assert preview_count(page) == 4  # the three others and the one that came back
    dialog.get_by_role("button", name="Close 4 sessions").click()
    expect(dialog.locator(".result")).to_contain_text("Closed 4 sessions")
    dialog.get_by_role("button", name="Done").click()
    assert all(s.closed_by_node() for s in rest)

    console.go("#/audit")
    records = page.locator("table.audit tbody tr")
    expect(records).to_have_count(2)
    page.get_by_label("Auto-refresh").select_option("5")
    # newest first; the last close's reconnect count arrives after its window, on a refresh
    expect(records.nth(0).locator("[data-column=reconnected]")).to_have_text("0", timeout=COUNTED_MS)
    shown = [
        {k: row[k] for k in ("actor", "action", "instance", "outcome", "closed", "reconnected")}
        for row in shown_rows(page, "table.audit")
    ]
    closed_by = {"actor": "user:operator", "action": "deleteSession", "outcome": "succeeded"}
    assert shown == [
        {**closed_by, "instance": "audited-cache", "closed": "4", "reconnected": "0"},  # a selector close
        {**closed_by, "instance": f"audited-cache{instance.nodes[0].id}", "closed": "2", "reconnected": "1"},  # by node
    ]
    console.assert_accessible()
    console.screenshot("audit")

    page.get_by_label("Actor").fill("rule:*")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No record matches.")).to_be_visible()
    page.get_by_label("Actor").fill("user:operator")
    page.get_by_role("button", name="Apply").click()
    expect(records).to_have_count(2)


def test_a_closer_who_may_not_read_the_audit_is_told_where_the_reconnect_count_is(
    console: Console,
    operator: str,
    cluster: LocalCluster,
    adopt: Callable[..., Instance],
    sessions: Callable[..., RawSession],
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    doomed = sessions(server, name="doomed")
    console.sign_in(user=operator)  # NoSQL FullAccess: closes, but no sessionplane:audit:list
    page = console.page
    audit_reads: list[str] = []
    page.on("request", lambda r: audit_reads.append(r.url) if r.url.split("?")[0].endswith("/audit") else None)
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(1)

    page.get_by_role("button", name="Close all of this node").click()
    assert preview_count(page) == 1
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Close 1 session").click()
    result = dialog.locator(".result")
    expect(result).to_contain_text("Closed 1 session")
    expect(result).to_contain_text("How many came back is recorded in the audit trail.")
    assert doomed.closed_by_node()
    console.assert_accessible()
    assert audit_reads == []  # no 403 to find out: the permissions said so
