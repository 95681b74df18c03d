"""The web chat page driven in Debian's headless Chromium at a phone viewport.

Set CREDITBOT_SCREENSHOT_DIR to keep screenshots of each step for a look at the design.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import qrcode
from aiohttp import web
from playwright.async_api import Browser, Page, Route, async_playwright, expect
from qrcode.image.svg import SvgPathImage

from bot.app import create_app
from bot.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 780}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install -y chromium)"
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def snapshot(page: Page, name: str) -> None:
    directory = os.environ.get("CREDITBOT_SCREENSHOT_DIR")
    if directory:
        await page.screenshot(path=str(Path(directory) / f"webchat-{name}.png"))


@pytest.fixture
async def live_url(settings: Settings) -> AsyncIterator[str]:
    """The real service on a real port: links it prints (PDF, QR) must open in the browser."""
    port = _free_port()
    runner = web.AppRunner(create_app(replace(settings, host="127.0.0.1", port=port)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        accept_downloads=True,
    )
    page = await context.new_page()
    yield page
    await context.close()


def _qr_svg(data: str) -> bytes:
    return qrcode.make(data, image_factory=SvgPathImage).to_string()


def _fake_peer(requests: list[dict]) -> tuple:
    """A stand-in for the chat API that answers with one of every reply type.

    It checks how the page renders replies, including types the real dialogs rarely send; the
    real API is driven end to end by the tests below.
    """
    failed_once: set[str] = set()

    async def answer(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        requests.append(body)
        if body.get("text") == "看看所有回复" and body["msg_id"] not in failed_once:
            failed_once.add(body["msg_id"])
            await route.abort("failed")
            return
        replies: list[dict]
        if body.get("text") == "看看所有回复":
            replies = [
                {"type": "text", "text": "好的，下面是各种回复。\n第二行文字。"},
                {"type": "image", "text": "办事指南", "url": "/fake/guide.svg"},
                {"type": "link", "text": "山西省信用信息公示", "url": "https://example.org/credit"},
                {"type": "link", "text": "不安全的链接", "url": "javascript:alert(1)"},
                {
                    "type": "choices",
                    "text": "请选择报告期间：",
                    "options": [
                        {"label": "近一年", "action": "period:1y"},
                        {"label": "近三年", "action": "period:3y"},
                    ],
                    "multi": False,
                },
            ]
        elif body.get("action") == "period:3y":
            replies = [
                {
                    "type": "choices",
                    "text": "请选择要查询的领域：",
                    "options": [
                        {"label": "生态环境", "action": "domain:env"},
                        {"label": "安全生产", "action": "domain:safety"},
                        {"label": "税务", "action": "domain:tax"},
                    ],
                    "multi": True,
                }
            ]
        elif body.get("action") == "domain:env|domain:tax":
            replies = [
                {
                    "type": "report",
                    "text": "报告已生成，可下载或出示二维码供核验。",
                    "report_no": "SX20261126000017K",
                    "pdf_url": "/fake/report.pdf",
                    "verify_url": "/fake/verify",
                    "qr_url": "/fake/qr.svg",
                }
            ]
        else:
            replies = [{"type": "text", "text": f"收到：{body.get('text') or body.get('action')}"}]
        await route.fulfill(json={"replies": replies})

    async def image(route: Route) -> None:
        await route.fulfill(body=_qr_svg(route.request.url), content_type="image/svg+xml")

    return answer, image


async def test_every_reply_type_renders_on_a_phone(live_url: str, phone: Page) -> None:
    requests: list[dict] = []
    answer, image = _fake_peer(requests)
    await phone.route("**/api/chat", answer)
    await phone.route("**/fake/*.svg", image)
    await phone.goto(live_url)
    await expect(phone.get_by_role("heading", name="信用代证助手")).to_be_visible()
    await snapshot(phone, "0-welcome")

    box = phone.get_by_label("输入消息")
    await box.fill("看看所有回复")
    await box.press("Enter")
    log = phone.get_by_role("log")
    await expect(log.get_by_text("第二行文字。", exact=False)).to_be_visible()
    assert requests[0]["msg_id"] == requests[1]["msg_id"], "a failed send is retried with the same msg_id"
    assert requests[0]["user"].startswith("web-") and requests[0]["text"] == "看看所有回复"
    await expect(log.get_by_text("好的，下面是各种回复。", exact=False)).to_have_count(1)
    await expect(log.get_by_role("img", name="办事指南")).to_be_visible()
    link = log.get_by_role("link", name="打开链接：山西省信用信息公示")
    await expect(link).to_have_attribute("href", "https://example.org/credit")
    await expect(log.get_by_role("link", name="打开链接：不安全的链接")).to_have_count(0)
    await snapshot(phone, "1-replies")

    await log.get_by_role("button", name="近三年").click()
    confirm = log.get_by_role("button", name="确定")
    await expect(confirm).to_be_disabled()
    assert requests[-1]["action"] == "period:3y"
    await expect(log.get_by_role("button", name="近一年")).to_be_disabled()
    for label in ("生态环境", "税务"):
        await log.get_by_role("button", name=label).click()
    await expect(log.get_by_role("button", name="税务")).to_have_attribute("aria-pressed", "true")
    await snapshot(phone, "2-chips")
    await confirm.click()
    await expect(log.locator(".msg--user .bubble").last).to_have_text("生态环境、税务")
    card = log.get_by_role("article", name="专项信用报告 SX20261126000017K")
    await expect(card).to_be_visible()
    assert requests[-1]["action"] == "domain:env|domain:tax"
    download, verify = card.get_by_role("link", name="下载PDF"), card.get_by_role("link", name="在线核验")
    await expect(download).to_have_attribute("href", f"{live_url}/fake/report.pdf")
    await expect(verify).to_have_attribute("href", f"{live_url}/fake/verify")
    await card.get_by_role("button", name="二维码").click()
    qr = card.get_by_role("img", name="报告 SX20261126000017K 的核验二维码")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
    await snapshot(phone, "3-report")
    assert len({request["msg_id"] for request in requests}) == len(requests) - 1

    await phone.reload()
    await expect(phone.get_by_role("article", name="专项信用报告 SX20261126000017K")).to_be_visible()
    await phone.get_by_label("输入消息").fill("还在吗")
    await phone.get_by_role("button", name="发送").click()
    await expect(phone.get_by_role("log").get_by_text("收到：还在吗")).to_be_visible()
    assert requests[-1]["user"] == requests[0]["user"], "the anonymous user id survives a reload"
