"""One answer for every failed request: Chinese, in the documented shape, with a request id.

API and JSON clients get `{"error": {"code", "message", "request_id"}}`; browsers get a small
Chinese page. `middleware` sits on the root application, so it also wraps every
sub-application's routes and middlewares, and their unknown paths and methods (aiohttp
resolves those inside the sub-application's prefix). Three places can produce an error, and all
three end here:

- a handler or aiohttp's router raises (unknown route, wrong method, body too large, a bug):
  `middleware` turns it into our answer and logs an unexpected exception once, with its
  traceback and the request id, so a user quoting the id on the page can be found in the log;
- aiohttp answers before any middleware runs (the HTTP parser rejects an over-long URL or
  header, an `Expect` header fails): `LocalizedRequestHandler` replaces aiohttp's English text,
  which would otherwise echo the rejected input back;
- the body guard and the JSON reader refuse a body (see `bot.handlers.request_guard`).

The input is never echoed and never logged: requests can carry ID numbers and phone numbers.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from typing import Any

from aiohttp import web

from bot.handlers.json_replies import json_reply
from core.render import environment

log = logging.getLogger(__name__)

REQUEST_ID = web.RequestKey("request_id", str)
REQUEST_ID_HEADER = "X-Request-Id"

#: status -> (code, page title, message). Messages are written for the person who sees them.
_ANSWERS: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "请求有误", "请求格式不正确，无法处理。"),
    401: ("unauthorized", "需要登录", "请先登录或提供有效的凭据后再试。"),
    403: ("forbidden", "无权访问", "您无权访问该地址。"),
    404: ("not_found", "页面不存在", "您访问的页面或接口不存在，请检查网址是否正确。"),
    405: ("method_not_allowed", "请求方式不受支持", "该地址不支持这种请求方式。"),
    408: ("request_timeout", "请求超时", "请求发送超时，请稍后重试。"),
    411: ("length_required", "缺少内容长度", "请求须注明内容长度（Content-Length）。"),
    413: ("payload_too_large", "内容过大", "请求内容过大，无法处理。"),
    414: ("uri_too_long", "网址过长", "网址过长，无法处理。"),
    415: ("unsupported_media_type", "内容格式不受支持", "不支持该请求内容的格式或编码。"),
    417: ("expectation_failed", "请求无法满足", "不支持请求头 Expect 中的要求。"),
    429: ("rate_limited", "请求过于频繁", "请求过于频繁，请稍后再试。"),
    431: ("headers_too_large", "请求头过大", "请求头过大，无法处理。"),
    500: ("internal_error", "服务暂时出错", "服务器处理请求时出错，我们已记录此问题，请稍后再试。"),
    503: ("unavailable", "服务暂不可用", "服务暂时不可用，请稍后再试。"),
    504: ("timeout", "处理超时", "服务器处理超时，请稍后再试。"),
}

#: What the HTTP parser's refusals mean, by exception class name (aiohttp's text quotes the input).
_PARSER_ANSWERS: dict[str, tuple[str, str]] = {
    "LineTooLong": ("request_too_long", "网址或请求头过长，无法处理。请缩短后重试。"),
}
_PARSER_DEFAULT = ("bad_http_request", "请求不符合 HTTP 规范，无法处理。")

_CHECK_ROUTE = re.compile(r"^/v/[^/]+/check$")
#: Headers of aiohttp's own error response that must not be carried over to ours.
_BODY_HEADERS = {"content-type", "content-length", "content-encoding"}


#: Request ids need to be unique, not secret: a random prefix per process and a counter.
#: (secrets.token_hex per request was a tenth of the event loop's time under load.)
_ID_PREFIX = secrets.token_hex(4)
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


def request_id(request: web.BaseRequest) -> str:
    """The id `middleware` gave this request, or a new one for a request that never reached it."""
    existing = request.get(REQUEST_ID)
    return existing if existing is not None else new_request_id()


def answer_for(status: int) -> tuple[str, str, str]:
    fallback = 500 if status >= 500 else 400
    return _ANSWERS.get(status, _ANSWERS[fallback])


def wants_json(request: web.BaseRequest) -> bool:
    """APIs always get JSON; the upload check follows its own rule (HTML only when asked for)."""
    accept = request.headers.get("Accept", "")
    if request.path.startswith("/api/") or "application/json" in accept:
        return True
    return bool(_CHECK_ROUTE.match(request.path)) and "text/html" not in accept


def error_response(
    request: web.BaseRequest,
    status: int,
    code: str | None = None,
    message: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The one error answer; `code`/`message` default to the status's standard Chinese wording."""
    default_code, title, default_message = answer_for(status)
    code = code or default_code
    message = message or default_message
    rid = request_id(request)
    all_headers = {**(headers or {}), REQUEST_ID_HEADER: rid}
    if wants_json(request):
        body = {"error": {"code": code, "message": message, "request_id": rid}}
        return json_reply(body, status=status, headers=all_headers)
    html = (
        environment()
        .get_template("error.html")
        .render(status=status, title=title, message=message, request_id=rid)
    )
    return web.Response(
        status=status, text=html, content_type="text/html", charset="utf-8", headers=all_headers
    )


