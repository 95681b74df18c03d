"""Sending text messages (one-time codes) behind an interface, so a real gateway can replace the outbox.

The sender receives the turn's store: the outbox row commits together with the conversation
state that holds the code's hash, so after a crash there is never a code in a phone that the
conversation does not know about (nor the reverse). A real gateway belongs behind the outbox —
a relay that sends what `outbox_message` holds after commit — rather than in the turn.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

SMS_CHANNEL = "sms"


class Outbox(Protocol):
    """The part of the turn's store a sender writes to."""

    async def outbox(self, channel: str, recipient: str, body: str, now: datetime) -> None: ...


class SmsSender(Protocol):
    async def send(self, store: Outbox, phone: str, body: str, now: datetime) -> None: ...


class OutboxSmsSender:
    """Demo mode and tests: the message lands in `outbox_message`, readable at GET /dev/outbox."""

    async def send(self, store: Outbox, phone: str, body: str, now: datetime) -> None:
        await store.outbox(SMS_CHANNEL, phone, body, now)
