"""The console's HTTP surface: security headers on every file, no inline script, nothing outside the package."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.live import LiveService


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/index.html",
        "/console/js/main.js",
        "/console/console.css",
        "/console/vendor/lit-html/lit-html.js",
    ],
)
def test_every_console_file_carries_the_security_headers(service: LiveService, path: str) -> None:
    response = httpx.get(f"{service.url}{path}")

    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert {v.strip() for v in response.headers["x-content-type-options"].split(",")} == {"nosniff"}


def test_console_without_slash_redirects_and_the_page_has_no_inline_script(service: LiveService) -> None:
    with httpx.Client(base_url=service.url) as client:
        redirect = client.get("/console")
        page = client.get("/console/")

    assert redirect.status_code in (301, 307, 308) and redirect.headers["location"].endswith("/console/")
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/main.js"></script>' in page.text
    assert page.text.count("<script") == 1


@pytest.mark.parametrize(
    "path", ["/console/../app.py", "/console/%2e%2e/app.py", "/console/vendor/../routes.py", "/console/nope.js"]
)
def test_nothing_outside_the_console_files_is_served(service: LiveService, path: str) -> None:
    response = httpx.get(f"{service.url}{path}")

    assert response.status_code == 404
    assert "create_app" not in response.text and "console_app" not in response.text


INJECT = """() => new Promise((resolve) => {
    document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), {once: true});
    const script = document.createElement('script');
    try { LOAD; } catch (error) { resolve('trusted-types: ' + error.name); return; }
    script.onload = () => resolve('ran');
    document.body.append(script);
    if (window.injected) resolve('ran');
})"""


@pytest.mark.parametrize(
    "load",
    ["script.textContent = 'window.injected = 1'", "script.src = 'data:text/javascript,window.injected=1'"],
    ids=["inline", "data-url"],
)
def test_the_browser_refuses_a_script_injected_into_the_page(console: Console, load: str) -> None:
    console.allow_console_errors("Content Security Policy|TrustedScript|Trusted Type")
    console.sign_in()
    page = console.page
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()

    refused = page.evaluate(INJECT.replace("LOAD", load))

    assert refused.startswith(("script-src", "trusted-types", "require-trusted-types-for")), refused
    assert page.evaluate("window.injected") is None
