"""Sign-in, sign-out and 401 handling: the token lives in sessionStorage only."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import Console

REQUEST_ID = re.compile(r"request [0-9a-f]{32}")


def test_sign_in_lands_on_instances_with_the_token_in_session_storage_only(console: Console) -> None:
    console.open()
    expect(console.page.get_by_role("heading", name="Sign in to sessionplane")).to_be_visible()
    console.assert_accessible()
    console.screenshot("signin")

    console.sign_in()

    page = console.page
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    expect(page.get_by_text("operator @ console")).to_be_visible()
    stored = page.evaluate("JSON.parse(sessionStorage.getItem('sessionplane.auth'))")
    assert len(stored["token"]) > 40
    assert stored["projectId"] == console.tenant.project_id
    assert stored["token"] not in page.url
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []


def test_a_wrong_password_is_refused_with_the_code_and_request_id(console: Console) -> None:
    console.expect_api_error(401)
    console.fill_sign_in(password="not-the-password")

    alert = console.page.get_by_role("alert")
    expect(alert).to_contain_text("APIG.0301")
    expect(alert).to_have_text(REQUEST_ID)
    assert console.page.evaluate("sessionStorage.getItem('sessionplane.auth')") is None
    expect(console.page.get_by_label("Password")).to_be_visible()


def test_sign_out_forgets_the_token(console: Console) -> None:
    console.sign_in()
    page = console.page
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", name="Sign in to sessionplane")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('sessionplane.auth')") is None
    console.go("#/instances")
    expect(page.get_by_role("heading", name="Sign in to sessionplane")).to_be_visible()


def test_a_401_returns_to_sign_in_with_the_reason(console: Console) -> None:
    console.expect_api_error(401)
    console.sign_in()
    page = console.page
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    page.evaluate(
        """() => {
        const auth = JSON.parse(sessionStorage.getItem('sessionplane.auth'));
        auth.token = auth.token.slice(0, -6) + 'AAAAAA';
        sessionStorage.setItem('sessionplane.auth', JSON.stringify(auth));
    }"""
    )

    page.reload()

    expect(page.get_by_role("heading", name="Sign in to sessionplane")).to_be_visible()
    reason = page.get_by_role("alert")
    expect(reason).to_contain_text("Signed out")
    expect(reason).to_contain_text("APIG.0301")
    expect(reason).to_have_text(REQUEST_ID)
    assert page.evaluate("sessionStorage.getItem('sessionplane.auth')") is None
