"""The one reader of JSON request bodies: strict parsing plus the limits our storage can bear.

Every API that takes JSON (`/api/chat`, the department API) reads its body here, so a hostile
body gets the same 400 everywhere instead of a 500 from somewhere deep inside:

- strict JSON in UTF-8 (orjson): no lone surrogates, raw or escaped (`"\\ud800"`), no BOM, no
  NaN/Infinity, no trailing garbage; whatever PostgreSQL and the PDF renderer cannot encode
  never gets in;
- at most `MAX_DEPTH` levels of nesting (our documents need three; the standard library
  parser recurses and fails with RecursionError on deep input);
- numbers below 10^18 in magnitude, i.e. integers of at most `MAX_INTEGER_DIGITS` digits
  (they fit a BIGINT; orjson silently turns longer integers into imprecise floats, so the
  same bound holds for floats);
- no NUL character in any string or key: PostgreSQL text cannot hold U+0000.

The size of the body is bounded before it is read (`bot.handlers.request_guard`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from bot.handlers.json_replies import json_error

MAX_DEPTH = 32
MAX_INTEGER_DIGITS = 18
_NUMBER_BOUND = 10**MAX_INTEGER_DIGITS
#: Parse bigger bodies in a thread, so that a department batch does not stall the chat.
_THREAD_THRESHOLD = 256 * 1024

TOO_DEEP = ("json_too_deep", f"JSON 嵌套层级过多：最多允许 {MAX_DEPTH} 层。")
NUMBER_TOO_LARGE = (
    "number_too_large",
    f"JSON 中的数字过大：整数最多 {MAX_INTEGER_DIGITS} 位（绝对值须小于 10 的 {MAX_INTEGER_DIGITS} 次方）。",
)
NUL_CHARACTER = ("invalid_characters", "请求中的文字含有空字符（\\u0000），无法处理，请删除后重试。")


class JsonBodyError(Exception):
    """A body we refuse, with the API error (code, Chinese message) to answer it with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        return json_error(self.code, self.message, status=400)


async def read_json(request: web.Request, *, malformed: tuple[str, str]) -> Any:
    """The parsed body; `malformed` is the API's own (code, message) for text that is not JSON."""
    raw = await request.read()
    if len(raw) > _THREAD_THRESHOLD:
        return await asyncio.to_thread(parse_json, raw, malformed)
    return parse_json(raw, malformed)


def parse_json(raw: bytes, malformed: tuple[str, str]) -> Any:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise JsonBodyError(*_orjson_fault(str(exc), malformed)) from None
    _check(value)
    return value


def _orjson_fault(reason: str, malformed: tuple[str, str]) -> tuple[str, str]:
    """Two of orjson's refusals break our rules rather than JSON syntax, and get our answer.

    orjson stops at 1,024 levels of nesting by itself, and a number too long for a double
    (a 400-digit integer, `1e999`) is "infinity" to it.
    """
    if "depth limit" in reason:
        return TOO_DEEP
    if "infinity" in reason:
        return NUMBER_TOO_LARGE
    return malformed


def _check(value: Any) -> None:
    """Walk the document once, iteratively (depth is what is being checked)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            if "\x00" in node:
                raise JsonBodyError(*NUL_CHARACTER)
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int | float):
            if not -_NUMBER_BOUND < node < _NUMBER_BOUND:
                raise JsonBodyError(*NUMBER_TOO_LARGE)
        else:
            if depth > MAX_DEPTH:
                raise JsonBodyError(*TOO_DEEP)
            if isinstance(node, dict):
                if any("\x00" in key for key in node):
                    raise JsonBodyError(*NUL_CHARACTER)
                pending.extend((child, depth + 1) for child in node.values())
            else:
                pending.extend((child, depth + 1) for child in node)
