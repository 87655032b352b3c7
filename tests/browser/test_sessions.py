"""The instance page: the sessions the test opened, sorting, filters, paging, auto-refresh and export."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import Instance
from tests.browser.conftest import Console
from tests.browser.pages import open_instance, shown_column, shown_rows, wait_for_names
from tests.support import RawSession


@pytest.fixture
def instance_with_sessions(
    cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> tuple[Instance, list[RawSession]]:
    server = cluster.start_server()
    instance = adopt(server)
    opened = [
        sessions(server, name="orders-api", db=0),
        sessions(server, name="orders-api", db=0),
        sessions(server, name="billing-worker", db=3),
        sessions(server, name="batch-7", db=1, source_ip="127.0.0.2"),
        sessions(server, name="batch-8", db=1, source_ip="127.0.0.2"),
    ]
    return instance, opened


def test_the_sessions_the_test_opened_appear_with_their_names(console: Console, instance_with_sessions) -> None:
    instance, opened = instance_with_sessions
    console.sign_in()
    open_instance(console.page, instance.id)

    wait_for_names(console.page, ["orders-api", "orders-api", "billing-worker", "batch-7", "batch-8"])

    rows = shown_rows(console.page)
    assert sorted(r["id"] for r in rows) == sorted(str(s.id) for s in opened)
    assert {r["addr"] for r in rows} == {s.addr for s in opened}
    console.assert_accessible()
    console.screenshot("sessions")


def test_every_column_sorts_both_ways(console: Console, instance_with_sessions) -> None:
    instance, opened = instance_with_sessions
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(len(opened))
    columns = page.eval_on_selector_all("table.sessions thead button.sort", "bs => bs.map(b => b.dataset.column)")
    assert {"id", "addr", "name", "db", "cmd", "age", "idle", "fd", "sub", "psub", "multi"} <= set(columns)

    numeric = {"id", "db", "age", "idle", "fd", "sub", "psub", "multi"}
    for column in columns:
        header = page.locator(f"table.sessions thead button.sort[data-column='{column}']")
        for direction in ("ascending", "descending"):
            header.click()
            expect(page.locator(f"table.sessions thead th:has(button[data-column='{column}'])")).to_have_attribute(
                "aria-sort", direction
            )
            values = shown_column(page, column)
            key = (lambda v: int(v)) if column in numeric else (lambda v: v.lower())
            assert values == sorted(values, key=key, reverse=direction == "descending"), (column, direction, values)


def test_each_filter_narrows_the_rows(console: Console, instance_with_sessions) -> None:
    instance, opened = instance_with_sessions
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(5)
    ids_of = lambda *names: sorted(str(s.id) for s in opened if s.name in names)  # noqa: E731

    page.get_by_label("Address prefix").fill("127.0.0.2:")
    assert sorted(shown_column(page, "id")) == ids_of("batch-7", "batch-8")
    page.get_by_label("Address prefix").fill("")

    page.get_by_label("Name").fill("orders-*")
    assert sorted(shown_column(page, "id")) == ids_of("orders-api")
    page.get_by_label("Name").fill("batch-?")
    assert sorted(shown_column(page, "id")) == ids_of("batch-7", "batch-8")
    page.get_by_label("Name").fill("")

    page.get_by_label("DB", exact=True).fill("3")
    assert shown_column(page, "id") == ids_of("billing-worker")
    page.get_by_label("DB", exact=True).fill("")

    time.sleep(3.2)  # let them all idle 3 s and more; then make two of them busy again
    opened[0].call("PING")
    opened[2].call("PING")
    page.reload()  # a fresh listing, with the idle times of now
    expect(page.locator("table.sessions tbody tr")).to_have_count(5)
    page.get_by_label("Idle over (s)", exact=True).fill("3")
    assert sorted(shown_column(page, "id")) == sorted(str(s.id) for s in (opened[1], opened[3], opened[4]))
    expect(page.locator(".pager .range")).to_have_text("1–3 of 3")


def test_paging_walks_through_every_session(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    opened = [sessions(server, name=f"worker-{i:02d}") for i in range(30)]
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator(".pager .range")).to_have_text("1–30 of 30")

    page.get_by_label("Rows per page").select_option("25")
    expect(page.locator(".pager .range")).to_have_text("1–25 of 30")
    first = shown_column(page, "id")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(".pager .range")).to_have_text("26–30 of 30")
    second = shown_column(page, "id")

    assert first + second == sorted((str(s.id) for s in opened), key=int, reverse=True)
    expect(page.get_by_role("button", name="Next")).to_be_disabled()


def test_a_new_connection_appears_under_auto_refresh(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    sessions(server, name="early-bird")
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    wait_for_names(page, ["early-bird"])
    page.get_by_label("Auto-refresh").select_option("5")

    sessions(server, name="late-comer")

    wait_for_names(page, ["early-bird", "late-comer"])  # no reload: the page refreshed itself


def test_csv_and_json_export_hold_the_rows_on_screen(console: Console, instance_with_sessions) -> None:
    instance, _opened = instance_with_sessions
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(5)
    page.get_by_label("Name").fill("batch-*")
    on_screen = shown_rows(page)

    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Export CSV").click()
    with page.expect_download() as json_download:
        page.get_by_role("button", name="Export JSON").click()

    as_csv = list(csv.DictReader(io.StringIO(csv_download.value.path().read_text(encoding="utf-8"))))
    as_json = json.loads(json_download.value.path().read_text(encoding="utf-8"))
    assert len(on_screen) == 2
    assert [{k: row[k] for k in on_screen[0]} for row in as_csv] == on_screen
    assert [{k: str(row[k]) for k in on_screen[0]} for row in as_json] == on_screen
    assert csv_download.value.suggested_filename.endswith(".csv")
    assert json_download.value.suggested_filename.endswith(".json")


def test_the_user_filter_narrows_to_an_acl_user(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    server = cluster.start_server()
    with server.client() as client:
        client.acl_setuser("app", enabled=True, passwords=["+app-secret"], commands=["+@all"], keys=["*"])
    instance = adopt(server)
    as_app = [sessions(server, name="via-app", user="app", password="app-secret") for _ in range(2)]
    sessions(server, name="via-default")
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(3)

    page.get_by_label("User", exact=True).fill("ap?")

    assert sorted(shown_column(page, "id")) == sorted(str(s.id) for s in as_app)
    assert set(shown_column(page, "user")) == {"app"}


def test_the_csv_export_defuses_client_names_that_read_as_formulas(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    sessions(server, name="=HYPERLINK(evil)")
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(1)

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()

    (row,) = csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8")))
    assert row["name"] == "'=HYPERLINK(evil)"
    assert row["multi"] == "-1"  # a plain negative number stays a number
