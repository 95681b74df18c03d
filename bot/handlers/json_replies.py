"""JSON answers shared by every API channel: readable Chinese, one error shape.

Every API error is `{"error": {"code", "message"}}` with a Chinese message, and the JSON keeps
Chinese characters as they are rather than as \\u escapes, so a department's engineer reading
a response in a terminal can understand it.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def _dumps(value: Any) -> str:
    """orjson writes UTF-8 as it is (no \\u escapes), several times faster than the json module."""
    return orjson.dumps(value).decode()


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def json_error(
    code: str, message: str, status: int = 400, headers: dict[str, str] | None = None
) -> web.Response:
    return json_reply({"error": {"code": code, "message": message}}, status=status, headers=headers)
