"""Demo-only routes: `GET /dev/outbox` shows the simulated SMS, so a demo can be run without a phone.

Registered only in demo mode — outside it the route does not exist (404). Recipients are
masked; the body is shown because reading the code is the whole point of the demo banner.
`?user=<id>` narrows the list to the phone of the business that user is verifying, so two
people trying the demo side by side do not see each other's codes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.appkeys import ENGINE
from bot.dialogs.state import load_state
from bot.handlers.json_replies import json_reply
from core.personal_data import mask_phone
from storage.outbox import recent_messages

LIMIT = 20


def _business_of(saved: dict[str, Any]) -> str | None:
    """The USCC the saved conversation is about (identity or report), if any."""
    flow = load_state(saved).flow
    return getattr(flow.data, "uscc", None) if flow is not None else None


async def outbox(request: web.Request) -> web.Response:
    rows = await recent_messages(request.app[ENGINE], LIMIT, request.query.get("user"), _business_of)
    messages = [
        {
            "id": row.id,
            "channel": row.channel,
            "phone": mask_phone(row.recipient),
            "text": row.body,
            "sent_at": row.created_at.isoformat(),
        }
        for row in rows
    ]
    return json_reply({"messages": messages})


def setup(app: web.Application, demo: bool) -> None:
    if demo:
        app.router.add_get("/dev/outbox", outbox)
