"""Group commit for chat turns on SQLite: many users' turns saved by one transaction.

SQLite has one writer, and a commit costs far more than the two statements a turn writes
(state, remembered replies). Turns that finished their dialog work queue their writes here;
one drain task writes the whole queue in one transaction — the statements of all turns queued
back to back in aiosqlite's thread — and commits once, then answers each turn. Every turn is
still all-or-nothing: its replies go out only after the commit that holds its state and its
dialog's writes, and a turn whose message-id insert or version check fails has written
nothing else (its message-id row is removed again) before the commit, so the others are
unaffected.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversations import DuplicateMessageError, Loaded, VersionConflictError
from bot.sqlite_fast import sqlite_driver, sqlite_time

_INSERT_STATE = "INSERT INTO conversation (user_id, state, version, updated_at) VALUES (?, ?, 1, ?)"
_UPDATE_STATE = (
    "UPDATE conversation SET state = ?, version = ?, updated_at = ? WHERE user_id = ? AND version = ?"
)
_REMEMBER = "INSERT INTO processed_message (user_id, msg_id, replies, created_at) VALUES (?, ?, ?, ?)"
_FORGET = "DELETE FROM processed_message WHERE user_id = ? AND msg_id = ?"


@dataclass(frozen=True)
class TurnWrite:
    user: str
    loaded: Loaded
    state: dict[str, Any]
    now: datetime
    msg_id: str | None
    replies: list[dict[str, Any]]
    #: The dialog's own writes (bindings, identity attempts, the SMS outbox) as (SQL, parameters).
    writes: list[tuple[str, tuple[Any, ...]]]


class GroupCommit:
    def __init__(self, db: AsyncEngine) -> None:
        self.db = db
        self._queue: list[tuple[TurnWrite, asyncio.Future[None]]] = []
        self._drain_task: asyncio.Task[None] | None = None

    async def write(self, write: TurnWrite) -> None:
        """Returns once the turn is committed; raises VersionConflictError or DuplicateMessageError."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((write, future))
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                outcomes = await self._commit([write for write, _ in batch])
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if outcome is None:
                        future.set_result(None)
                    else:
                        future.set_exception(outcome)
        finally:
            self._drain_task = None

    async def _commit(self, batch: list[TurnWrite]) -> list[BaseException | None]:
        expected = (VersionConflictError, DuplicateMessageError)
        try:
            async with self.db.begin() as conn:
                driver = await sqlite_driver(conn)
                results = await asyncio.gather(*(_apply(driver, w) for w in batch), return_exceptions=True)
                if any(isinstance(r, BaseException) and not isinstance(r, expected) for r in results):
                    raise next(
                        r for r in results if isinstance(r, BaseException) and not isinstance(r, expected)
                    )
        except Exception:
            # The batch was rolled back: nothing of these turns was saved, so each is run again.
            return [VersionConflictError(w.user) for w in batch]
        return [r if isinstance(r, BaseException) else None for r in results]


async def _apply(driver: Any, write: TurnWrite) -> None:
    when = sqlite_time(write.now)
    if write.msg_id is not None:
        try:
            await driver.execute(_REMEMBER, (write.user, write.msg_id, json.dumps(write.replies), when))
        except sqlite3.IntegrityError as error:
            raise DuplicateMessageError(write.msg_id) from error
    encoded, version = json.dumps(write.state), write.loaded.version
    try:
        if write.loaded.exists:
            cursor = await driver.execute(_UPDATE_STATE, (encoded, version + 1, when, write.user, version))
            saved = cursor.rowcount == 1
        else:
            await driver.execute(_INSERT_STATE, (write.user, encoded, when))
            saved = True
    except sqlite3.IntegrityError:
        saved = False
    if not saved:
        if write.msg_id is not None:
            await driver.execute(_FORGET, (write.user, write.msg_id))
        raise VersionConflictError(write.user)
    # Upserts, deletes and plain inserts: nothing here can conflict, so they come last.
    for sql, params in write.writes:
        await driver.execute(sql, params)
