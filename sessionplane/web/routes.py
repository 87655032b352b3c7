"""Serve the operator console (static files in the package) at /console/, with strict security headers.

The console is a client of the public JSON API: nothing here authenticates or reads data. The
pages run only scripts from this origin (no inline script, no eval), cannot be framed, and never
send a Referer. Vendored libraries are served from /console/vendor/.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB_ROOT = Path(__file__).parent

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types lit-html",
    )
)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    # Revalidate on every load (ETag), so an upgrade never mixes old and new modules.
    (b"cache-control", b"no-cache"),
)


class SecurityHeaders:
    """Pure-ASGI wrapper: the console's security headers on every response it sends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = [*kept, *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _static(directory: Path) -> ASGIApp:
    return SecurityHeaders(StaticFiles(directory=directory, html=True, follow_symlink=False))


def console_app() -> ASGIApp:
    """Mounted at /console: /console/vendor/... (vendored libraries) and /console/... (the pages), read-only."""
    return Router(
        routes=[
            Mount("/vendor", app=_static(WEB_ROOT / "vendor")),
            Mount("/", app=_static(WEB_ROOT / "console")),
        ]
    )
