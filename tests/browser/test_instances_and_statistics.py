"""The instances page (status, nodes, totals) and the statistics page (totals, top IPs and DBs as charts)."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import expect

from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import Instance
from tests.browser.conftest import Console
from tests.browser.pages import open_instance, shown_rows
from tests.support import RawSession


def test_instances_show_status_nodes_and_session_totals(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    first, second = cluster.start_server(), cluster.start_server()
    orders = adopt(first, second, name="orders-cache")
    billing = adopt(cluster.start_server(), name="billing-cache")
    for _ in range(3):
        sessions(first)
    sessions(second)

    console.sign_in()
    page = console.page
    row = page.locator(f"tr[data-instance='{orders.id}']")
    expect(row.locator("td.total")).to_have_text("4")
    expect(row.get_by_role("link", name="orders-cache")).to_be_visible()
    expect(row.locator(f"li[data-node='{orders.nodes[0].id}'] .count")).to_have_text("3 sessions")
    expect(row.locator(f"li[data-node='{orders.nodes[1].id}'] .count")).to_have_text("1 sessions")
    expect(row.locator(f"li[data-node='{orders.nodes[0].id}']")).to_contain_text(f"{first.host}:{first.port}")
    expect(row.locator(".badge").first).to_have_text("normal")
    expect(page.locator(f"tr[data-instance='{billing.id}'] td.total")).to_have_text("0")
    console.assert_accessible()
    console.screenshot("instances")

    row.get_by_role("link", name="orders-cache").click()
    expect(page.get_by_role("heading", name=re.compile("orders-cache"))).to_be_visible()


def test_statistics_chart_total_active_top_ips_and_dbs(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    for _ in range(3):
        sessions(server, db=2)
    sessions(server, db=5, source_ip="127.0.0.2")
    sessions(server, db=2, source_ip="127.0.0.2")

    console.sign_in()
    page = console.page
    open_instance(page, instance.id, "statistics")

    expect(page.locator("[data-figure='total']")).to_have_text("5")
    for chart in ("chart-totals", "chart-ips", "chart-dbs"):
        expect(page.locator(f"#{chart} canvas")).to_have_count(1)
    ips = page.get_by_role("region", name="Top source IPs")
    expect(ips.get_by_role("row")).to_have_count(3)
    ip_rows = {r.split("\t")[0]: r.split("\t")[1] for r in ips.locator("tbody tr").all_inner_texts()}
    assert ip_rows == {"127.0.0.1": "3", "127.0.0.2": "2"}
    db_rows = page.get_by_role("region", name="Top DBs").locator("tbody tr").all_inner_texts()
    assert [r.split("\t") for r in db_rows] == [["db 2", "4"], ["db 5", "1"]]
    expect(page.locator("#chart-ips")).to_have_attribute("aria-label", re.compile("127.0.0.1: 3"))
    console.assert_accessible()
    console.screenshot("statistics")


def test_an_unreachable_node_reads_as_an_error_with_its_code_and_request_id(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance]
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    server.stop()
    console.expect_api_error(400)
    console.expect_api_error(403)

    console.sign_in()
    page = console.page
    open_instance(page, instance.id)

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(re.compile(r"DBS\.(200018|301076)"))
    expect(alert).to_have_text(re.compile(r"request [0-9a-f]{32}"))
    assert shown_rows(page) == []
