"""The web chat page driven in Debian's headless Chromium at a phone viewport.

Set CREDITBOT_SCREENSHOT_DIR to keep screenshots of each step for a look at the design.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import qrcode
from aiohttp import web
from playwright.async_api import Browser, Page, Route, async_playwright, expect
from pypdf import PdfReader
from qrcode.image.svg import SvgPathImage
from sqlalchemy import func, select

from bot.app import create_app
from bot.appkeys import ENGINE
from bot.config import Settings
from storage.demo import DEMO_ENTITIES
from storage.models import IssuedReport

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


@dataclass(frozen=True)
class Live:
    url: str
    app: web.Application


@asynccontextmanager
async def _serve(settings: Settings) -> AsyncIterator[Live]:
    """The real service on a real port: the links it prints must open in the browser."""
    port = _free_port()
    app = create_app(replace(settings, host="127.0.0.1", port=port, demo_entities=len(DEMO_ENTITIES)))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Live(f"http://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Live]:
    """Demo mode, which loads the demo businesses and trusts the page's anonymous user id."""
    async with _serve(settings) as server:
        yield server


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
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    yield page
    await context.close()
    assert not script_errors, f"the page's script failed: {script_errors}"


def _qr_svg(data: str) -> bytes:
    return qrcode.make(data, image_factory=SvgPathImage).to_string()


RouteHandler = Callable[[Route], Awaitable[None]]


def _fake_peer(requests: list[dict]) -> tuple[RouteHandler, RouteHandler]:
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


async def test_every_reply_type_renders_on_a_phone(live: Live, phone: Page) -> None:
    live_url = live.url
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
    kept = await phone.evaluate("() => Object.keys(localStorage)")
    assert kept == ["creditbot.user"], "what was typed stays in the tab, not on the phone"


async def test_a_message_that_never_gets_through_can_be_sent_again(live: Live, phone: Page) -> None:
    attempts: list[dict] = []
    network_down = True

    async def unreachable(route: Route) -> None:
        attempts.append(json.loads(route.request.post_data or "{}"))
        if network_down:
            await route.abort("internetdisconnected")
        else:
            await route.fulfill(json={"replies": [{"type": "text", "text": "收到，网络恢复了。"}]})

    await phone.clock.install()
    await phone.route("**/api/chat", unreachable)
    await phone.goto(live.url)
    await _send(phone, "你好")
    failed = phone.get_by_text("网络不稳定，消息未送达。")
    for _ in range(20):
        if await failed.is_visible():
            break
        await phone.clock.run_for(3_000)
    await expect(failed).to_be_visible()
    assert len(attempts) == 6, "the first try and five retries, then the page gives up"

    network_down = False
    await phone.get_by_role("button", name="重新发送").click()
    await expect(phone.get_by_role("log").get_by_text("收到，网络恢复了。")).to_be_visible()
    await expect(failed).to_have_count(0)
    assert {attempt["msg_id"] for attempt in attempts} == {attempts[0]["msg_id"]}
    assert len(attempts) == 7


async def _send(page: Page, text: str) -> None:
    await page.get_by_label("输入消息").fill(text)
    await page.get_by_role("button", name="发送").click()


async def _bot_says(page: Page, fragment: str) -> None:
    await expect(page.locator(".msg--bot").last).to_contain_text(fragment, timeout=30_000)


async def _issued_reports(app: web.Application) -> int:
    async with app[ENGINE].connect() as conn:
        return (await conn.execute(select(func.count()).select_from(IssuedReport.__table__))).scalar_one()


