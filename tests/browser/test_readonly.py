"""A read-only user sees the pages without close buttons, and a close crafted in the page is still refused.

The console learns what the user may do from GET .../permissions: it never tries a close to find out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Request, expect

from sessionplane import admin
from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import Instance
from tests.browser.conftest import Console, ConsoleTenant
from tests.browser.pages import open_instance, wait_for_names
from tests.conftest import login
from tests.live import LiveService
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
    asked = requests_of(console)

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
    assert permission_questions(asked) == [instance.id]
    assert [r for r in asked if r.method not in ("GET", "POST")] == []  # no close tried to find out

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


def requests_of(console: Console) -> list[Request]:
    """Every request the page makes to the API from now on."""
    made: list[Request] = []
    console.page.on("request", lambda r: made.append(r) if "/v3/" in r.url or "/sessionplane/" in r.url else None)
    return made


def permission_questions(made: list[Request]) -> list[str]:
    """The instance IDs the page asked GET .../permissions about ('' for the whole project)."""
    asked = [urlsplit(r.url) for r in made if urlsplit(r.url).path.endswith("/permissions")]
    return [parse_qs(url.query).get("instance_id", [""])[0] for url in asked]


def test_a_reader_sees_rules_without_changing_them_and_the_audit_page_says_it_needs_audit_list(
    console: Console,
    console_service: LiveService,
    console_tenant: ConsoleTenant,
    reader: str,
    cluster: LocalCluster,
    adopt: Callable[..., Instance],
) -> None:
    instance = adopt(cluster.start_server())
    token = login(
        console_service,
        domain=console_tenant.domain,
        name=console_tenant.admin_name,
        password=console_tenant.password,
        project_id=console_tenant.project_id,
    )
    rules = f"{console_service.url}/sessionplane/v1/{console_tenant.project_id}/instances/{instance.id}/close-rules"
    rule = {"name": "kept", "match": {"name": ["nobody-*"]}, "mode": "report", "enabled": False}
    created = httpx.post(rules, json=rule, headers={"X-Auth-Token": token})
    assert created.status_code == 201, created.text
    asked = requests_of(console)

    console.sign_in(user=reader)
    page = console.page
    open_instance(page, instance.id, "rules")
    expect(page.locator("table.rules tbody tr")).to_have_count(1)
    expect(page.get_by_text("Creating and changing rules needs deleteSession")).to_be_visible()
    expect(page.get_by_role("button", name="Create rule")).to_have_count(0)
    for name in ("Disable kept", "Enable kept", "Switch kept to enforce", "Delete kept"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    page.get_by_role("button", name="Runs of kept").click()
    expect(page.get_by_text("No run yet.")).to_be_visible()
    console.assert_accessible()

    console.go("#/audit")
    expect(page.get_by_text("Reading the audit trail needs sessionplane:audit:list")).to_be_visible()
    expect(page.locator("table.audit")).to_have_count(0)
    console.assert_accessible()
    console.screenshot("audit-readonly")
    assert permission_questions(asked) == [instance.id, ""]
    assert not [r for r in asked if urlsplit(r.url).path.endswith("/audit")]  # it knew not to ask


def test_a_user_allowed_to_close_only_dev_instances_sees_close_buttons_only_there(
    console: Console,
    console_service: LiveService,
    console_tenant: ConsoleTenant,
    cluster: LocalCluster,
    adopt: Callable[..., Instance],
    sessions: Callable[..., RawSession],
) -> None:
    dev_server, prod_server = cluster.start_server(), cluster.start_server()
    dev = adopt(dev_server, name="dev-cache", tags={"env": "dev"})
    prod = adopt(prod_server, name="prod-cache", tags={"env": "prod"})
    sessions(dev_server, name="dev-client")
    sessions(prod_server, name="prod-client")
    name = dev_closer(console_service, console_tenant)

    console.sign_in(user=name)
    page = console.page
    open_instance(page, prod.id)
    wait_for_names(page, ["prod-client"])
    expect(page.get_by_text("closing them needs deleteSession")).to_be_visible()
    for button in CLOSE_BUTTONS:
        expect(page.get_by_role("button", name=button)).to_have_count(0)
    open_instance(page, dev.id)
    wait_for_names(page, ["dev-client"])
    for button in CLOSE_BUTTONS[1:]:  # "Close selected" shows once a session is ticked
        expect(page.get_by_role("button", name=button)).to_have_count(1)
    expect(page.get_by_role("checkbox")).to_have_count(2)  # select all, and the session
    console.assert_accessible()


DEV_CLOSER = {
    "Version": "5.0",
    "Statement": [
        {"Effect": "Allow", "Action": ["gaussdbfornosql:instance:listSession", "gaussdbfornosql:instance:list"]},
        {
            "Effect": "Allow",
            "Action": ["gaussdbfornosql:instance:deleteSession"],
            "Condition": {"StringEquals": {"g:ResourceTag/env": ["dev"]}},
        },
    ],
}


def dev_closer(service: LiveService, tenant: ConsoleTenant) -> str:
    """A user whose policy allows closing only on instances tagged env=dev (a condition key)."""
    user = service.call(
        admin.add_user(
            service.services.inventory,
            domain=tenant.domain,
            name=f"dev-{tenant.project_id[:6]}",
            password=tenant.password,
        )
    )
    iam = service.services.iam
    policy = f"dev-closer-{tenant.project_id[:8]}"
    service.call(iam.put_policy(account_id=user.account_id, name=policy, document=json.dumps(DEV_CLOSER)))
    service.call(
        iam.attach(
            account_id=user.account_id,
            policy_name=policy,
            principal_type="user",
            principal_id=user.id,
            project_id=tenant.project_id,
        )
    )
    return user.name
