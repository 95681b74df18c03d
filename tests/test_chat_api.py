"""POST /api/chat over HTTP: the contract, its errors, session tokens outside demo mode, /dev/outbox."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from bot.app import create_app
from bot.appkeys import ENGINE, HASH_SECRET
from bot.chat_auth import SESSION_KEY_FILE, HmacSessionVerifier
from bot.config import Settings
from core.throttle import ThrottleLimits
from storage.secrets import load_or_create_secret
from tests.chat_client import ACME, RIVER, ChatClient, add_businesses, http_sender

REPLY_KEYS = {
    "text": {"type", "text"},
    "choices": {"type", "text", "options", "multi"},
    "report": {"type", "text", "report_no", "pdf_url", "verify_url", "qr_url"},
    "image": {"type", "text", "url"},
    "link": {"type", "text", "url"},
}


def _check_contract(replies: list[dict[str, Any]]) -> None:
    for reply in replies:
        assert set(reply) == REPLY_KEYS[reply["type"]], reply
        if reply["type"] == "choices":
            assert isinstance(reply["multi"], bool)
            assert all(set(option) == {"label", "action"} for option in reply["options"])


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
async def client(aiohttp_client, settings: Settings):
    app = create_app(settings)
    client = await aiohttp_client(app)
    await add_businesses(app[ENGINE], app[HASH_SECRET], ACME)
    return client


async def test_the_whole_journey_over_http(client) -> None:
    sent: list[list[dict[str, Any]]] = []
    send = http_sender(client)

    async def checked(request: dict[str, Any]) -> list[dict[str, Any]]:
        replies = await send(request)
        _check_contract(replies)
        sent.append(replies)
        return replies

    chat = ChatClient(checked, "web-user-1")
    (await chat.say("帮我开近一年税务的信用报告")).says("统一社会信用代码")
    await chat.say(ACME.uscc)
    await chat.tap("是")
    await chat.say(ACME.legal_rep)
    (await chat.say(ACME.id_tail)).says("138****1234")
    outbox = await (await client.get("/dev/outbox", params={"user": chat.user})).json()
    message = outbox["messages"][-1]
    assert message["phone"] == "138****1234" and ACME.phone not in str(outbox)
    code = re.search(r"\d{6}", message["text"]).group(0)
    (await chat.say(code)).says("身份核验成功", "请确认报告信息", "领域：税务")
    report = (await chat.tap("确认开具")).report()
    pdf = await client.get(_path(report["pdf_url"]))
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF")
    qr = await client.get(_path(report["qr_url"]))
    assert qr.status == 200 and qr.content_type == "image/svg+xml"
    verify = await client.get(_path(report["verify_url"]), headers={"Accept": "application/json"})
    assert (await verify.json())["valid"] is True


async def test_outbox_is_narrowed_to_the_users_own_verification(client) -> None:
    owner = ChatClient(http_sender(client), "owner")
    await owner.say(ACME.uscc)
    await owner.tap("是")
    await owner.say(ACME.legal_rep)
    await owner.say(ACME.id_tail)
    mine = await (await client.get("/dev/outbox", params={"user": "owner"})).json()
    theirs = await (await client.get("/dev/outbox", params={"user": "someone-else"})).json()
    assert len(mine["messages"]) == 1 and theirs["messages"] == []


async def test_multi_select_payload_over_http(client) -> None:
    chat = ChatClient(http_sender(client), "web-user-2")
    await chat.say(ACME.uscc)
    await chat.tap("是")
    await chat.say(ACME.legal_rep)
    await chat.say(ACME.id_tail)
    outbox = await (await client.get("/dev/outbox", params={"user": chat.user})).json()
    await chat.say(re.search(r"\d{6}", outbox["messages"][-1]["text"]).group(0))
    await chat.say("开报告")
    await chat.say("近一年")
    (await chat.act("domain:13|domain:5")).says_line("领域：生态环境、税务")


async def test_message_id_over_http(client) -> None:
    chat = ChatClient(http_sender(client), "web-user-3")
    first = await chat.say("你好", msg_id="abc")
    assert await chat.say("你好", msg_id="abc") == first


MALFORMED = [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_request"),
    ('{"text": "你好"}', "missing_user"),
    ('{"user": 5, "text": "你好"}', "invalid_user"),
    ('{"user": "' + "u" * 129 + '", "text": "你好"}', "invalid_user"),
    ('{"user": "u"}', "invalid_message"),
    ('{"user": "u", "text": "你好", "action": "help"}', "invalid_message"),
    ('{"user": "u", "text": ""}', "invalid_text"),
    ('{"user": "u", "text": "' + "字" * 2001 + '"}', "invalid_text"),
    ('{"user": "u", "action": 3}', "invalid_action"),
    ('{"user": "u", "text": "你好", "msg_id": 7}', "invalid_msg_id"),
]


async def test_malformed_requests_get_400_with_a_chinese_message(client) -> None:
    for body, code in MALFORMED:
        response = await client.post("/api/chat", data=body, headers={"Content-Type": "application/json"})
        assert response.status == 400, body
        error = (await response.json())["error"]
        assert error["code"] == code, body
        assert re.search(r"[\u4e00-\u9fff]", error["message"])


@pytest.fixture
async def production(aiohttp_client, tmp_path: Path, db_url: str):
    settings = Settings(data_dir=tmp_path / "prod", database_url=db_url, demo=False, port=0, render_workers=1)
    app: web.Application = create_app(settings)
    client = await aiohttp_client(app)
    verifier = HmacSessionVerifier(load_or_create_secret(settings.data_dir, SESSION_KEY_FILE))
    return client, verifier


async def test_outside_demo_mode_a_session_token_is_required(production) -> None:
    client, verifier = production
    response = await client.post("/api/chat", json={"user": "anyone", "text": "你好"})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    now = datetime.now(UTC)
    for token in (
        "garbage",
        verifier.issue("alice", now - timedelta(hours=3)),
        verifier.issue("alice", now) + "0",
    ):
        response = await client.post(
            "/api/chat", json={"text": "你好"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == 401
    token = verifier.issue("alice", now)
    response = await client.post(
        "/api/chat", json={"user": "mallory", "text": "你好"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 200
    assert (await response.json())["replies"][0]["type"] == "choices"
    assert (await client.get("/dev/outbox")).status == 404


def test_session_tokens_round_trip_and_resist_tampering() -> None:
    verifier = HmacSessionVerifier(b"k" * 32)
    now = datetime.now(UTC)
    token = verifier.issue("用户-42", now)
    assert verifier.user_for(token, now) == "用户-42"
    assert verifier.user_for(token, now + timedelta(hours=3)) is None
    assert HmacSessionVerifier(b"x" * 32).user_for(token, now) is None
    encoded, expiry, mac = token.split(".")
    assert verifier.user_for(f"{encoded}.{int(expiry) + 9999}.{mac}", now) is None


async def test_code_limits_count_the_client_address_the_server_sees(
    aiohttp_client, settings: Settings
) -> None:
    app = create_app(dataclasses.replace(settings, limits=ThrottleLimits(codes_per_client_hour=1)))
    client = await aiohttp_client(app)
    await add_businesses(app[ENGINE], app[HASH_SECRET], ACME, RIVER)
    send = http_sender(client)
    for user, business, expected in (("a", ACME, "验证码已发送至"), ("b", RIVER, "验证码发送次数过多")):
        chat = ChatClient(send, f"user-{user}")
        await chat.say("绑定企业")
        await chat.say(business.uscc)
        await chat.tap("是")
        await chat.say(business.legal_rep)
        (await chat.say(business.id_tail)).says(expected)
