"""GET /docs: Swagger UI over /openapi.json, from vendored assets only (it works offline), under a strict CSP.

The assets are ``web/vendor/swagger-ui`` (see ``web/vendor/VENDORED.md``) and ``web/docs/init.js``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

WEB = Path(__file__).resolve().parent.parent / "web"
SWAGGER_UI_PATH = "/docs/vendor/swagger-ui"

# Only this server's own files; Swagger UI's icons are data: URIs in its stylesheet.
DOCS_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sessionplane API</title>
<link rel="stylesheet" href="{SWAGGER_UI_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{SWAGGER_UI_PATH}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SWAGGER_UI_PATH}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs_page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": DOCS_CSP})


@router.get("/docs/init.js")
async def docs_script() -> FileResponse:
    return FileResponse(WEB / "docs" / "init.js", media_type="text/javascript")


def mount_assets(app: FastAPI) -> None:
    app.mount(SWAGGER_UI_PATH, StaticFiles(directory=WEB / "vendor" / "swagger-ui"), name="swagger-ui")
