"""The conversation engine: one message of one user in, replies out, state safely persisted.

A turn is: take the user's in-process lock, open a transaction, load the state (on
PostgreSQL under `SELECT … FOR UPDATE`, so the state is always read *after* the lock is held
and several service processes cannot interleave one user's messages), answer a repeated
message id from what was stored, run the dialogs, then save the state (optimistic version
check), the replies for the message id and whatever the dialogs wrote — all in that one
transaction. A process killed at any point therefore either left the whole turn or none of it.

On SQLite (one writer) a turn first runs without holding the write connection: the state
comes from a shared read connection, the dialogs run, and only then is the turn saved,
grouped with other users' turns into one commit (see `bot.group_commit`) — so the single
writer never sits idle while a dialog thinks. A dialog that needs another table (bindings,
entities, the outbox) stops that attempt with StoreNeededError before writing anything, and
the turn is run again entirely inside one write transaction, as on PostgreSQL.

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

import aiosqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot import conversations
from bot.chat_store import ChatStore, StoreNeededError
from bot.clock import Clock, system_clock
from bot.dialogs import router
from bot.dialogs.base import Ctx, Deferred, Inbound, Services, squash
from bot.group_commit import GroupCommit, TurnWrite
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


class _SqliteReader:
    """One read connection shared by all turns: WAL lets it read while the writer commits."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._opening = asyncio.Lock()

    async def conn(self) -> aiosqlite.Connection:
        async with self._opening:
            if self._conn is None:
                conn = await aiosqlite.connect(self.path)
                await conn.execute("PRAGMA busy_timeout=10000")
                self._conn = conn
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class Engine:
    def __init__(self, db: AsyncEngine, services: Services, clock: Clock = system_clock) -> None:
        self.db = db
        self.services = services
        self.clock = clock
        self.locks = UserLocks()
        path = db.url.database if db.dialect.name == "sqlite" else None
        self._reader = _SqliteReader(path) if path and path != ":memory:" else None
        self._group = GroupCommit(db)

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()

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
        if self._reader is not None:
            loaded = await conversations.load_sqlite(await self._reader.conn(), user, msg_id)
            if loaded.replies is not None:
                return loaded.replies
            ctx = Ctx(user, now, loaded.state, ChatStore(None), self.services)
            try:
                await self._dispatch(ctx, loaded, message)
            except StoreNeededError:
                pass  # nothing was written: run the turn again inside the write transaction
            else:
                if ctx.deferred is None:
                    await self._group.write(TurnWrite(user, loaded, ctx.state, now, msg_id, ctx.replies))
                    return ctx.replies
                async with self.db.begin() as conn:
                    version = await self._save(conn, user, loaded, ctx, msg_id)
                return await self._after(user, ctx, version, msg_id)
        async with self.db.begin() as conn:
            loaded = await conversations.load(conn, user, msg_id)
            if loaded.replies is not None:
                return loaded.replies
            ctx = Ctx(user, now, loaded.state, ChatStore(conn), self.services)
            await self._dispatch(ctx, loaded, message)
            version = await self._save(conn, user, loaded, ctx, msg_id)
        return await self._after(user, ctx, version, msg_id)

    async def _dispatch(self, ctx: Ctx, loaded: conversations.Loaded, message: Inbound) -> None:
        idle = ctx.now - loaded.updated_at if loaded.updated_at else None
        await router.dispatch(ctx, _offered_action(loaded.state, message), idle)
        _remember_options(ctx.state, ctx.replies)

    async def _save(
        self, conn: AsyncConnection, user: str, loaded: conversations.Loaded, ctx: Ctx, msg_id: str | None
    ) -> int:
        """State and remembered replies in the caller's transaction; deferred turns remember later."""
        version = await conversations.save(conn, user, loaded, ctx.state, ctx.now)
        if ctx.deferred is None and msg_id is not None:
            await conversations.remember(conn, user, msg_id, ctx.replies, ctx.now)
        return version

    async def _after(self, user: str, ctx: Ctx, version: int, msg_id: str | None) -> list[Reply]:
        """After commit: the replies, or for deferred work, run it and add what it answered."""
        if ctx.deferred is None:
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
            loaded = await conversations.load(conn, user, None)
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
