"""Group commit for chat turns on SQLite: many users' turns saved by one transaction.

SQLite has one writer, and what a turn costs the writer is mostly fixed overhead: a commit,
and a hand-off to a database thread for every statement. Turns that finished their dialog
work therefore queue their writes here; a single writer thread with its own connection writes
the whole queue — every turn inside its own savepoint — and commits once, in one hand-off,
then each turn is answered. Every turn stays all-or-nothing: its replies go out only after
the commit that holds its state and its dialog's writes, and a turn whose message-id insert
or version check fails is rolled back to its savepoint without touching the others.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.chat import statements as sql
from storage.chat.turn import DuplicateMessageError, Loaded, VersionConflictError

#: As `storage.db` sets them for every SQLite connection.
_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000")


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
    def __init__(self, path: str) -> None:
        self.path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-writer")
        self._conn: sqlite3.Connection | None = None
        self._queue: list[tuple[TurnWrite, asyncio.Future[None]]] = []
        self._drain_task: asyncio.Task[None] | None = None

    async def write(self, write: TurnWrite) -> None:
        """Returns once the turn is committed; raises VersionConflictError or DuplicateMessageError."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((write, future))
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain())
        await future

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    outcomes = await loop.run_in_executor(self._thread, self._commit, [w for w, _ in batch])
                except Exception as error:
                    outcomes = [error] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        # Its caller was cancelled; the others in the batch still need their answer.
                        continue
                    if outcome is None:
                        future.set_result(None)
                    else:
                        future.set_exception(outcome)
        finally:
            self._drain_task = None

    # --- in the writer thread -------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None)
            for pragma in _PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _commit(self, batch: list[TurnWrite]) -> list[BaseException | None]:
        conn = self._connection()
        outcomes: list[BaseException | None] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for write in batch:
                conn.execute("SAVEPOINT turn")
                try:
                    _apply(conn, write)
                except (VersionConflictError, DuplicateMessageError) as error:
                    conn.execute("ROLLBACK TO turn")
                    outcomes.append(error)
                else:
                    outcomes.append(None)
                conn.execute("RELEASE turn")
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            # Nothing of these turns was saved, so each of them is simply run again.
            return [VersionConflictError(w.user) for w in batch]
        return outcomes


def _apply(conn: sqlite3.Connection, write: TurnWrite) -> None:
    user, now = write.user, write.now
    if write.msg_id is not None:
        params = {"user": user, "msg": write.msg_id, "b_replies": write.replies, "now": now}
        try:
            conn.execute(sql.REMEMBER.sqlite_sql, sql.REMEMBER.sqlite_params(params))
        except sqlite3.IntegrityError as error:
            raise DuplicateMessageError(write.msg_id) from error
    loaded = write.loaded
    if loaded.exists:
        params = {
            "user": user,
            "b_state": write.state,
            "now": now,
            "b_version": loaded.version,
            "new_version": loaded.version + 1,
        }
        saved = (
            conn.execute(sql.UPDATE_STATE.sqlite_sql, sql.UPDATE_STATE.sqlite_params(params)).rowcount == 1
        )
    else:
        params = {"user": user, "b_state": write.state, "now": now}
        try:
            conn.execute(sql.INSERT_STATE.sqlite_sql, sql.INSERT_STATE.sqlite_params(params))
            saved = True
        except sqlite3.IntegrityError:
            saved = False
    if not saved:
        raise VersionConflictError(user)
    for statement, values in write.writes:
        conn.execute(statement, values)
