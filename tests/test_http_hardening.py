"""Hostile and broken requests through the real server: each gets its 4xx in Chinese, never a 500."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import serve
from bot.config import Settings
from bot.handlers import errors
from tests.served_app import CHAT, DEPT, Served, raw_request, served_app

JSON = {"Content-Type": "application/json"}
NOT_JSON_CHAT = ("invalid_json", "请求内容不是有效的JSON。")
NOT_JSON_DEPT = ("malformed_json", "请求体不是合法的 JSON")
TOO_DEEP = ("json_too_deep", "JSON 嵌套层级过多：最多允许 32 层。")
TOO_BIG = ("number_too_large", "JSON 中的数字过大：整数最多 18 位（绝对值须小于 10 的 18 次方）。")
NUL = ("invalid_characters", "请求中的文字含有空字符（\\u0000），无法处理，请删除后重试。")
COMPRESSED = ("unsupported_encoding", "不接受压缩的请求内容（Content-Encoding），请直接发送未压缩的内容。")
MALFORMED_UPLOAD = ("malformed_upload", "上传的表单不完整或格式有误，请重新选择 PDF 文件上传。")
TOO_LONG = ("request_too_long", "网址或请求头过长，无法处理。请缩短后重试。")
NOT_HTTP = ("bad_http_request", "请求不符合 HTTP 规范，无法处理。")
NOT_FOUND = ("not_found", "您访问的页面或接口不存在，请检查网址是否正确。")
INTERNAL = ("internal_error", "服务器处理请求时出错，我们已记录此问题，请稍后再试。")
UPLOAD = "/v/RPT20240101000001/check"
MULTIPART = {"Content-Type": "multipart/form-data; boundary=b"}


def too_large(size: str) -> tuple[str, str]:
    return ("payload_too_large", f"请求内容过大：此接口每次最多接收 {size}，请减小后重试。")


@pytest.fixture
async def served(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Served]:
    async with served_app(settings, engine) as served:
        yield served


async def assert_error(response: aiohttp.ClientResponse, status: int, expected: tuple[str, str]) -> None:
    assert response.status == status
    error = (await response.json())["error"]
    assert (error["code"], error["message"]) == expected
    if "request_id" in error:
        assert error["request_id"] == response.headers["X-Request-Id"]


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def chat_body(value: str) -> str:
    return '{"user": "u1", "text": ' + value + "}"


def dept_body(value: str) -> str:
    return '{"kind": "penalties", "records": [{"违法事实": ' + value + "}]}"


BOTH_APIS = [(CHAT, chat_body, NOT_JSON_CHAT), (DEPT, dept_body, NOT_JSON_DEPT)]


@pytest.mark.parametrize(("route", "wrap", "not_json"), BOTH_APIS)
async def test_json_rules_hold_for_both_apis(served: Served, route, wrap, not_json) -> None:
    headers = served.dept_headers if route == DEPT else JSON
    cases: list[tuple[str, tuple[str, str]]] = [
        (wrap(nested(32)), TOO_DEEP),  # with the body object around it: 33 levels at least
        (nested(5000), TOO_DEEP),  # past orjson's own limit of 1,024
        (wrap("1234567890123456789"), TOO_BIG),  # 19 digits
        (wrap("-1000000000000000000"), TOO_BIG),
        (wrap("1" + "0" * 5000), TOO_BIG),  # the standard library refuses over 4,300 digits with a 500
        (wrap("1e999"), TOO_BIG),
        (wrap("1.5e18"), TOO_BIG),
        (wrap('"a\\u0000b"'), NUL),
        (wrap('"\\ud800"'), not_json),
        (wrap('"\\udfff\\ud800"'), not_json),
        (wrap('"x\\ud83d"'), not_json),
        (wrap("NaN"), not_json),
        ("", not_json),
    ]
    for body, expected in cases:
        response = await served.session.post(route, data=body, headers=headers)
        await assert_error(response, 400, expected)


@pytest.mark.parametrize(("route", "wrap", "not_json"), BOTH_APIS)
async def test_raw_bytes_that_are_not_utf8_are_not_json(served: Served, route, wrap, not_json) -> None:
    headers = served.dept_headers if route == DEPT else JSON
    for raw in (b"\xed\xa0\x80", b"\xff\xfe", b"\xc3"):  # a UTF-8 surrogate, not UTF-8, cut short
        body = wrap('"@@"').encode().replace(b"@@", raw)
        await assert_error(await served.session.post(route, data=body, headers=headers), 400, not_json)


async def test_limits_are_inclusive(served: Served) -> None:
    """32 levels and 18 digits pass the reader, so the chat's own field check answers."""
    invalid_text = ("invalid_text", "消息内容（text）应为不超过2000字的非空文字。")
    for value in (nested(31), "999999999999999999", "-999999999999999999", "9.9e17"):
        body = chat_body(value)  # the body object is the first level
        await assert_error(await served.session.post(CHAT, data=body, headers=JSON), 400, invalid_text)


