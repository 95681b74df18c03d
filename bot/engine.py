"""The conversation engine: one message of one user in, replies out, state safely persisted.

A turn is: take the user's in-process lock, open a transaction, load the state (on
PostgreSQL under `SELECT … FOR UPDATE`, so the state is always read *after* the lock is held
and several service processes cannot interleave one user's messages), answer a repeated
message id from what was stored, run the dialogs, then save the state (optimistic version
check), the replies for the message id and whatever the dialogs wrote — all in that one
transaction. A process killed at any point therefore either left the whole turn or none of it.

On SQLite (one writer) a turn never holds the write connection while its dialog thinks: the
state and every read come from a shared read connection, the dialog's writes are collected,
and the state, the replies and those writes are saved together, grouped with other users'
turns into one commit (see `bot.group_commit`). The in-process user lock is held until that
commit, so the next message of the user always reads what the previous one wrote.

A dialog may also `ctx.hold` keys other than the user (an entity whose identity is being
guessed from many user ids): the engine takes an in-process lock per key and, on PostgreSQL,
a transaction-scoped advisory lock, both held until the turn has committed, so counters that
several users' turns update are read fresh and never lost.

A dialog that raises leaves nothing behind: the turn's transaction is abandoned (its state,
writes and replies with it) and a second, minimal turn ends the flow and apologises, so a bug
triggered by one message cannot wedge every later message of the conversation.

Slow work (rendering a report) is `Deferred` by the dialog: the turn commits first, the work
runs outside any transaction (SQLite stays free for every other user; the in-process lock
still keeps this user's next message waiting), and a second transaction records the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import aiosqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot import conversations
from bot.chat_store import ChatStore
from bot.clock import Clock, system_clock
from bot.dialogs import menu, router
from bot.dialogs.base import Ctx, Deferred, Inbound, Services, squash
from bot.group_commit import GroupCommit, TurnWrite
from bot.replies import Reply

log = logging.getLogger(__name__)

#: A version conflict needs a second process (or a group commit that failed); a few retries settle it.
MAX_ATTEMPTS = 5
APOLOGY = "抱歉，处理您的消息时出现了问题，当前办理已结束，请重新选择要办理的业务。"


class DialogFailedError(Exception):
    """A dialog raised: the turn is abandoned and answered with an apology instead."""


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
        if self._conn is not None:
            return self._conn
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
        self.key_locks = UserLocks()
        path = db.url.database if db.dialect.name == "sqlite" else None
        self._reader = _SqliteReader(path) if path and path != ":memory:" else None
        self._group = GroupCommit(path) if self._reader is not None and path else None

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
        if self._group is not None:
            await self._group.close()

    async def handle(
        self,
        user: str,
        *,
        text: str | None = None,
        action: str | None = None,
        msg_id: str | None = None,
        client: str = "",
    ) -> list[Reply]:
        """One message; `client` is the sender's network address where the channel knows it."""
        message = Inbound(text=(text or "").strip(), action=(action or "").strip())
        async with self.locks.hold(user):
            for _ in range(MAX_ATTEMPTS):
                try:
                    return await self._turn(user, message, msg_id, client)
                except conversations.VersionConflictError:
                    continue
                except DialogFailedError:
                    log.exception("dialog failed", extra={"user": user})
                    return await self._apologise(user, msg_id, client)
                except conversations.DuplicateMessageError:
                    async with self.db.connect() as conn:
                        replies = await conversations.remembered(conn, user, msg_id or "")
                    if replies is not None:
                        return replies
            raise RuntimeError("conversation kept changing under this turn")

    async def _turn(self, user: str, message: Inbound, msg_id: str | None, client: str) -> list[Reply]:
        now = self.clock()
        # The held keys are released after the transaction has committed (exits run in reverse).
        async with AsyncExitStack() as held, self._transaction(user, msg_id) as turn:
            if turn.loaded.replies is not None:
                return turn.loaded.replies
            ctx = Ctx(
                user, now, turn.loaded.state, turn.store, self.services, client, self._holder(held, turn)
            )
            idle = now - turn.loaded.updated_at if turn.loaded.updated_at else None
            try:
                await router.dispatch(ctx, _offered_action(turn.loaded.state, message), idle)
            except Exception as error:
                raise DialogFailedError from error
            _remember_options(ctx.state, ctx.replies)
            # A deferred turn's replies are remembered with the outcome, in `_finish`.
            await turn.commit(ctx.state, now, ctx.replies, None if ctx.deferred else msg_id)
        if ctx.deferred is None:
            return ctx.replies
        return ctx.replies + await self._finish(user, ctx.deferred, turn.version, msg_id, ctx.replies)

    def _context(self, user: str, now: datetime, turn: _Turn, held: AsyncExitStack, client: str) -> Ctx:
        hold = self._holder(held, turn)
        return Ctx(user, now, turn.loaded.state, turn.store, self.services, client, hold)

    def _holder(self, held: AsyncExitStack, turn: _Turn) -> Callable[..., Awaitable[None]]:
        taken: set[str] = set()

        async def hold(*keys: str) -> None:
            fresh = sorted(set(keys) - taken)
            for key in fresh:
                await held.enter_async_context(self.key_locks.hold(key))
                taken.add(key)
            await turn.store.serialize(fresh)

        return hold

    async def _apologise(self, user: str, msg_id: str | None, client: str) -> list[Reply]:
        """End the flow whose dialog failed, in a turn of its own; a redelivery gets the same apology."""
        now = self.clock()
        async with AsyncExitStack() as held, self._transaction(user, msg_id) as turn:
            if turn.loaded.replies is not None:
                return turn.loaded.replies
            ctx = Ctx(
                user, now, turn.loaded.state, turn.store, self.services, client, self._holder(held, turn)
            )
            ctx.end()
            menu.show(ctx, APOLOGY)
            _remember_options(ctx.state, ctx.replies)
            await turn.commit(ctx.state, now, ctx.replies, msg_id)
        return ctx.replies

    @asynccontextmanager
    async def _transaction(self, user: str, msg_id: str | None) -> AsyncIterator[_Turn]:
        if self._reader is not None and self._group is not None:
            reader = await self._reader.conn()
            loaded = await conversations.load_sqlite(reader, user, msg_id)
            yield _SqliteTurn(user, loaded, ChatStore(reader=reader), group=self._group)
            return
        async with self.db.begin() as conn:
            loaded = await conversations.load(conn, user, msg_id)
            yield _CoreTurn(user, loaded, ChatStore(conn=conn), conn=conn)

    async def _finish(
        self, user: str, deferred: Deferred, version: int, msg_id: str | None, first: list[Reply]
    ) -> list[Reply]:
        try:
            outcome: Any = await deferred.run()
        except Exception as error:  # the dialog turns any failure into a polite answer
            log.exception("deferred work failed", extra={"user": user})
            outcome = error
        async with AsyncExitStack() as held, self._transaction(user, None) as turn:
            ctx = Ctx(
                user, self.clock(), turn.loaded.state, turn.store, self.services, "", self._holder(held, turn)
            )
            if turn.loaded.version == version:
                await deferred.finish(ctx, outcome)
            else:
                # Another process resumed this conversation meanwhile (lease expired): it answers.
                ctx.say("您的报告已生成，可在“我的报告”中查看。")
            _remember_options(ctx.state, ctx.replies)
            await turn.commit(ctx.state, ctx.now, first + ctx.replies, msg_id)
        return ctx.replies


