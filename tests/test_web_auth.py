"""One bearer parser for both APIs: the chat and the department API accept and refuse the same headers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.chat_auth import SESSION_KEY_FILE, HmacSessionVerifier
from bot.config import Settings
from bot.handlers.auth import bearer_token
from storage.departments import add_department
from storage.secrets import load_or_create_secret

DEPT = "/api/v1/dept/records"
CHAT = "/api/chat"
MISSING_KEY = {
    "error": {
        "code": "unauthorized",
        "message": "缺少 API 密钥：请在请求头中提供 Authorization: Bearer <密钥>",
    }
}
NO_SESSION = {
    "error": {"code": "unauthorized", "message": "请先登录后再使用对话服务：会话令牌缺失、无效或已过期。"}
}


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),  # missing
        ("", None),
        ("Basic dXNlcjpwYXNz", None),  # another scheme
        ("Token abc", None),
        ("Bearer", None),  # empty value
        ("Bearer ", None),
        ("Bearer    ", None),
        ("Bearerabc", None),  # no separator: another scheme
        ("Bearer abc def", None),  # a bearer token has no spaces inside
        ("Bearer abc", "abc"),
        ("Bearer   abc  ", "abc"),  # extra spaces
        ("  Bearer abc", "abc"),
        ("bearer abc", "abc"),  # the scheme is case-insensitive
        ("BEARER abc", "abc"),
        ("bEaReR abc", "abc"),
        ("Bearer abc=", "abc="),  # token68 padding is part of the token
    ],
)
def test_bearer_token_edge_cases(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


#: Headers and whether they carry the credential (`{}` stands for it).
VARIANTS = [
    ("Bearer {}", True),
    ("bearer {}", True),
    ("BEARER   {}  ", True),
    ("Basic {}", False),
    ("Bearer", False),
    ("Bearer    ", False),
    ("Bearer{}", False),
]


@pytest.fixture
async def dept_client(aiohttp_client, settings: Settings, engine: AsyncEngine):
    async with engine.begin() as connection:
        key = await add_department(connection, "晋城市市场监督管理局", [6, 14], datetime.now(UTC))
    return await aiohttp_client(create_app(replace(settings, demo=False))), key


@pytest.mark.parametrize(("template", "valid"), VARIANTS)
async def test_department_api_reads_the_header_with_the_shared_parser(dept_client, template, valid) -> None:
    client, key = dept_client
    body = {"kind": "penalties", "records": "not a list"}
    response = await client.post(DEPT, json=body, headers={"Authorization": template.format(key)})
    if valid:
        # Past authentication: the body is checked.
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "malformed_body"
    else:
        assert response.status == 401
        assert await response.json() == MISSING_KEY


async def test_department_api_falls_back_to_x_api_key_only_without_a_bearer_token(dept_client) -> None:
    client, key = dept_client
    body = {"kind": "penalties", "records": "not a list"}
    fallback = await client.post(
        DEPT, json=body, headers={"Authorization": "Basic x", "X-Api-Key": f" {key} "}
    )
    assert fallback.status == 400
    wrong_bearer = await client.post(
        DEPT, json=body, headers={"Authorization": "Bearer cbk_wrong", "X-Api-Key": key}
    )
    assert wrong_bearer.status == 401
    assert await wrong_bearer.json() == {"error": {"code": "invalid_key", "message": "API 密钥无效或已停用"}}


@pytest.fixture
async def chat_client(aiohttp_client, tmp_path: Path, db_url: str):
    settings = Settings(data_dir=tmp_path / "prod", database_url=db_url, demo=False, port=0, render_workers=1)
    client = await aiohttp_client(create_app(settings))
    verifier = HmacSessionVerifier(load_or_create_secret(settings.data_dir, SESSION_KEY_FILE))
    return client, verifier.issue("alice", datetime.now(UTC))


@pytest.mark.parametrize(("template", "valid"), VARIANTS)
async def test_chat_api_reads_the_header_with_the_shared_parser(chat_client, template, valid) -> None:
    client, token = chat_client
    response = await client.post(
        CHAT, json={"text": "你好"}, headers={"Authorization": template.format(token)}
    )
    if valid:
        assert response.status == 200
        assert (await response.json())["replies"][0]["type"] == "choices"
    else:
        assert response.status == 401
        assert await response.json() == NO_SESSION


async def test_chat_sessions_are_checked_before_the_body_is_read(chat_client) -> None:
    client, _ = chat_client
    response = await client.post(CHAT, data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status == 401
    assert await response.json() == NO_SESSION
