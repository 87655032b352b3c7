"""A read-only user sees the pages without close buttons, and a close crafted in the page is still refused."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import Instance
from tests.browser.conftest import Console
from tests.browser.pages import open_instance, wait_for_names
from tests.support import RawSession

CLOSE_BUTTONS = ("Close selected", "Close all of this node", "Close all of this instance", "Close idle")


def test_a_reader_sees_sessions_without_close_buttons_and_a_crafted_close_is_refused(
    console: Console,
    reader: str,
    cluster: LocalCluster,
    adopt: Callable[..., Instance],
    sessions: Callable[..., RawSession],
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    victim = sessions(server, name="precious")
    console.expect_api_error(403)  # the crafted close below

    console.sign_in(user=reader)
    page = console.page
    open_instance(page, instance.id)
    wait_for_names(page, ["precious"])

    expect(page.get_by_text("closing them needs deleteSession")).to_be_visible()
    for name in CLOSE_BUTTONS:
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    console.assert_accessible()
    console.screenshot("sessions-readonly")

    answer = page.evaluate(
        """async ([project, node, id]) => {
        const token = JSON.parse(sessionStorage.getItem('sessionplane.auth')).token;
        const response = await fetch(`/v3/${project}/redis/nodes/${node}/sessions`, {
            method: 'DELETE', headers: {'X-Auth-Token': token, 'Content-Type': 'application/json'},
            body: JSON.stringify({is_all: false, session_ids: [String(id)]})});
        return {status: response.status, body: await response.json()};
    }""",
        [console.tenant.project_id, instance.nodes[0].id, victim.id],
    )

    assert answer["status"] == 403
    assert answer["body"]["error_code"] == "DBS.280032"
    assert victim.alive()


def test_an_operator_allowed_by_policy_sees_the_close_buttons(
    console: Console,
    operator: str,
    cluster: LocalCluster,
    adopt: Callable[..., Instance],
    sessions: Callable[..., RawSession],
) -> None:
    server = cluster.start_server()
    instance = adopt(server)
    sessions(server, name="anything")

    console.sign_in(user=operator)
    open_instance(console.page, instance.id)
    wait_for_names(console.page, ["anything"])

    for name in CLOSE_BUTTONS:
        expect(console.page.get_by_role("button", name=name)).to_have_count(1)