class _Turn(Protocol):
    """One turn's loaded state and store, and how its writes are made durable."""

    loaded: conversations.Loaded
    store: ChatStore
    #: The conversation's version once `commit` has saved it.
    version: int

    async def commit(
        self, state: dict[str, Any], now: datetime, replies: list[Reply], msg_id: str | None
    ) -> None: ...


@dataclass
class _CoreTurn:
    """PostgreSQL: everything already ran in the open transaction; commit is the context's exit."""

    user: str
    loaded: conversations.Loaded
    store: ChatStore
    conn: AsyncConnection
    version: int = 0

    async def commit(
        self, state: dict[str, Any], now: datetime, replies: list[Reply], msg_id: str | None
    ) -> None:
        self.version = await conversations.save(self.conn, self.user, self.loaded, state, now)
        if msg_id is not None:
            await conversations.remember(self.conn, self.user, msg_id, replies, now)


@dataclass
class _SqliteTurn:
    """SQLite: the store's writes, the state and the replies go out in the next group commit."""

    user: str
    loaded: conversations.Loaded
    store: ChatStore
    group: GroupCommit
    version: int = 0

    async def commit(
        self, state: dict[str, Any], now: datetime, replies: list[Reply], msg_id: str | None
    ) -> None:
        write = TurnWrite(self.user, self.loaded, state, now, msg_id, replies, self.store.writes)
        await self.group.write(write)
        self.version = self.loaded.version + 1


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