async def test_lone_surrogates_anywhere_in_a_chat_message(served: Served) -> None:
    for body in (
        '{"user": "\\ud800", "text": "你好"}',
        '{"user": "u1", "text": "你好\\udc00"}',
        '{"user": "u1", "action": "domain:\\ud800"}',
        '{"user": "u1", "text": "你好", "msg_id": "\\ud800"}',
        '{"user": "u1", "text": "你好", "\\ud800": 1}',
    ):
        await assert_error(await served.session.post(CHAT, data=body, headers=JSON), 400, NOT_JSON_CHAT)


async def test_lone_surrogates_anywhere_in_a_department_batch(served: Served) -> None:
    for body in (
        '{"kind": "\\ud800", "records": [{}]}',
        '{"kind": "penalties", "records": [{"\\ud800": "x"}]}',
        '{"kind": "penalties", "records": [{"违法事实": "\\udbff"}]}',
        '{"kind": "penalties", "\\ud800": 1, "records": [{}]}',
    ):
        response = await served.session.post(DEPT, data=body, headers=served.dept_headers)
        await assert_error(response, 400, NOT_JSON_DEPT)


async def test_broken_multipart_uploads(served: Served) -> None:
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="r.pdf"\r\n\r\n'
    cases = [
        ({"Content-Type": "multipart/form-data"}, part + b"%PDF\r\n--b--\r\n"),  # no boundary
        ({"Content-Type": "multipart/form-data; boundary=" + "x" * 71}, b"--x\r\n"),  # too long
        (MULTIPART, b""),
        (MULTIPART, b"%PDF-1.7 not a form"),
        (MULTIPART, part + b"%PDF-1.7 truncated"),
        (MULTIPART, part + b"%PDF-1.7\r\n--b\r\n"),  # no closing boundary
        (MULTIPART, b"--b\r\nContent-Disposition: form-da"),  # cut inside the part headers
        (MULTIPART, b"--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\n"),
        (MULTIPART, b"--b\r\nno colon here\r\n\r\nx\r\n--b--\r\n"),
    ]
    for headers, body in cases:
        response = await served.session.post(UPLOAD, data=body, headers=headers)
        await assert_error(response, 400, MALFORMED_UPLOAD)


async def test_bodies_over_the_route_limit_get_413_before_they_are_read(served: Served) -> None:
    for route, size, limit in ((CHAT, "64 KB", 64 * 1024), (DEPT, "32 MB", 32 * 1024 * 1024)):
        head = (
            f"POST {route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {served.dept_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n"
        )
        response = await raw_request(served, head.encode())  # the body is never sent
        assert response.status == 413
        assert response.json()["error"]["code"] == too_large(size)[0]
        assert response.json()["error"]["message"] == too_large(size)[1]
    head = f"POST {UPLOAD} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    response = await raw_request(served, f"{head}Content-Length: {20 * 1024 * 1024 + 1}\r\n\r\n".encode())
    assert response.status == 413
    assert (response.json()["error"]["code"], response.json()["error"]["message"]) == too_large("20 MB")