def _route(request: web.Request) -> str:
    """The route pattern, never the path itself: a path can carry whatever the client typed."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "-"


def _from_http_exception(request: web.BaseRequest, exc: web.HTTPException) -> web.Response:
    kept = {k: v for k, v in exc.headers.items() if k.lower() not in _BODY_HEADERS}
    return error_response(request, exc.status, headers=kept)


@web.middleware
async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Outermost middleware: gives the request its id and makes every failure our answer."""
    request[REQUEST_ID] = new_request_id()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and other non-errors pass as they are
        return _from_http_exception(request, exc)
    except ConnectionError:
        raise  # the client went away: nobody to answer, nothing wrong with the service
    except Exception:
        log.exception(
            "unhandled error",
            extra={"request_id": request[REQUEST_ID], "method": request.method, "route": _route(request)},
        )
        return error_response(request, 500)
    if not response.prepared:
        response.headers.setdefault(REQUEST_ID_HEADER, request[REQUEST_ID])
    return response


class LocalizedRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, answering in our words where aiohttp would answer itself.

    aiohttp 3.14 writes its own English text (quoting the rejected request line or header) for
    requests its HTTP parser refuses, before any middleware runs, and sends exceptions that
    escape the application as they are. `handle_error` and `finish_response` are the two
    points every such answer passes; `bot.app.ServiceRunner` makes the server use this class.
    """

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # Same rule as aiohttp: half an answer is on the wire, only closing is left.
            raise ConnectionError("response already started, cannot send an error answer")
        rid = new_request_id()
        if status == 500:
            log.error("unhandled error outside the application", exc_info=exc, extra={"request_id": rid})
            code, _, text = answer_for(500)
        elif status == 400:
            code, text = _PARSER_ANSWERS.get(type(exc).__name__, _PARSER_DEFAULT)
            log.warning("malformed HTTP request refused", extra={"request_id": rid, "reason": code})
        else:
            code, _, text = answer_for(status)
        body = {"error": {"code": code, "message": text, "request_id": rid}}
        response = json_reply(body, status=status, headers={REQUEST_ID_HEADER: rid})
        response.force_close()
        return response

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        if isinstance(resp, web.HTTPException) and resp.status >= 400:
            resp = _from_http_exception(request, resp)
        return await super().finish_response(request, resp, start_time)


class LocalizedServer(web.Server):
    """The protocol factory the listening socket calls: it builds `LocalizedRequestHandler`s."""

    @classmethod
    def like(cls, server: web.Server) -> LocalizedServer:
        """The same server (application handler, request factory, settings) with our handler class."""
        return cls(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            **server._kwargs,
        )

    def __call__(self) -> web.RequestHandler:
        return LocalizedRequestHandler(self, loop=self._loop, **self._kwargs)
