"""The simulated SMS outbox as the demo banner reads it (`GET /dev/outbox`).

Messages are written by the chat turn that sends them (`storage.chat`); this is the one read.
Narrowed to a user, it shows only what went to the phone of the business that user is
verifying, so two people trying the demo side by side never see each other's codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import Conversation, Entity, OutboxMessage

_outbox = OutboxMessage.__table__
_conversation = Conversation.__table__
_entity = Entity.__table__

_NEWEST = select(_outbox.c.id, _outbox.c.channel, _outbox.c.recipient, _outbox.c.body, _outbox.c.created_at)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    channel: str
    recipient: str
    body: str
    created_at: datetime


async def recent_messages(
    engine: AsyncEngine,
    limit: int,
    user: str | None = None,
    business_of: Callable[[dict[str, Any]], str | None] | None = None,
) -> list[OutboxRow]:
    """The newest `limit` messages, oldest first; with `user`, only those to the business's phone.

    The business is the one the user's saved conversation is about, as `business_of` reads it
    (the dialogs own the state's shape); a user without one sees no messages.
    """
    statement = _NEWEST.order_by(_outbox.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        if user:
            query = select(_conversation.c.state).where(_conversation.c.user_id == user)
            state = (await conn.execute(query)).scalar()
            uscc = business_of(state) if state and business_of else None
            query = select(_entity.c.phone).where(_entity.c.uscc == uscc)
            phone = (await conn.execute(query)).scalar()
            statement = statement.where(_outbox.c.recipient == (phone or ""))
        rows = (await conn.execute(statement)).all()
    return [OutboxRow(*row) for row in reversed(rows)]
