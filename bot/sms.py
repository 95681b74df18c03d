"""Sending text messages (one-time codes) behind an interface, so a real gateway can replace the outbox.

The sender receives the turn's connection: the outbox row commits together with the
conversation state that holds the code's hash, so after a crash there is never a code in a
phone that the conversation does not know about (nor the reverse). A gateway sender would
ignore the connection, or — better — be a relay that drains `outbox_message` after commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import OutboxMessage

_outbox = OutboxMessage.__table__

SMS_CHANNEL = "sms"


class SmsSender(Protocol):
    async def send(self, conn: AsyncConnection, phone: str, body: str, now: datetime) -> None: ...


class OutboxSmsSender:
    """Demo mode and tests: the message lands in `outbox_message`, readable at GET /dev/outbox."""

    async def send(self, conn: AsyncConnection, phone: str, body: str, now: datetime) -> None:
        await conn.execute(
            insert(_outbox).values(channel=SMS_CHANNEL, recipient=phone, body=body, created_at=now)
        )
