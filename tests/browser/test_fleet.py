"""Fleet search: one selector over the project's instances, its summary, and the same previewed closes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import Instance
from tests.browser.conftest import Console
from tests.browser.pages import preview_count, shown_column, shown_rows
from tests.browser.test_readonly import CLOSE_BUTTONS
from tests.support import RawSession


@pytest.fixture
def fleet(
    cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> tuple[list[Instance], dict[str, RawSession]]:
    east, west = cluster.start_server(), cluster.start_server()
    instances = [adopt(east, name="east-cache"), adopt(west, name="west-cache")]
    opened = {
        "batch-1": sessions(east, name="batch-1"),
        "batch-2": sessions(east, name="batch-2", db=4),
        "batch-3": sessions(west, name="batch-3"),
        "api": sessions(east, name="api"),
        "web": sessions(west, name="web"),
    }
    return instances, opened


def search(console: Console, name_glob: str) -> None:
    page = console.page
    console.go("#/fleet")
    page.get_by_label("Name", exact=True).fill(name_glob)
    page.get_by_role("button", name="Search").click()


def test_a_selector_finds_sessions_across_instances_and_summarises_them(console: Console, fleet) -> None:
    instances, opened = fleet
    console.sign_in()
    page = console.page

    search(console, "batch-*")

    expect(page.get_by_role("heading", name="3 sessions match")).to_be_visible()
    rows = shown_rows(page, "table.fleet")
    assert sorted(r["name"] for r in rows) == ["batch-1", "batch-2", "batch-3"]
    assert {r["instance_id"] for r in rows} == {i.id for i in instances}
    assert {r["id"] for r in rows if r["name"] == "batch-3"} == {str(opened["batch-3"].id)}
    summary = page.get_by_role("region", name="Summary by name")
    expect(summary.locator("tbody tr")).to_have_count(3)
    expect(page.locator("#chart-summary canvas")).to_have_count(1)

    page.get_by_label("Group by").select_option("node")
    expect(page.get_by_role("region", name="Summary by node").locator("tbody tr")).to_have_count(2)
    counts = sorted(page.locator("table.summary td[data-column='count']").all_inner_texts())
    assert counts == ["1", "2"]
    console.assert_accessible()
    console.screenshot("fleet")


def test_the_scope_and_the_sort_are_the_servers(console: Console, fleet) -> None:
    instances, _opened = fleet
    console.sign_in()
    page = console.page
    console.go("#/fleet")
    page.get_by_label("west-cache").check()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="2 sessions match")).to_be_visible()
    assert set(shown_column(page, "instance_id", "table.fleet")) == {instances[1].id}

    page.get_by_label("west-cache").uncheck()
    page.get_by_label("Sort").select_option("name")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="5 sessions match")).to_be_visible()
    assert shown_column(page, "name", "table.fleet") == ["api", "batch-1", "batch-2", "batch-3", "web"]


def test_close_all_matching_closes_what_the_preview_counted(console: Console, fleet) -> None:
    _instances, opened = fleet
    console.sign_in()
    page = console.page
    search(console, "batch-*")
    expect(page.get_by_role("heading", name="3 sessions match")).to_be_visible()

    page.get_by_role("button", name="Close all matching").click()
    assert preview_count(page) == 3
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Close 3 sessions").click()
    expect(dialog.locator(".result")).to_contain_text("Closed 3 sessions")

    assert all(opened[n].closed_by_node() for n in ("batch-1", "batch-2", "batch-3"))
    assert opened["api"].alive() and opened["web"].alive()
    dialog.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name="0 sessions match")).to_be_visible()


def test_close_selected_across_nodes(console: Console, fleet) -> None:
    _instances, opened = fleet
    console.sign_in()
    page = console.page
    search(console, "*")
    expect(page.get_by_role("heading", name="5 sessions match")).to_be_visible()

    for name in ("batch-1", "web"):
        page.get_by_role("row").filter(has_text=name).get_by_role("checkbox").check()
    page.get_by_role("button", name="Close selected (2)").click()
    assert preview_count(page) == 2
    page.get_by_role("dialog").get_by_role("button", name="Close 2 sessions").click()
    expect(page.get_by_role("dialog").locator(".result")).to_contain_text("Closed 2 sessions")

    assert opened["batch-1"].closed_by_node() and opened["web"].closed_by_node()
    assert all(opened[n].alive() for n in ("batch-2", "batch-3", "api"))


def test_a_reader_searches_without_close_buttons(console: Console, fleet, reader: str) -> None:
    console.sign_in(user=reader)  # no 403 on the way: the console asks what it may do, it does not try
    page = console.page
    search(console, "batch-*")
    expect(page.get_by_role("heading", name="3 sessions match")).to_be_visible()

    for name in (*CLOSE_BUTTONS, "Close all matching"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.locator("table.fleet input[type=checkbox]")).to_have_count(0)
