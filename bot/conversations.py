"""Persistence of one user's conversation: state row, optimistic version, and message-id dedupe.

On PostgreSQL every call runs in the turn's transaction, so the state, the replies
remembered for a message id and anything a dialog wrote (bindings, the SMS outbox) commit or
vanish together. On SQLite the state is read with `load_sqlite` and written by the group
commit (`bot.group_commit`), which keeps the same all-or-nothing rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sqlite_fast import read_time
from storage.models import Conversation, ProcessedMessage

_conv = Conversation.__table__
_done = ProcessedMessage.__table__


class VersionConflictError(Exception):
    """Another process changed the conversation since it was loaded; the turn is run again."""


class DuplicateMessageError(Exception):
    """Another process answered the same message id first; its replies are the answer."""


@dataclass
class Loaded:
    state: dict[str, Any]
    version: int
    updated_at: datetime | None
    replies: list[dict[str, Any]] | None

    @property
    def exists(self) -> bool:
        return self.updated_at is not None


_USER = _conv.c.user_id == bindparam("user")
_PROBE = select(_done.c.replies).where(
    _done.c.user_id == bindparam("user"), _done.c.msg_id == bindparam("msg")
)
#: PostgreSQL: the row lock first, so that the dedupe probe sees what the previous holder committed.
_LOCKED = select(_conv.c.state, _conv.c.version, _conv.c.updated_at).where(_USER).with_for_update()


_SQLITE_LOAD = (
    "SELECT state, version, updated_at,"
    " (SELECT replies FROM processed_message WHERE user_id = ? AND msg_id = ?)"
    " FROM conversation WHERE user_id = ?"
)


async def load(conn: AsyncConnection, user: str, msg_id: str | None) -> Loaded:
    """The state, read after the row lock is taken, plus earlier replies to `msg_id` if any.

    A brand-new user has no row yet (and so no remembered replies, which commit with the
    state); `save` inserts it, and the primary key turns a race between two processes into a
    VersionConflictError.
    """
    params = {"user": user, "msg": msg_id}
    row = (await conn.execute(_LOCKED, params)).first()
    if row is None:
        return Loaded({}, 0, None, None)
    replies = (await conn.execute(_PROBE, params)).scalar() if msg_id is not None else None
    return Loaded(dict(row.state), row.version, row.updated_at, replies)


async def load_sqlite(driver: Any, user: str, msg_id: str | None) -> Loaded:
    """`load` on SQLite's shared read connection: one round trip for the state and the dedupe probe.

    SQLite has no row locks: one process serialises a user's turns in process, and another
    process writing meanwhile is caught by the version check of the group commit.
    """
    rows = await driver.execute_fetchall(_SQLITE_LOAD, (user, msg_id, user))
    if not rows:
        return Loaded({}, 0, None, None)
    state, version, updated_at, replies = rows[0]
    return Loaded(json.loads(state), version, read_time(updated_at), json.loads(replies) if replies else None)


async def save(conn: AsyncConnection, user: str, loaded: Loaded, state: dict[str, Any], now: datetime) -> int:
    """Write the new state if nobody else did meanwhile; returns the new version."""
    if not loaded.exists:
        try:
            await conn.execute(insert(_conv).values(user_id=user, state=state, version=1, updated_at=now))
        except IntegrityError as error:
            raise VersionConflictError(user) from error
        return 1
    result = await conn.execute(
        update(_conv)
        .where(_conv.c.user_id == user, _conv.c.version == loaded.version)
        .values(state=state, version=loaded.version + 1, updated_at=now)
    )
    if result.rowcount != 1:
        raise VersionConflictError(user)
    return loaded.version + 1


async def remember(
    conn: AsyncConnection, user: str, msg_id: str, replies: list[dict[str, Any]], now: datetime
) -> None:
    """Keep the replies to `msg_id`; a second process answering the same id loses on the unique key.

    Both errors leave the transaction unusable on PostgreSQL, which is what we want: the whole
    turn is rolled back and the caller answers from what the winner stored.
    """
    try:
        await conn.execute(insert(_done).values(user_id=user, msg_id=msg_id, replies=replies, created_at=now))
    except IntegrityError as error:
        raise DuplicateMessageError(msg_id) from error


async def remembered(conn: AsyncConnection, user: str, msg_id: str) -> list[dict[str, Any]] | None:
    return (await conn.execute(_PROBE, {"user": user, "msg": msg_id})).scalar()
