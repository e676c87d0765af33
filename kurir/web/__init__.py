"""The web app: static files kurir serves itself at `/` (no CDN, no build step).

The app is a client of the public API like any other (kurir/web/static/*.js): it signs in
over HTTP, then lives on the WebSocket, recovering gaps with getDifference.
"""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

STATIC = os.path.join(os.path.dirname(__file__), "static")
# The shell may change with every release; what it loads is versioned by file name, so the
# shell is always asked again and the rest is cached.
SHELL_HEADERS = {
    "Cache-Control": "no-cache",
    # everything from this server; no inline script; images also from blob: (previews)
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self';"
        " script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none';"
        " frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def shell(request: Request) -> Response:
    """index.html for `/` and for the app's own paths (an invite link `/+hash`)."""
    return FileResponse(os.path.join(STATIC, "index.html"), headers=SHELL_HEADERS)


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC)
