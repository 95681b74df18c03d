"""Demo-only routes: `GET /dev/outbox` shows the simulated SMS, so a demo can be run without a phone.

Registered only in demo mode — outside it the route does not exist (404). Recipients are
masked; the body is shown because reading the code is the whole point of the demo banner.
`?user=<id>` narrows the list to the phone of the business that user is verifying, so two
people trying the demo side by side do not see each other's codes.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from bot.appkeys import ENGINE
from bot.dialogs.state import load_state
from bot.handlers.json_replies import json_reply
from core.personal_data import mask_phone
from storage.models import Conversation, Entity, OutboxMessage

_outbox = OutboxMessage.__table__
_conv = Conversation.__table__
_entity = Entity.__table__

LIMIT = 20


async def outbox(request: web.Request) -> web.Response:
    statement = select(_outbox).order_by(_outbox.c.id.desc()).limit(LIMIT)
    async with request.app[ENGINE].connect() as conn:
        user = request.query.get("user")
        if user:
            state = (await conn.execute(select(_conv.c.state).where(_conv.c.user_id == user))).scalar()
            flow = load_state(state).flow if state else None
            uscc = getattr(flow.data, "uscc", None) if flow else None
            phone = (await conn.execute(select(_entity.c.phone).where(_entity.c.uscc == uscc))).scalar()
            statement = statement.where(_outbox.c.recipient == (phone or ""))
        rows = (await conn.execute(statement)).all()
    messages = [
        {
            "id": row.id,
            "channel": row.channel,
            "phone": mask_phone(row.recipient),
            "text": row.body,
            "sent_at": row.created_at.isoformat(),
        }
        for row in reversed(rows)
    ]
    return json_reply({"messages": messages})


def setup(app: web.Application, demo: bool) -> None:
    if demo:
        app.router.add_get("/dev/outbox", outbox)
