"""/docs in a real browser with every other host unreachable: Swagger UI renders from this server's
own files, lists every operation, and "Try it out" works with a token.

The ``console`` fixture aborts every request to another host (the network as the page sees it is
only this server) and fails the test if the page asked another host for anything or logged a
console error, which includes a Content-Security-Policy violation.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Request, expect

from tests.browser.conftest import Console
from tests.conftest import login
from tests.live import LiveService

METHODS = ("get", "put", "post", "delete", "patch")
INSTANCES = "/v3/{project_id}/instances"


def _operations(service: LiveService) -> list[tuple[str, str]]:
    document = httpx.get(f"{service.url}/openapi.json").json()
    return [(method, path) for path, item in document["paths"].items() for method in item if method in METHODS]


def test_docs_render_every_operation_with_other_hosts_blocked(console: Console, service: LiveService) -> None:
    page = console.page
    asked: list[str] = []
    page.on("request", lambda request: asked.append(urlsplit(request.url).path))
    operations = _operations(service)

    page.goto(f"{service.url}/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("sessionplane")
    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(len(operations))
    for method, path in operations:
        summary = page.locator(f".opblock-{method} .opblock-summary-path[data-path='{path}']")
        expect(summary).to_have_count(1)
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    # What the page showed came from here: Swagger UI's own bundle and this server's document.
    assert "/docs/vendor/swagger-ui/swagger-ui-bundle.js" in asked and "/openapi.json" in asked
    assert console.foreign_requests == []
    console.screenshot("docs")


def test_try_it_out_calls_this_server_with_the_token(console: Console, service: LiveService) -> None:
    tenant = console.tenant
    token = login(
        service, domain=tenant.domain, name=tenant.admin_name, password=tenant.password, project_id=tenant.project_id
    )
    page = console.page
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    page.goto(f"{service.url}/docs")

    page.get_by_role("button", name="Authorize").click()
    dialog = page.locator(".dialog-ux")
    dialog.locator("input").fill(token)
    dialog.get_by_role("button", name="Apply credentials").click()
    expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    operation = page.locator(f".opblock-get:has(.opblock-summary-path[data-path='{INSTANCES}'])")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("tr[data-param-name='project_id'] input").fill(tenant.project_id)
    operation.get_by_role("button", name="Execute").click()

    expect(operation.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text('"instances"')
    (request,) = [r for r in sent if urlsplit(r.url).path == f"/v3/{tenant.project_id}/instances"]
    assert urlsplit(request.url).netloc == urlsplit(service.url).netloc
    assert request.headers["x-auth-token"] == token
