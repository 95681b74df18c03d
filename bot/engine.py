"""The conversation engine: one message of one user in, replies out, state safely persisted.

A turn is: take the user's in-process lock, open a transaction, load the state (on
PostgreSQL under `SELECT … FOR UPDATE`, so the state is always read *after* the lock is held
and several service processes cannot interleave one user's messages), answer a repeated
message id from what was stored, run the dialogs, then save the state (optimistic version
check), the replies for the message id and whatever the dialogs wrote — all in that one
transaction. A process killed at any point therefore either left the whole turn or none of it.

Slow work (rendering a report) is `Deferred` by the dialog: the turn commits first, the work
runs outside any transaction (SQLite stays free for every other user; the in-process lock
still keeps this user's next message waiting), and a second transaction records the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import conversations
from bot.chat_store import ChatStore
from bot.clock import Clock, system_clock
from bot.dialogs import router
from bot.dialogs.base import Ctx, Deferred, Inbound, Services, squash
from bot.replies import Reply

log = logging.getLogger(__name__)

#: Version conflicts only happen when several processes share one SQLite file; a few retries settle them.
MAX_ATTEMPTS = 5


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class UserLocks:
    """One asyncio lock per active user, dropped when nobody waits on it (no unbounded growth)."""

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}

    @asynccontextmanager
    async def hold(self, user: str) -> AsyncIterator[None]:
        slot = self._slots.setdefault(user, _Slot())
        slot.users += 1
        try:
            async with slot.lock:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[user]

    def __len__(self) -> int:
        return len(self._slots)


class Engine:
    def __init__(self, db: AsyncEngine, services: Services, clock: Clock = system_clock) -> None:
        self.db = db
        self.services = services
        self.clock = clock
        self.locks = UserLocks()
        self._row_locks = db.dialect.name == "postgresql"

    async def handle(
        self, user: str, *, text: str | None = None, action: str | None = None, msg_id: str | None = None
    ) -> list[Reply]:
        message = Inbound(text=(text or "").strip(), action=(action or "").strip())
        async with self.locks.hold(user):
            for _ in range(MAX_ATTEMPTS):
                try:
                    return await self._turn(user, message, msg_id)
                except conversations.VersionConflictError:
                    continue
                except conversations.DuplicateMessageError:
                    async with self.db.connect() as conn:
                        replies = await conversations.remembered(conn, user, msg_id or "")
                    if replies is not None:
                        return replies
            raise RuntimeError("conversation kept changing under this turn")

    async def _turn(self, user: str, message: Inbound, msg_id: str | None) -> list[Reply]:
        now = self.clock()
        async with self.db.begin() as conn:
            loaded = await conversations.load(conn, user, msg_id, lock=self._row_locks)
            if loaded.replies is not None:
                return loaded.replies
            ctx = Ctx(user, now, loaded.state, ChatStore(conn), self.services)
            idle = now - loaded.updated_at if loaded.updated_at else None
            await router.dispatch(ctx, _offered_action(loaded.state, message), idle)
            _remember_options(ctx.state, ctx.replies)
            version = await conversations.save(conn, user, loaded, ctx.state, now)
            if ctx.deferred is None:
                if msg_id is not None:
                    await conversations.remember(conn, user, msg_id, ctx.replies, now)
                return ctx.replies
        return ctx.replies + await self._finish(user, ctx.deferred, version, msg_id, ctx.replies)

    async def _finish(
        self, user: str, deferred: Deferred, version: int, msg_id: str | None, first: list[Reply]
    ) -> list[Reply]:
        try:
            outcome: Any = await deferred.run()
        except Exception as error:  # the dialog turns any failure into a polite answer
            log.exception("deferred work failed", extra={"user": user})
            outcome = error
        async with self.db.begin() as conn:
            loaded = await conversations.load(conn, user, None, lock=self._row_locks)
            ctx = Ctx(user, self.clock(), loaded.state, ChatStore(conn), self.services)
            if loaded.version == version:
                await deferred.finish(ctx, outcome)
            else:
                # Another process resumed this conversation meanwhile (lease expired): it answers.
                ctx.say("您的报告已生成，可在“我的报告”中查看。")
            _remember_options(ctx.state, ctx.replies)
            await conversations.save(conn, user, loaded, ctx.state, ctx.now)
            if msg_id is not None:
                await conversations.remember(conn, user, msg_id, first + ctx.replies, ctx.now)
        return ctx.replies


def _offered_action(state: dict[str, Any], message: Inbound) -> Inbound:
    """Typing an option's label ("是", "确认开具") means tapping it."""
    if message.action or not message.text:
        return message
    action = (state.get("offered") or {}).get(squash(message.text))
    return Inbound(text=message.text, action=action) if action else message


def _remember_options(state: dict[str, Any], replies: list[Reply]) -> None:
    offered = {
        squash(option["label"]): option["action"]
        for reply in replies
        if reply["type"] == "choices"
        for option in reply["options"]
    }
    state["offered"] = offered
