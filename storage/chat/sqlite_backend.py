"""Chat turns on SQLite: reads on a shared connection, writes in group commits, no SQLAlchemy per turn.

SQLite has one writer, so a turn never holds the write connection while its dialog thinks: the
state and every read come from one shared read connection (WAL lets it read while the writer
commits), the dialog's writes are queued, and the state, the replies and those writes are
saved together, grouped with other users' turns into one commit (`storage.chat.group_commit`).

The reads run on the event loop itself, not in a connection thread: a turn's few indexed reads
take microseconds each in WAL mode (a reader never waits for the writer), far less than a hop
to a thread and back for every statement, which under load cost more than the reads.
The engine holds the user's lock until that commit, so the next message of the user always
reads what the previous one wrote. One service process serves a SQLite database, so the keys
a dialog holds need no lock beyond the engine's own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.chat import statements as sql
from storage.chat.group_commit import GroupCommit, TurnWrite
from storage.chat.statements import Row, Statement
from storage.chat.store import ChatStore
from storage.chat.turn import Loaded, new_conversation


@dataclass
class SqliteExecutor:
    reader: sqlite3.Connection
    writes: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    async def rows(self, statement: Statement, params: dict[str, Any]) -> list[Row]:
        found = self.reader.execute(statement.sqlite_sql, statement.sqlite_params(params)).fetchall()
        return [statement.sqlite_row(row) for row in found]

    async def run(self, statement: Statement, params: dict[str, Any]) -> None:
        self.writes.append((statement.sqlite_sql, statement.sqlite_params(params)))

    async def lock(self, keys: list[str]) -> None:
        """One process: the engine's in-process key locks already serialise these turns."""


@dataclass
class SqliteTurn:
    user: str
    loaded: Loaded
    store: ChatStore
    executor: SqliteExecutor
    group: GroupCommit
    version: int = 0

    async def commit(
        self, state: dict[str, Any], now: datetime, replies: list[dict[str, Any]], msg_id: str | None
    ) -> None:
        write = TurnWrite(self.user, self.loaded, state, now, msg_id, replies, self.executor.writes)
        await self.group.write(write)
        self.version = self.loaded.version + 1


class SqliteBackend:
    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._group = GroupCommit(path)

    def _reader(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None)
            # Only ever reads; a short wait covers the rare moments WAL readers wait (recovery).
            conn.execute("PRAGMA query_only=1")
            conn.execute("PRAGMA busy_timeout=1000")
            self._conn = conn
        return self._conn

    @asynccontextmanager
    async def turn(self, user: str, msg_id: str | None) -> AsyncIterator[SqliteTurn]:
        reader = self._reader()
        found = reader.execute(
            sql.LOAD_STATE.sqlite_sql, sql.LOAD_STATE.sqlite_params({"user": user, "msg": msg_id})
        ).fetchall()
        loaded = Loaded(*sql.LOAD_STATE.sqlite_row(found[0])) if found else new_conversation()
        executor = SqliteExecutor(reader)
        yield SqliteTurn(user, loaded, ChatStore(executor), executor, self._group)

    async def remembered(self, user: str, msg_id: str) -> list[dict[str, Any]] | None:
        rows = (
            self._reader()
            .execute(sql.REMEMBERED.sqlite_sql, sql.REMEMBERED.sqlite_params({"user": user, "msg": msg_id}))
            .fetchall()
        )
        return sql.REMEMBERED.sqlite_row(rows[0])[0] if rows else None

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        await self._group.close()
