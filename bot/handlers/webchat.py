"""The web chat page at `/`: one HTML page plus its static CSS and JS, no build step.

The page is only a client of `POST /api/chat`; it holds no business logic, so every other
client (mini-program, tests, benchmarks) sees exactly the same conversation.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from aiohttp import web

from bot.appkeys import SETTINGS
from core.render import TEMPLATES_DIR, environment

STATIC_DIR = TEMPLATES_DIR / "static"
ASSETS = ("chat.css", "chat.js")

_PAGE = web.AppKey("webchat_page", str)


def _asset_version(name: str) -> str:
    """Content hash in the asset URL, so a deployment never runs new HTML against a cached old script."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def _content_security_policy(base_url: str) -> str:
    """Only our own origin may supply scripts and data; report QR codes may come from the public URL.

    `base_url` is the address printed into links, which can differ from the one the browser used
    (127.0.0.1 versus localhost in a demo, or a proxy in front), hence the explicit image origin.
    """
    parts = urlsplit(base_url)
    image_origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return "; ".join(
        [
            "default-src 'self'",
            f"img-src 'self' data: {image_origin}".rstrip(),
            "style-src 'self'",
            "script-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
        ]
    )


async def chat_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return web.Response(
        text=request.app[_PAGE],
        content_type="text/html",
        headers={
            "Content-Security-Policy": _content_security_policy(settings.base_url),
            "Cache-Control": "no-cache",
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


def setup(app: web.Application) -> None:
    """Render the page once at start: it depends only on settings and asset versions, not on the user."""
    app[_PAGE] = (
        environment()
        .get_template("chat.html")
        .render(
            demo=app[SETTINGS].demo,
            assets={name: f"/static/{name}?v={_asset_version(name)}" for name in ASSETS},
        )
    )
    app.router.add_get("/", chat_page)
    app.router.add_static("/static/", STATIC_DIR)
