"""Browser tests of the operator console: Debian's chromium driven by Playwright, against the live service.

One browser for the whole session; a fresh context (cookies, storage) and a fresh project per test.
Every test also checks, on the way out, that the browser asked nothing of any other host and
logged no console error (beyond the API errors the test provoked on purpose).
"""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, Route, expect, sync_playwright

from sessionplane import admin
from sessionplane.demo.servers import RedisServer
from sessionplane.iam.system_policies import FULL_ACCESS, READ_ONLY
from sessionplane.inventory.records import Instance, NodeSpec
from tests.browser.clients import ReconnectingClient
from tests.conftest import settings_for
from tests.live import LiveService

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
DOMAIN = "console"
PASSWORD = "C0nsole-pa55word!"
ADMIN = "operator"
RECONNECT_WINDOW_SECONDS = 2  # timed_service's: closes count their reconnects this soon
WAIT_MS = 15_000  # how long a page may take to show what a test waits for (a liveness guard)
expect.set_options(timeout=WAIT_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent

    def in_browser_tests(item: pytest.Item) -> bool:
        return here in item.path.parents

    for item in items:
        if in_browser_tests(item):
            item.add_marker(pytest.mark.browser)
    # Playwright's sync API keeps an asyncio loop running on the main thread until the session ends:
    # the browser tests run last, so that no other test's asyncio.run() meets that loop.
    items.sort(key=in_browser_tests)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium (make test does)")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@dataclass(frozen=True)
class ConsoleTenant:
    domain: str
    project_id: str
    admin_name: str
    password: str


_ADMINS: weakref.WeakSet[LiveService] = weakref.WeakSet()  # services where the console's admin exists


@pytest.fixture
def console_service(service: LiveService) -> LiveService:
    """The service the console tests drive; a module that needs other settings overrides this fixture."""
    return service


@pytest.fixture(scope="session")
def timed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """For the tests that wait on the service's own clock: rules are looked for five times a second,
    and a close counts its reconnects after RECONNECT_WINDOW_SECONDS."""
    settings = settings_for(
        tmp_path_factory.mktemp("timed"), rule_tick_seconds=0.2, reconnect_window_seconds=RECONNECT_WINDOW_SECONDS
    )
    with LiveService(settings) as live:
        yield live


@pytest.fixture
def reconnecting() -> Iterator[Callable[..., ReconnectingClient]]:
    """Open clients that come back once when the node closes them; all stopped at the end of the test."""
    opened: list[ReconnectingClient] = []

    def open_client(server: RedisServer, *, name: str, after: float = 0.0) -> ReconnectingClient:
        opened.append(ReconnectingClient(server, name=name, after=after))
        return opened[-1]

    yield open_client
    for client in opened:
        client.stop()


@pytest.fixture
def console_tenant(console_service: LiveService) -> ConsoleTenant:
    """A project of its own per test, so the instances page shows only this test's instances."""
    inventory = console_service.services.inventory
    if console_service not in _ADMINS:
        console_service.call(admin.add_user(inventory, domain=DOMAIN, name=ADMIN, password=PASSWORD, is_admin=True))
        _ADMINS.add(console_service)
    project = console_service.call(admin.add_project(inventory, domain=DOMAIN, name=f"p-{uuid.uuid4().hex[:8]}"))
    return ConsoleTenant(domain=DOMAIN, project_id=project.id, admin_name=ADMIN, password=PASSWORD)


def user_with(service: LiveService, tenant: ConsoleTenant, policy: str) -> str:
    """A user (not the account's admin) whose only permission is this system policy in the tenant's project."""
    name = f"user-{uuid.uuid4().hex[:6]}"
    inventory = service.services.inventory
    user = service.call(admin.add_user(inventory, domain=tenant.domain, name=name, password=tenant.password))
    service.call(
        service.services.iam.attach(
            account_id=user.account_id,
            policy_name=policy,
            principal_type="user",
            principal_id=user.id,
            project_id=tenant.project_id,
        )
    )
    return name


@pytest.fixture
def reader(console_service: LiveService, console_tenant: ConsoleTenant) -> str:
    return user_with(console_service, console_tenant, READ_ONLY.name)


@pytest.fixture
def operator(console_service: LiveService, console_tenant: ConsoleTenant) -> str:
    return user_with(console_service, console_tenant, FULL_ACCESS.name)


@pytest.fixture
def adopt(console_service: LiveService, console_tenant: ConsoleTenant) -> Callable[..., Instance]:
    def adopt_instance(*servers: RedisServer, name: str = "orders-cache", **options: object) -> Instance:
        specs = [
            NodeSpec(host=s.host, port=s.port, password=s.password, name=f"node_{i + 1}") for i, s in enumerate(servers)
        ]
        return console_service.call(
            admin.adopt_instance(
                console_service.services.inventory,
                project_id=console_tenant.project_id,
                name=name,
                nodes=specs,
                **options,  # type: ignore[arg-type]
            )
        )

    return adopt_instance


@dataclass
class Console:
    """One browser tab on the console, with what it requested and what it logged."""

    page: Page
    base_url: str
    tenant: ConsoleTenant
    foreign_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    allowed_errors: list[re.Pattern[str]] = field(default_factory=list)

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"{self.base_url}/console/{fragment}")

    def sign_in(self, *, user: str | None = None, password: str | None = None, project: str | None = None) -> None:
        """Sign in through the form; returns once the instances page is up."""
        self.fill_sign_in(user=user, password=password, project=project)
        expect(self.page.get_by_role("heading", name="Instances")).to_be_visible()

    def fill_sign_in(self, *, user: str | None = None, password: str | None = None, project: str | None = None) -> None:
        self.open()
        page = self.page
        page.get_by_label("Account (domain)").fill(self.tenant.domain)
        page.get_by_label("User").fill(user or self.tenant.admin_name)
        page.get_by_label("Password").fill(password or self.tenant.password)
        page.get_by_label("Project (ID or name)").fill(project or self.tenant.project_id)
        page.get_by_role("button", name="Sign in").click()

    def go(self, fragment: str) -> None:
        self.page.evaluate("fragment => { window.location.hash = fragment; }", fragment)

    def allow_console_errors(self, pattern: str) -> None:
        """The test provokes these console errors on purpose."""
        self.allowed_errors.append(re.compile(pattern))

    def expect_api_error(self, status: int) -> None:
        """The test provokes this HTTP status on purpose: the browser's network log line is expected."""
        self.allow_console_errors(rf"status of {status}\b")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_accessible(self) -> None:
        """axe-core (injected by the test, not served) finds no serious or critical violation."""
        # Runtime evaluation is the test's, not the page's: the page's CSP still forbids inline script.
        self.page.evaluate(AXE.read_text())
        result = self.page.evaluate(
            "() => axe.run(document, {runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
        )
        serious = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        described = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in serious
        ]
        assert not serious, "\n".join(described)


@pytest.fixture
def console(browser: Browser, console_service: LiveService, console_tenant: ConsoleTenant) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    tab = Console(page=page, base_url=console_service.url, tenant=console_tenant)
    own = urlsplit(console_service.url).netloc

    def watch(request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != own:
            tab.foreign_requests.append(request.url)

    def refuse_foreign(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            route.abort()

    def log(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.console_errors.append(message.text)

    context.on("request", watch)
    context.route("**/*", refuse_foreign)
    page.on("console", log)
    page.on("pageerror", lambda error: tab.console_errors.append(f"uncaught: {error}"))
    yield tab
    context.close()
    assert tab.foreign_requests == [], f"requests to other hosts: {tab.foreign_requests}"
    unexpected = [e for e in tab.console_errors if not any(p.search(e) for p in tab.allowed_errors)]
    assert unexpected == [], f"console errors: {unexpected}"
