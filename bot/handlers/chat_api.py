"""`POST /api/chat`: the one chat contract the web page, the mini-program, tests and benchmarks use.

Request (JSON object)::

    {"user": "<id>", "text": "帮我开近三年环保的信用报告", "msg_id": "<optional id>"}
    {"user": "<id>", "action": "<payload of a tapped option>", "msg_id": "<optional id>"}

Exactly one of `text` / `action`. `msg_id` (1–128 chars) makes the message idempotent: a
repeated id gets the same replies again and causes no second action. In demo mode
(`CREDITBOT_DEMO=1`) the `user` field is trusted; otherwise the user comes from
`Authorization: Bearer <session token>` (see `bot.chat_auth`) and `user` is ignored.

Response `200 {"replies": [...]}`, each reply one of::

    {"type": "text", "text": "..."}
    {"type": "choices", "text": "...", "options": [{"label": "...", "action": "..."}], "multi": false}
    {"type": "report", "text": "...", "report_no": "...",
     "pdf_url": "...", "verify_url": "...", "qr_url": "..."}
    {"type": "image", "text": "...", "url": "..."}
    {"type": "link", "text": "...", "url": "..."}

Errors: `400 {"error": {"code", "message"}}` for a malformed request (see `bot.handlers.json_body`
for what a body may hold), `401` (same shape) without a valid session outside demo mode, checked
before the body is read, `413` for a body over 64 KB and `415` for a compressed one; messages
are Chinese, fit to show to the user.

Actions: a client sends an option's `action` back unchanged; typing an option's label has the
same effect. Payloads are `name` or `name:argument`:
`menu:report|my_reports|identity`, `cancel`, `back`, `help`, `restart`, `yes`, `no`,
`uscc:<code>` (accept a suggested correction), `code:resend`, `entity:<uscc>` / `entity:new`,
`period:<phrase>` / `period:custom`, `domains:all`, `domain:<number>`, `confirm:issue|period|domains`,
`report:<report_no>`, `switch:yes|no`, `resume:continue`.

Multi-select (`"multi": true`): every option's action is `domain:<number>`; the client sends
ONE action made of the chosen options' actions joined with `|`, e.g. `domain:5|domain:9|domain:13`.
The compact form `domains:5,9,13` is accepted as well.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.appkeys import ENGINE, HASH_SECRET, SETTINGS
from bot.chat_auth import SESSION_KEY_FILE, HmacSessionVerifier, SessionVerifier
from bot.chat_issuer import ServiceIssuer
from bot.clock import system_clock
from bot.dialogs.base import Services
from bot.engine import Engine
from bot.handlers import request_guard
from bot.handlers.auth import request_token, resolved
from bot.handlers.json_body import JsonBodyError, read_json
from bot.handlers.json_replies import json_error, json_reply
from bot.reports import REPORTS
from bot.sms import OutboxSmsSender
from storage.chat import backend_for
from storage.secrets import load_or_create_secret

CHAT_ENGINE = web.AppKey("chat_engine", Engine)
SESSION_VERIFIER = web.AppKey("session_verifier", SessionVerifier)
#: The user a valid session token names (set by `_session` outside demo mode).
SESSION_USER = web.RequestKey("session_user", str)

MAX_TEXT = 2000
MAX_ID = 128
#: A message is at most 2,000 characters plus a few ids: 64 KB is ample, and all anyone may send.
MAX_BODY = 64 * 1024
PREFIX = "/api/chat"
UNAUTHORIZED_MESSAGE = "请先登录后再使用对话服务：会话令牌缺失、无效或已过期。"


class BadRequestError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status


def _string(body: dict[str, Any], key: str, limit: int, code: str, message: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadRequestError(code, message)
    return value


@web.middleware
async def _session(request: web.Request, handler: Any) -> web.StreamResponse:
    """Outside demo mode every chat message needs a valid session token, checked before the body is read."""
    if resolved(request):
        token = request_token(request)
        user = request.config_dict[SESSION_VERIFIER].user_for(token, system_clock()) if token else None
        if user is None:
            return json_error("unauthorized", UNAUTHORIZED_MESSAGE, 401)
        request[SESSION_USER] = user
    return await handler(request)


def _user(request: web.Request, body: dict[str, Any]) -> str:
    """The session's user; in demo mode (no sessions) the `user` field the client sends."""
    if SESSION_USER in request:
        return request[SESSION_USER]
    user = _string(body, "user", MAX_ID, "invalid_user", "用户标识（user）应为1至128个字符的字符串。")
    if user is None:
        raise BadRequestError("missing_user", "缺少用户标识（user）。")
    return user


async def chat(request: web.Request) -> web.Response:
    try:
        body = await read_json(request, malformed=("invalid_json", "请求内容不是有效的JSON。"))
    except JsonBodyError as error:
        return error.response()
    if not isinstance(body, dict):
        return json_error("invalid_request", "请求内容应为JSON对象。")
    try:
        user = _user(request, body)
        text = _string(
            body, "text", MAX_TEXT, "invalid_text", f"消息内容（text）应为不超过{MAX_TEXT}字的非空文字。"
        )
        action = _string(body, "action", MAX_TEXT, "invalid_action", "操作（action）应为非空字符串。")
        msg_id = _string(
            body, "msg_id", MAX_ID, "invalid_msg_id", "消息编号（msg_id）应为1至128个字符的字符串。"
        )
        if (text is None) == (action is None):
            raise BadRequestError("invalid_message", "请提供消息内容（text）或操作（action）中的一项。")
    except BadRequestError as error:
        return json_error(error.code, error.message, error.status)
    replies = await request.config_dict[CHAT_ENGINE].handle(
        user, text=text, action=action, msg_id=msg_id, client=request.remote or ""
    )
    return json_reply({"replies": replies})


async def _chat_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    services = Services(
        hash_secret=app[HASH_SECRET],
        sms=OutboxSmsSender(),
        issuer=ServiceIssuer(app[REPORTS]),
        binding_days=settings.binding_days,
        limits=settings.limits,
        processes=app[REPORTS].processes,
    )
    engine = Engine(backend_for(app[ENGINE]), services)
    app[CHAT_ENGINE] = engine
    app[SESSION_VERIFIER] = HmacSessionVerifier(load_or_create_secret(settings.data_dir, SESSION_KEY_FILE))
    yield
    await engine.close()


def setup(app: web.Application) -> None:
    """Register after the database and report service contexts: the engine needs both.

    The sub-application's only route is its root (path ""): `POST /api/chat` exactly, as
    clients have always called it.
    """
    app.cleanup_ctx.append(_chat_context)
    api = web.Application(middlewares=[] if app[SETTINGS].demo else [_session])
    request_guard.limit_body(api, api.router.add_post("", chat), MAX_BODY)
    app.add_subapp(PREFIX, api)
