"""History: sessions over time by name, and a name the test made leak leading the growth table."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect

from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import Instance
from sessionplane.settings import Settings
from tests.browser.conftest import Console
from tests.browser.pages import open_instance
from tests.live import LiveService
from tests.support import RawSession

SAMPLE_SECONDS = 1


@pytest.fixture(scope="module")
def sampled_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("history"),
        node_connect_timeout_seconds=1.0,
        sample_interval_seconds=SAMPLE_SECONDS,
    )
    with LiveService(settings) as live:
        yield live


@pytest.fixture
def console_service(sampled_service: LiveService) -> LiveService:
    return sampled_service


def test_the_history_chart_and_growth_table_show_a_leaking_name(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    for _ in range(2):
        sessions(server, name="steady")
    for _ in range(5):  # one more leaked connection per sampling period
        sessions(server, name="leaky")
        time.sleep(SAMPLE_SECONDS * 1.2)

    console.sign_in()
    page = console.page
    open_instance(page, instance.id, "history")
    page.get_by_role("combobox", name="Window").select_option("2m")  # a step of 2 s: the leak spans buckets

    growth = page.locator("table.growth tbody tr")
    expect(growth.first.locator("[data-column='growth']")).to_have_text(re.compile(r"^\+[0-9.]+$"))
    expect(growth.first.locator("[data-column='key']")).to_have_text("leaky")
    steady = page.locator("table.growth tbody tr", has_text="steady")
    expect(steady.locator("[data-column='growth']")).to_have_text("0")
    expect(page.locator("#chart-history canvas")).to_have_count(1)
    history = page.locator("table.history tbody tr")
    expect(history.filter(has_text="steady").locator("[data-column='peak']")).to_have_text("2")
    assert float(history.filter(has_text="leaky").locator("[data-column='peak']").inner_text()) > 2
    console.assert_accessible()
    console.screenshot("history")
