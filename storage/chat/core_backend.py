"""Chat turns through SQLAlchemy Core: PostgreSQL, where several service processes share one database.

A turn is one transaction: the state is read under `SELECT … FOR UPDATE`, so it is always read
after the row lock is held and two processes cannot interleave one user's messages; every
statement of the dialogs runs at once inside it, and the commit is the context's exit. Keys a
dialog holds (`ChatStore.serialize`) become transaction-scoped advisory locks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.chat import statements as sql
from storage.chat.statements import Row, Statement
from storage.chat.store import ChatStore
from storage.chat.turn import DuplicateMessageError, Loaded, VersionConflictError, new_conversation


@dataclass
class CoreExecutor:
    conn: AsyncConnection

    async def rows(self, statement: Statement, params: dict[str, Any]) -> list[Row]:
        return [tuple(row) for row in (await self.conn.execute(statement.core, params)).all()]

    async def run(self, statement: Statement, params: dict[str, Any]) -> None:
        await self.conn.execute(statement.core, params)

    async def lock(self, keys: list[str]) -> None:
        if self.conn.dialect.name == "postgresql":
            for key in sorted(keys):
                await self.conn.execute(sql.ADVISORY_LOCK, {"key": key})


@dataclass
class CoreTurn:
    user: str
    loaded: Loaded
    store: ChatStore
    conn: AsyncConnection
    version: int = 0

    async def commit(
        self, state: dict[str, Any], now: datetime, replies: list[dict[str, Any]], msg_id: str | None
    ) -> None:
        """Both errors leave the transaction unusable on PostgreSQL, which is what we want: the
        whole turn is rolled back and the engine runs it again or answers from the winner."""
        loaded = self.loaded
        if not loaded.exists:
            try:
                await self.conn.execute(
                    sql.INSERT_STATE.core, {"user": self.user, "b_state": state, "now": now}
                )
            except IntegrityError as error:
                raise VersionConflictError(self.user) from error
            self.version = 1
        else:
            params = {
                "user": self.user,
                "b_state": state,
                "now": now,
                "b_version": loaded.version,
                "new_version": loaded.version + 1,
            }
            if (await self.conn.execute(sql.UPDATE_STATE.core, params)).rowcount != 1:
                raise VersionConflictError(self.user)
            self.version = loaded.version + 1
        if msg_id is not None:
            params = {"user": self.user, "msg": msg_id, "b_replies": replies, "now": now}
            try:
                await self.conn.execute(sql.REMEMBER.core, params)
            except IntegrityError as error:
                raise DuplicateMessageError(msg_id) from error


class CoreBackend:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def turn(self, user: str, msg_id: str | None) -> AsyncIterator[CoreTurn]:
        async with self.engine.begin() as conn:
            yield CoreTurn(user, await _load(conn, user, msg_id), ChatStore(CoreExecutor(conn)), conn)

    async def remembered(self, user: str, msg_id: str) -> list[dict[str, Any]] | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(sql.REMEMBERED.core, {"user": user, "msg": msg_id})).scalar()

    async def close(self) -> None:
        """The engine belongs to the application, which disposes of it."""


async def _load(conn: AsyncConnection, user: str, msg_id: str | None) -> Loaded:
    """A brand-new user has no row yet (and so no remembered replies, which commit with the state);
    `commit` inserts it, and the primary key turns a race of two processes into a version conflict."""
    row = (await conn.execute(sql.LOCK_STATE.core, {"user": user})).first()
    if row is None:
        return new_conversation()
    replies = None
    if msg_id is not None:
        replies = (await conn.execute(sql.REMEMBERED.core, {"user": user, "msg": msg_id})).scalar()
    return Loaded(dict(row.state), row.version, row.updated_at, replies)
