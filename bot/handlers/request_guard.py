"""What every request must satisfy before a handler sees it: a clean URL, a bounded, plain body.

A URL may not carry a NUL character (`%00`): no address of ours has one, and PostgreSQL cannot
compare text containing it, so a report number or code holding one would fail as a 500.


A chat message needs a few kilobytes, a department batch of 10,000 records some megabytes and
an uploaded report PDF up to 20 MB; one application-wide limit would let anyone send 20 MB to
the chat. Each route therefore gets its own limit (`limit_body`, on the application, root or
sub-application, that holds the route); everything else gets `DEFAULT_LIMIT`. aiohttp itself
sizes every request by the root application's `client_max_size`, whatever sub-application
it reaches, so a sub-application's own `client_max_size` would be silently ignored.
A declared `Content-Length` over the limit is refused at once, before a byte is read; a chunked
body is cut off as soon as it passes the limit (`Request.read` enforces the request's
`client_max_size`, which this middleware sets per route).

Compressed bodies are refused (415), not inflated: ten kilobytes of gzip can expand to
gigabytes. The application also turns aiohttp's automatic request decompression off
(`auto_decompress=False` in `bot.app`), so no decompressor ever runs on a request body.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.handlers.errors import error_response

DEFAULT_LIMIT = 64 * 1024

_LIMITS = web.AppKey("body_limits", dict[web.AbstractResource, int])


def limit_body(app: web.Application, route: web.AbstractRoute, max_bytes: int) -> None:
    """Allow bodies up to `max_bytes` on `route`, which `app`'s router returned.

    Keyed by the resource itself, not its path: a sub-application's paths change when it is
    mounted under its prefix.
    """
    assert route.resource is not None
    app.setdefault(_LIMITS, {})[route.resource] = max_bytes


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    return f"{size / 1024:g} KB"


def too_large(request: web.BaseRequest, limit: int) -> web.Response:
    return error_response(
        request,
        413,
        "payload_too_large",
        f"请求内容过大：此接口每次最多接收 {human_size(limit)}，请减小后重试。",
    )


def _limit(request: web.Request) -> int:
    resource = request.match_info.route.resource
    if resource is None:
        return DEFAULT_LIMIT
    # Not `request.config_dict`: in this root middleware it holds only the root application.
    for app in request.match_info.apps:
        if resource in app.get(_LIMITS, {}):
            return app[_LIMITS][resource]
    return DEFAULT_LIMIT


@web.middleware
async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if "\x00" in request.path or "\x00" in request.query_string:
        return error_response(request, 400, "invalid_url", "网址中含有空字符（%00），请检查网址是否正确。")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        return error_response(
            request,
            415,
            "unsupported_encoding",
            "不接受压缩的请求内容（Content-Encoding），请直接发送未压缩的内容。",
        )
    limit = _limit(request)
    declared = request.content_length
    if declared is not None and declared > limit:
        return too_large(request, limit)
    if limit != request.client_max_size:
        request = request.clone(client_max_size=limit)
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return too_large(request, limit)