async def test_from_the_first_message_to_a_downloaded_report(live: Live, phone: Page) -> None:
    owner = DEMO_ENTITIES[1]
    log = phone.get_by_role("log")
    await phone.goto(live.url)

    box = phone.get_by_label("输入消息")
    await box.fill("我要开信用报告")
    await box.press("Enter")
    await _bot_says(phone, "统一社会信用代码")
    await _send(phone, owner.uscc)
    await _bot_says(phone, f"找到企业：{owner.name}")
    await log.get_by_role("button", name="是", exact=True).click()
    await _bot_says(phone, "法定代表人的姓名")
    await _send(phone, owner.legal_rep)
    await _bot_says(phone, "后6位")
    await _send(phone, owner.id_last6)
    masked = f"{owner.phone[:3]}****{owner.phone[-4:]}"
    await _bot_says(phone, masked)

    sms = phone.locator("#demo-sms .sms").first
    await expect(sms).to_contain_text(f"发往 {masked}")
    await snapshot(phone, "4-code")
    await sms.get_by_role("button", name=re.compile("填入输入框")).click()
    await expect(box).to_have_value(re.compile(r"^\d{6}$"))
    await box.press("Enter")
    await _bot_says(phone, "报告涵盖的时间")
    await expect(log.get_by_text("身份核验成功", exact=False)).to_be_visible()

    await log.get_by_role("button", name="近三年", exact=True).click()
    await _bot_says(phone, "多选")
    await log.get_by_role("button", name=re.compile("展开全部")).click()
    chosen = ("生态环境", "应急管理（安全生产）", "税务")
    for label in chosen:
        await log.get_by_role("button", name=label, exact=True).click()
    await snapshot(phone, "5-domains")
    await log.get_by_role("button", name="确定（3）").click()
    await _bot_says(phone, "请确认报告信息")
    summary = phone.locator(".msg--bot").last
    await expect(summary).to_contain_text("领域：" + "、".join(chosen))
    await expect(summary).to_contain_text(re.compile(r"期间：\d{4}-\d\d-\d\d 至 \d{4}-\d\d-\d\d"))

    # The confirmation reaches the server but its answer is lost on the way back: the page sends
    # it again with the same msg_id and must get the same report, not a second one.
    sent: list[dict] = []

    async def lose_first_answer(route: Route) -> None:
        sent.append(json.loads(route.request.post_data or "{}"))
        if len(sent) == 1:
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await phone.route("**/api/chat", lose_first_answer)
    await log.get_by_role("button", name="确认开具").click()
    typing = phone.get_by_role("status").filter(has_text="助手正在输入")
    await expect(typing).to_be_visible()
    card = log.get_by_role("article", name=re.compile("专项信用报告 SX"))
    await expect(card).to_be_visible(timeout=60_000)
    await expect(typing).to_be_hidden()
    await phone.unroute("**/api/chat")
    assert [request["msg_id"] for request in sent] == [sent[0]["msg_id"]] * 2
    await expect(card).to_have_count(1)
    assert await _issued_reports(live.app) == 1
    report_no = (await card.get_attribute("aria-label") or "").split()[-1]

    await card.get_by_role("button", name="二维码").click()
    qr = card.get_by_role("img", name=f"报告 {report_no} 的核验二维码")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
    verify = card.get_by_role("link", name="在线核验")
    await expect(verify).to_have_attribute("href", re.compile(rf"^{live.url}/v/{report_no}\?code="))
    await snapshot(phone, "6-report")

    async with phone.expect_download() as downloading:
        await card.get_by_role("link", name="下载PDF").click()
    download = await downloading.value
    pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert owner.name in text and report_no in text


async def test_a_rejected_message_gets_a_polite_answer_and_the_chat_goes_on(live: Live, phone: Page) -> None:
    sent: list[str] = []

    async def corrupt_first(route: Route) -> None:
        sent.append(route.request.post_data or "")
        if len(sent) == 1:
            await route.continue_(post_data="{")
        else:
            await route.continue_()

    await phone.route("**/api/chat", corrupt_first)
    await phone.goto(live.url)
    await _send(phone, "我要开信用报告")
    error = phone.locator(".msg--error")
    await expect(error).to_contain_text("抱歉，这条消息没能处理：请求内容不是有效的JSON")
    await snapshot(phone, "7-error")
    await _send(phone, "我要开信用报告")
    await _bot_says(phone, "统一社会信用代码")
    assert len(sent) == 2, "a 400 is shown, not retried"
    await expect(error).to_have_count(1)


async def test_outside_demo_mode_the_page_asks_to_log_in(settings: Settings, phone: Page) -> None:
    async with _serve(replace(settings, demo=False)) as server:
        await phone.goto(server.url)
        await expect(phone.get_by_text("短信不会真实发送")).to_have_count(0)
        await _send(phone, "我要开信用报告")
        await expect(phone.locator(".msg--error")).to_contain_text("抱歉，请先登录后再使用对话服务")
