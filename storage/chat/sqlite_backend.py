"""Chat turns on SQLite: reads on a shared connection, writes in group commits, no SQLAlchemy per turn.

SQLite has one writer, so a turn never holds the write connection while its dialog thinks: the
state and every read come from one shared read connection (WAL lets it read while the writer
commits), the dialog's writes are queued, and the state, the replies and those writes are
saved together, grouped with other users' turns into one commit (`storage.chat.group_commit`).
The engine holds the user's lock until that commit, so the next message of the user always
reads what the previous one wrote. One service process serves a SQLite database, so the keys
a dialog holds need no lock beyond the engine's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite

from storage.chat import statements as sql
from storage.chat.group_commit import GroupCommit, TurnWrite
from storage.chat.statements import Row, Statement
from storage.chat.store import ChatStore
from storage.chat.turn import Loaded, new_conversation


@dataclass
class SqliteExecutor:
    reader: aiosqlite.Connection
    writes: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    async def rows(self, statement: Statement, params: dict[str, Any]) -> list[Row]:
        found = await self.reader.execute_fetchall(statement.sqlite_sql, statement.sqlite_params(params))
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
        self._conn: aiosqlite.Connection | None = None
        self._opening = asyncio.Lock()
        self._group = GroupCommit(path)

    async def _reader(self) -> aiosqlite.Connection:
        if self._conn is not None:
            return self._conn
        async with self._opening:
            if self._conn is None:
                conn = await aiosqlite.connect(self.path)
                await conn.execute("PRAGMA busy_timeout=10000")
                self._conn = conn
        return self._conn

    @asynccontextmanager
    async def turn(self, user: str, msg_id: str | None) -> AsyncIterator[SqliteTurn]:
        reader = await self._reader()
        found = await reader.execute_fetchall(
            sql.LOAD_STATE.sqlite_sql, sql.LOAD_STATE.sqlite_params({"user": user, "msg": msg_id})
        )
        loaded = Loaded(*sql.LOAD_STATE.sqlite_row(found[0])) if found else new_conversation()
        executor = SqliteExecutor(reader)
        yield SqliteTurn(user, loaded, ChatStore(executor), executor, self._group)

    async def remembered(self, user: str, msg_id: str) -> list[dict[str, Any]] | None:
        rows = await (await self._reader()).execute_fetchall(
            sql.REMEMBERED.sqlite_sql, sql.REMEMBERED.sqlite_params({"user": user, "msg": msg_id})
        )
        return sql.REMEMBERED.sqlite_row(rows[0])[0] if rows else None

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        await self._group.close()