async def chunks(*parts: bytes, repeat: bytes = b"", times: int = 0) -> AsyncIterator[bytes]:
    """A body without Content-Length: aiohttp sends an async iterator chunked."""
    yield parts[0]
    for _ in range(times):
        yield repeat
    for rest in parts[1:]:
        yield rest


async def test_chunked_bodies_are_cut_off_at_the_route_limit(served: Served) -> None:
    body = chunks(b'{"user": "u1", "text": "', b'"}', repeat=b"x" * 1024, times=65)
    await assert_error(await served.session.post(CHAT, data=body, headers=JSON), 413, too_large("64 KB"))
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="r.pdf"\r\n\r\n%PDF'
    upload = chunks(part, b"\r\n--b--\r\n", repeat=b"\0" * (1024 * 1024), times=21)
    response = await served.session.post(UPLOAD, data=upload, headers=MULTIPART)
    await assert_error(response, 413, too_large("20 MB"))
    other_part = b'--b\r\nContent-Disposition: form-data; name="comment"\r\n\r\n'
    upload = chunks(other_part, b"\r\n--b--\r\n", repeat=b"\0" * (1024 * 1024), times=21)
    response = await served.session.post(UPLOAD, data=upload, headers=MULTIPART)
    await assert_error(response, 413, too_large("20 MB"))


async def test_a_big_department_batch_is_within_its_own_limit(served: Served) -> None:
    """100 KB is over the chat's limit but not the department API's: the limits are per route."""
    body = dept_body('"' + "违" * 35_000 + '"')
    response = await served.session.post(DEPT, data=body, headers=served.dept_headers)
    assert response.status == 200
    assert (await response.json())["summary"]["rejected"] == 1


async def test_a_gzip_bomb_is_refused_without_being_inflated(served: Served) -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)
    assert len(bomb) < 20_000
    for route, headers in ((CHAT, JSON), (DEPT, served.dept_headers), (UPLOAD, MULTIPART)):
        for encoding in ("gzip", "deflate", "br", "GZIP, identity"):
            response = await served.session.post(
                route, data=bomb, headers={**headers, "Content-Encoding": encoding}
            )
            await assert_error(response, 415, COMPRESSED)
    response = await served.session.post(
        CHAT, data='{"user": "u1", "text": "你好"}', headers={**JSON, "Content-Encoding": "identity"}
    )
    assert response.status == 200


async def test_malformed_http_gets_chinese_json_from_the_server_itself(served: Served) -> None:
    cases = [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", TOO_LONG),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n", TOO_LONG),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 200 + b"\r\n", NOT_HTTP),  # too many
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", NOT_HTTP),  # TLS to a plain port
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", NOT_HTTP),
        (b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", NOT_HTTP),
    ]
    for request, (code, message) in cases:
        response = await raw_request(served, request)
        assert response.status == 400, request[:40]
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        error = response.json()["error"]
        assert (error["code"], error["message"]) == (code, message)
        assert error["request_id"] == response.headers["x-request-id"]
        assert b"aaaa" not in response.body  # aiohttp's own text quotes the rejected line


