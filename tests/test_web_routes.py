"""The sub-applications keep every route's contract; errors inside their prefixes get the one error map."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.config import Settings
from storage.departments import add_department

NOT_FOUND = "您访问的页面或接口不存在，请检查网址是否正确。"
WRONG_METHOD = "该地址不支持这种请求方式。"


@pytest.fixture
async def client(aiohttp_client, settings: Settings, engine: AsyncEngine):
    async with engine.begin() as connection:
        await add_department(connection, "晋城市市场监督管理局", [6, 14], datetime.now(UTC))
    return await aiohttp_client(create_app(replace(settings, demo=False)))


def error(code: str, message: str, request_id: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message, "request_id": request_id}}


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "message"),
    [
        ("GET", "/api/chat", 405, "method_not_allowed", WRONG_METHOD),
        ("POST", "/api/chat/", 404, "not_found", NOT_FOUND),
        ("POST", "/api/chat/more", 404, "not_found", NOT_FOUND),
        # Inside the authenticated prefix, yet answered as what it is, not as "no key".
        ("GET", "/api/v1/dept/records", 405, "method_not_allowed", WRONG_METHOD),
        ("POST", "/api/v1/dept/other", 404, "not_found", NOT_FOUND),
        ("POST", "/api/v1/openapi.json", 405, "method_not_allowed", WRONG_METHOD),
        ("GET", "/api/v1/nope", 404, "not_found", NOT_FOUND),
        ("GET", "/api/v1", 404, "not_found", NOT_FOUND),
        ("GET", "/v/SX1/nope", 404, "not_found", NOT_FOUND),
        ("DELETE", "/v/SX1", 405, "method_not_allowed", WRONG_METHOD),
        ("GET", "/v/SX1/check", 405, "method_not_allowed", WRONG_METHOD),
        ("GET", "/r/SX1.txt", 404, "not_found", NOT_FOUND),
    ],
)
async def test_unknown_paths_and_methods_inside_sub_applications_get_the_one_error_map(
    client, method: str, path: str, status: int, code: str, message: str
) -> None:
    response = await client.request(method, path, headers={"Accept": "application/json"})
    assert response.status == status
    assert await response.json() == error(code, message, response.headers["X-Request-Id"])
    if status == 405:
        assert "Allow" in response.headers


async def test_browsers_get_the_error_page_inside_the_report_prefixes(client) -> None:
    for path in ("/v/SX1/nope", "/r/nope"):
        response = await client.get(path, headers={"Accept": "text/html"})
        assert response.status == 404 and response.content_type == "text/html"
        page = await response.text()
        assert NOT_FOUND in page and response.headers["X-Request-Id"] in page


async def test_every_route_still_answers(client) -> None:
    """Status and type of each route, as before the sub-applications."""
    expected = [
        ("GET", "/", 200, "text/html"),
        ("GET", "/healthz", 200, "application/json"),
        ("GET", "/.well-known/creditbot-keys.json", 200, "application/json"),
        ("GET", "/api/v1/openapi.json", 200, "application/json"),
        ("POST", "/api/v1/dept/records", 401, "application/json"),
        ("POST", "/api/chat", 401, "application/json"),
        ("GET", "/v/SX1", 200, "text/html"),
        ("GET", "/v/SX1?code=ABCDEFGH", 404, "text/html"),
        ("POST", "/v/SX1/check", 400, "application/json"),
        ("GET", "/v/SX1/qr.svg?code=ABCDEFGH", 404, "text/html"),
        ("GET", "/r/SX1.pdf?code=ABCDEFGH", 404, "text/html"),
        ("GET", "/static/chat.js", 200, "application/javascript"),
        ("GET", "/dev/outbox", 404, "text/html"),  # demo mode only
    ]
    for method, path, status, content_type in expected:
        response = await client.request(method, path, headers={"Accept": "text/html"})
        assert (method, path, response.status, response.content_type) == (method, path, status, content_type)
    assert (await (await client.get("/api/v1/openapi.json")).json())["openapi"].startswith("3.")
    assert await (await client.get("/v/SX1", headers={"Accept": "application/json"})).json() == {
        "error": {
            "code": "not_found",
            "message": "未找到该报告，或核验码不正确。请核对报告编号和核验码（见报告首页）。",
        }
    }


async def test_the_rate_limit_holds_only_for_report_holders_routes(client) -> None:
    """One budget per address across /v and /r; keys, OpenAPI and health are never limited."""
    for _ in range(20):  # the burst
        assert (await client.get("/r/SX1.pdf", params={"code": "X"})).status == 404
    limited = await client.get("/v/SX1", params={"code": "X"}, headers={"Accept": "application/json"})
    assert limited.status == 429
    assert await limited.json() == error(
        "rate_limited", "查询过于频繁，请稍后再试。", limited.headers["X-Request-Id"]
    )
    for path in ("/.well-known/creditbot-keys.json", "/api/v1/openapi.json", "/healthz", "/"):
        assert (await client.get(path)).status == 200, path
    assert (await client.post("/api/chat", json={"text": "你好"})).status == 401
