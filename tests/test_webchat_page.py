"""The chat page is served with its assets, and only demo mode mentions the simulated SMS."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.app import create_app
from bot.config import Settings


async def test_page_links_versioned_assets_that_are_served(aiohttp_client, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    html = await response.text()
    assert "<title>信用代证助手</title>" in html
    assert 'aria-live="polite"' in html
    assert 'id="demo-banner"' in html
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert sorted(path.split("?")[0] for path in assets) == ["/static/chat.css", "/static/chat.js"]
    for path in assets:
        asset = await client.get(path)
        assert asset.status == 200
        assert len(await asset.read()) > 1000


async def test_page_outside_demo_mode_has_no_sms_banner(aiohttp_client, settings: Settings) -> None:
    client = await aiohttp_client(create_app(replace(settings, demo=False)))
    html = await (await client.get("/")).text()
    assert 'data-demo="false"' in html
    assert "demo-banner" not in html and "验证码" not in html