async def test_an_unknown_expect_header_gets_chinese_json(served: Served) -> None:
    response = await raw_request(
        served, b"POST /api/chat HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert response.status == 417
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("expectation_failed", "不支持请求头 Expect 中的要求。")


async def test_a_nul_character_in_the_url_gets_400(served: Served) -> None:
    """PostgreSQL cannot compare text holding U+0000: `/dev/outbox?user=%00` was a 500 there."""
    expected = ("invalid_url", "网址中含有空字符（%00），请检查网址是否正确。")
    for url in (
        "/dev/outbox?user=%00",
        "/v/%00",
        "/v/RPT20240101000001?code=%00",
        "/v/RPT20240101000001/qr.svg?code=A%00",
        "/r/RPT20240101000001.pdf?code=%00",
        "/api/nope?x=%00",
    ):
        response = await served.session.get(url, headers={"Accept": "application/json"})
        await assert_error(response, 400, expected)
    page = await served.session.get("/v/%00?code=x", headers={"Accept": "text/html"})
    assert page.status == 400 and expected[1] in await page.text()


async def test_unknown_routes_and_methods(served: Served) -> None:
    await assert_error(await served.session.get("/api/nope"), 404, NOT_FOUND)
    response = await served.session.get("/nope", headers={"Accept": "application/json"})
    await assert_error(response, 404, NOT_FOUND)
    response = await served.session.put(CHAT)
    await assert_error(response, 405, ("method_not_allowed", "该地址不支持这种请求方式。"))
    assert response.headers["Allow"] == "POST"
    page = await served.session.get("/nope", headers={"Accept": "text/html"})
    assert page.status == 404 and page.content_type == "text/html"
    html = await page.text()
    assert "页面不存在" in html and NOT_FOUND[1] in html
    assert f'请求编号：<span class="mono">{page.headers["X-Request-Id"]}</span>' in html
    health = await served.session.get("/healthz")
    assert health.status == 200 and len(health.headers["X-Request-Id"]) == 16


async def test_healthz_answers_while_an_upload_is_hashed(served: Served) -> None:
    halfway = asyncio.Event()
    resume = asyncio.Event()

    async def slow_upload() -> AsyncIterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="r.pdf"\r\n\r\n%PDF'
        for _ in range(8):
            yield b"\0" * (1024 * 1024)
        halfway.set()
        await resume.wait()
        for _ in range(8):
            yield b"\0" * (1024 * 1024)
        yield b"\r\n--b--\r\n"

    upload = asyncio.create_task(served.session.post(UPLOAD, data=slow_upload(), headers=MULTIPART))
    await halfway.wait()
    health = await served.session.get("/healthz")
    assert health.status == 200 and await health.json() == {"status": "ok"}
    assert not upload.done()
    resume.set()
    response = await upload
    assert response.status == 200
    assert (await response.json())["match"] is False


async def test_an_unexpected_exception_is_answered_and_logged_once(caplog) -> None:
    """A handler that fails (a stand-in for any bug) behind the real middleware and server."""

    async def failing(request: web.Request) -> web.Response:
        await request.read()
        raise RuntimeError("boom")

    app = web.Application(middlewares=[errors.middleware])
    app.router.add_post("/api/fail", failing)
    app.router.add_get("/page", failing)
    ready: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(app, "127.0.0.1", 0, ready.set_result, handle_signals=False))
    host, port = (await ready)[0][:2]
    try:
        async with aiohttp.ClientSession(base_url=f"http://{host}:{port}") as session:
            with caplog.at_level(logging.INFO):
                response = await session.post("/api/fail", data="手机 13812345678")
                await assert_error(response, 500, INTERNAL)
                page = await session.get("/page", headers={"Accept": "text/html"})
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    request_id = response.headers["X-Request-Id"]
    failures = [r for r in caplog.records if r.exc_info]
    assert len(failures) == 2
    assert failures[0].name == "bot.handlers.errors" and failures[0].request_id == request_id
    assert failures[0].exc_info[0] is RuntimeError
    assert "13812345678" not in caplog.text
    assert page.status == 500 and "服务暂时出错" in await page.text()
    assert page.headers["X-Request-Id"] == failures[1].request_id


async def test_a_failure_outside_the_application_is_answered_in_chinese(caplog) -> None:
    """An exception escaping every middleware reaches the connection handler, which answers too."""

    async def failing(_request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    app = web.Application()
    app.router.add_get("/api/fail", failing)
    ready: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(app, "127.0.0.1", 0, ready.set_result, handle_signals=False))
    host, port = (await ready)[0][:2]
    try:
        async with aiohttp.ClientSession(base_url=f"http://{host}:{port}") as session:
            response = await session.get("/api/fail")
            await assert_error(response, 500, INTERNAL)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1 and logged[0].request_id == response.headers["X-Request-Id"]
