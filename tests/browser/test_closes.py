"""The four closes of the instance page: preview (dry run), confirmation, and what the node then holds."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import expect

from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import Instance
from tests.browser.conftest import Console
from tests.browser.pages import open_instance, preview_count, shown_column
from tests.support import RawSession, client_names


def test_close_selected_closes_exactly_those(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    opened = [sessions(server, name=f"app-{i}") for i in range(4)]
    doomed, kept = opened[1:3], [opened[0], opened[3]]
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(4)

    for session in doomed:
        page.get_by_label(f"Select session {session.id}").check()
    page.get_by_role("button", name="Close selected (2)").click()
    assert preview_count(page) == 2
    dialog = page.get_by_role("dialog")
    assert sorted(dialog.locator("table.preview tbody td:first-child").all_inner_texts()) == sorted(
        str(s.id) for s in doomed
    )
    console.assert_accessible()
    console.screenshot("close-preview")
    dialog.get_by_role("button", name="Close 2 sessions").click()
    expect(dialog.locator(".result")).to_contain_text("Closed 2 sessions")
    dialog.get_by_role("button", name="Done").click()

    assert all(s.closed_by_node() for s in doomed)
    assert all(s.alive() for s in kept)
    expect(page.locator("table.sessions tbody tr")).to_have_count(2)
    assert sorted(shown_column(page, "id")) == sorted(str(s.id) for s in kept)


def test_close_idle_over_closes_what_the_preview_counted(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    sleepy = [sessions(server, name=f"sleepy-{i}") for i in range(3)]
    busy = [sessions(server, name=f"busy-{i}") for i in range(2)]
    time.sleep(3.2)  # everyone idles 3 s and more; the busy ones speak again just before the preview
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(5)

    page.get_by_label("Close when idle over (s)").fill("3")
    for session in busy:
        session.call("PING")
    page.get_by_role("button", name="Close idle").click()
    counted = preview_count(page)
    previewed = page.get_by_role("dialog").locator("table.preview tbody td:nth-child(4)").all_inner_texts()
    page.get_by_role("dialog").get_by_role("button", name=f"Close {counted} sessions").click()
    expect(page.get_by_role("dialog").locator(".result")).to_be_visible()

    assert counted == len(sleepy) and sorted(previewed) == [s.name for s in sleepy]
    assert all(s.closed_by_node() for s in sleepy)  # the preview's count is what was closed
    assert all(s.alive() for s in busy)


def test_close_all_of_a_node_is_previewed_and_cancel_closes_nothing(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    first, second = cluster.start_server(), cluster.start_server()
    instance = adopt(first, second)
    on_first = [sessions(first, name=f"one-{i}") for i in range(3)]
    on_second = [sessions(second, name="two")]
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(3)

    page.get_by_role("button", name="Close all of this node").click()
    assert preview_count(page) == 3
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert all(s.alive() for s in on_first)

    page.get_by_role("button", name="Close all of this node").click()
    assert preview_count(page) == 3
    page.get_by_role("dialog").get_by_role("button", name="Close 3 sessions").click()
    expect(page.get_by_role("dialog").locator(".result")).to_be_visible()

    assert all(s.closed_by_node() for s in on_first)
    assert all(s.alive() for s in on_second)
    assert not [n for n in client_names(first) if n.startswith("one-")]  # CLIENT LIST on the node


def test_close_all_of_an_instance_closes_every_node(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    first, second = cluster.start_server(), cluster.start_server()
    instance = adopt(first, second)
    opened = [sessions(first, name="a"), sessions(first, name="b"), sessions(second, name="c")]
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(2)

    page.get_by_role("button", name="Close all of this instance").click()
    assert preview_count(page) == 3
    page.get_by_role("dialog").get_by_role("button", name="Close 3 sessions").click()
    expect(page.get_by_role("dialog").locator(".result")).to_be_visible()

    assert all(s.closed_by_node() for s in opened)
    page.get_by_role("dialog").get_by_role("button", name="Done").click()
    expect(page.locator("table.sessions tbody tr")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="every node of orders-cache")).to_be_visible()


def test_a_close_refuses_when_more_sessions_match_than_were_confirmed(
    console: Console, cluster: LocalCluster, adopt: Callable[..., Instance], sessions: Callable[..., RawSession]
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    first = [sessions(server, name="crowd") for _ in range(2)]
    console.expect_api_error(409)
    console.sign_in()
    page = console.page
    open_instance(page, instance.id)
    expect(page.locator("table.sessions tbody tr")).to_have_count(2)

    page.get_by_role("button", name="Close all of this node").click()
    assert preview_count(page) == 2
    latecomer = sessions(server, name="crowd")  # arrives between the preview and the confirmation
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Close 2 sessions").click()

    expect(dialog.get_by_role("alert")).to_contain_text("SP.0001")
    expect(dialog).to_contain_text("nothing was closed")
    assert all(s.alive() for s in [*first, latecomer])
    dialog.get_by_role("button", name="Preview again").click()
    assert preview_count(page) == 3
    dialog.get_by_role("button", name="Close 3 sessions").click()
    expect(dialog.locator(".result")).to_contain_text("Closed 3 sessions")
    assert all(s.closed_by_node() for s in [*first, latecomer])
