"""The Rules page: a rule created in the page runs on the service's own schedule, and its runs list
shows what it matched and closed on the node, and how many came back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import Instance
from tests.browser.clients import ReconnectingClient
from tests.browser.conftest import Console
from tests.browser.pages import open_instance, shown_rows
from tests.live import LiveService
from tests.support import RawSession


@pytest.fixture
def console_service(timed_service: LiveService) -> LiveService:
    return timed_service


def test_a_rule_created_in_the_page_runs_and_its_runs_show_what_it_closed_and_what_came_back(
    console: Console,
    cluster: LocalCluster,
    adopt: Callable[..., Instance],
    sessions: Callable[..., RawSession],
    reconnecting: Callable[..., ReconnectingClient],
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    batch = [sessions(server, name=f"batch-{i}") for i in range(2)]
    comeback = reconnecting(server, name="batch-retry")
    web = sessions(server, name="web-1")
    console.sign_in()
    page = console.page
    open_instance(page, instance.id, "rules")
    expect(page.get_by_text("No rule on this instance yet.")).to_be_visible()

    form = page.locator("form").filter(has=page.get_by_role("button", name="Create rule"))
    form.get_by_label("Rule name").fill("drain-batch")
    form.locator("input[name=rule-match-name]").fill("batch-*")
    form.get_by_label("Every (s)").fill("3600")  # one run in this test: the first, due at once
    form.get_by_label("Mode").select_option("enforce")
    form.get_by_role("button", name="Create rule").click()
    expect(page.get_by_text("Rule drain-batch created.")).to_be_visible()
    rule = page.locator("table.rules tbody tr")
    expect(rule).to_have_count(1)
    expect(rule.locator("[data-column=mode]")).to_have_text("enforce")
    # the form is ready for the next rule, showing what it would send
    expect(form.get_by_label("Rule name")).to_have_value("")
    expect(form.locator("input[name=rule-match-name]")).to_have_value("")
    expect(form.get_by_label("At most per run")).to_have_value("1000")
    expect(form.get_by_label("Enabled")).to_be_checked()

    page.get_by_label("Auto-refresh").select_option("5")
    page.get_by_role("button", name="Runs of drain-batch").click()
    runs = page.locator("table.runs tbody tr")
    expect(runs).to_have_count(1)
    expect(runs.locator("[data-column=closed]")).to_have_text("3")
    assert all(s.closed_by_node() for s in batch)  # the run closed the test's sessions on the node
    assert comeback.came_back.wait(10)  # a liveness guard: the client reconnects as soon as it reads EOF
    assert web.alive()

    expect(runs.locator("[data-column=reconnected]")).to_have_text("1")  # after the window, on a refresh
    assert shown_rows(page, "table.runs") == [{"mode": "enforce", "matched": "3", "closed": "3", "reconnected": "1"}]
    console.assert_accessible()
    console.screenshot("rules-runs")

    rule_id = rule.locator(".id").inner_text()
    console.go("#/audit")  # an enforcing run is audited as the rule's close
    records = page.locator("table.audit tbody tr")
    expect(records).to_have_count(2)  # the rule's creation, and its run
    expect(records.nth(0).locator("[data-column=reconnected]")).to_have_text("1")
    run = {k: shown_rows(page, "table.audit")[0][k] for k in ("actor", "action", "outcome", "closed")}
    assert run == {"actor": f"rule:{rule_id}", "action": "deleteSession", "outcome": "succeeded", "closed": "3"}
