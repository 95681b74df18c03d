"""The conversation engine: one message of one user in, replies out, state safely persisted.

A turn is: take the user's in-process lock, open a turn in the backend (`storage.chat`), answer
a repeated message id from what was stored, run the dialogs, then commit the state (optimistic
version check), the replies for the message id and whatever the dialogs wrote, all at once. A
process killed at any point therefore either left the whole turn or none of it. The backend
(group commit on SQLite, one transaction with row locks on PostgreSQL) is chosen by the
application; nothing here depends on the database.

Idempotency, in one place: a `msg_id` makes one inbound message act once — its replies are
stored with the turn's commit, and a redelivery (same process or another, now or after a
crash) is answered with them. Issuing a report is the one action that outlives a turn (it is
deferred, below); the report dialog gives it a `request_id` kept in the state, so a resumed
confirmation finds the report it already produced instead of issuing a second one.

A dialog may also `ctx.hold` keys other than the user (an entity whose identity is being
guessed from many user ids): the engine takes an in-process lock per key and the backend a
cross-process one where there can be other processes, all held until the turn has committed,
so counters that several users' turns update are read fresh and never lost.

A dialog that raises leaves nothing behind: the turn is abandoned (its state, writes and
replies with it) and a second, minimal turn ends the flow and apologises, so a bug triggered by
one message cannot wedge every later message of the conversation.

Slow work (rendering a report) is `Deferred` by the dialog: the turn commits first, the work
runs outside any transaction (SQLite stays free for every other user; the in-process lock
still keeps this user's next message waiting), and a second turn records the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.clock import Clock, system_clock
from bot.dialogs import menu, router
from bot.dialogs.base import Ctx, Deferred, Inbound, Services, TurnStore, squash
from bot.dialogs.state import ConversationState, dump_state, load_state
from bot.replies import Reply
from storage.chat.turn import DuplicateMessageError, Loaded, VersionConflictError

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


class Turn(Protocol):
    """One turn's loaded state and store, and how its writes are made durable."""

    loaded: Loaded
    store: TurnStore
    #: The conversation's version once `commit` has saved it.
    version: int

    async def commit(
        self, state: dict[str, Any], now: datetime, replies: list[Reply], msg_id: str | None
    ) -> None: ...


class TurnBackend(Protocol):
    """Where turns are loaded and committed (`storage.chat.backend_for` picks one)."""

    def turn(self, user: str, msg_id: str | None) -> AbstractAsyncContextManager[Turn]: ...

    async def remembered(self, user: str, msg_id: str) -> list[Reply] | None: ...

    async def close(self) -> None: ...


class Engine:
    def __init__(self, backend: TurnBackend, services: Services, clock: Clock = system_clock) -> None:
        self.backend = backend
        self.services = services
        self.clock = clock
        self.locks = UserLocks()
        self.key_locks = UserLocks()

    async def close(self) -> None:
        await self.backend.close()

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
                except VersionConflictError:
                    continue
                except DialogFailedError:
                    log.exception("dialog failed", extra={"user": user})
                    return await self._apologise(user, msg_id, client)
                except DuplicateMessageError:
                    replies = await self.backend.remembered(user, msg_id or "")
                    if replies is not None:
                        return replies
            raise RuntimeError("conversation kept changing under this turn")

    async def _turn(self, user: str, message: Inbound, msg_id: str | None, client: str) -> list[Reply]:
        now = self.clock()
        # The held keys are released after the turn has committed (exits run in reverse order).
        async with AsyncExitStack() as held, self.backend.turn(user, msg_id) as turn:
            if turn.loaded.replies is not None:
                return turn.loaded.replies
            idle = now - turn.loaded.updated_at if turn.loaded.updated_at else None
            try:
                # A state no release can read fails here, like a dialog bug: the apology resets it.
                ctx = self._context(user, now, load_state(turn.loaded.state), turn, held, client)
                await router.dispatch(ctx, _offered_action(ctx.state, message), idle)
            except Exception as error:
                raise DialogFailedError from error
            _remember_options(ctx.state, ctx.replies)
            # A deferred turn's replies are remembered with the outcome, in `_finish`.
            await turn.commit(dump_state(ctx.state), now, ctx.replies, None if ctx.deferred else msg_id)
        if ctx.deferred is None:
            return ctx.replies
        return ctx.replies + await self._finish(user, ctx.deferred, turn.version, msg_id, ctx.replies)

    def _context(
        self,
        user: str,
        now: datetime,
        state: ConversationState,
        turn: Turn,
        held: AsyncExitStack,
        client: str,
    ) -> Ctx:
        taken: set[str] = set()

        async def hold(*keys: str) -> None:
            fresh = sorted(set(keys) - taken)
            for key in fresh:
                await held.enter_async_context(self.key_locks.hold(key))
                taken.add(key)
            await turn.store.serialize(fresh)

        return Ctx(user, now, state, turn.store, self.services, client, hold)

    async def _apologise(self, user: str, msg_id: str | None, client: str) -> list[Reply]:
        """End the flow whose dialog failed, in a turn of its own; a redelivery gets the same apology."""
        now = self.clock()
        async with AsyncExitStack() as held, self.backend.turn(user, msg_id) as turn:
            if turn.loaded.replies is not None:
                return turn.loaded.replies
            # A fresh state: the saved one may be what made the dialog fail.
            ctx = self._context(user, now, ConversationState(), turn, held, client)
            menu.show(ctx, APOLOGY)
            _remember_options(ctx.state, ctx.replies)
            await turn.commit(dump_state(ctx.state), now, ctx.replies, msg_id)
        return ctx.replies

    async def _finish(
        self, user: str, deferred: Deferred, version: int, msg_id: str | None, first: list[Reply]
    ) -> list[Reply]:
        try:
            outcome: Any = await deferred.run()
        except Exception as error:  # the dialog turns any failure into a polite answer
            log.exception("deferred work failed", extra={"user": user})
            outcome = error
        async with AsyncExitStack() as held, self.backend.turn(user, None) as turn:
            ctx = self._context(user, self.clock(), load_state(turn.loaded.state), turn, held, "")
            if turn.loaded.version == version:
                await deferred.finish(ctx, outcome)
            else:
                # Another process resumed this conversation meanwhile (lease expired): it answers.
                ctx.say("您的报告已生成，可在“我的报告”中查看。")
            _remember_options(ctx.state, ctx.replies)
            await turn.commit(dump_state(ctx.state), ctx.now, first + ctx.replies, msg_id)
        return ctx.replies


def _offered_action(state: ConversationState, message: Inbound) -> Inbound:
    """Typing an option's label ("是", "确认开具") means tapping it."""
    if message.action or not message.text:
        return message
    action = state.offered.get(squash(message.text))
    return Inbound(text=message.text, action=action) if action else message


def _remember_options(state: ConversationState, replies: list[Reply]) -> None:
    state.offered = {
        squash(option["label"]): option["action"]
        for reply in replies
        if reply["type"] == "choices"
        for option in reply["options"]
    }
