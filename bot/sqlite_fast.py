"""Direct driver access for the chat's hottest SQLite statements.

On SQLite every statement is a hand-off to aiosqlite's worker thread, and SQLAlchemy's
adapter makes three of them per statement (cursor, execute, fetch/close) where aiosqlite's
`execute_fetchall` makes one. The chat therefore runs a few fixed statements on the driver
connection underneath the turn's SQLAlchemy transaction — same connection, same transaction —
storing values exactly as the JSON and UTCDateTime column types do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

#: How SQLAlchemy's DateTime stores a (UTC) timestamp in SQLite; it sorts like the time itself.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


async def sqlite_driver(conn: AsyncConnection) -> Any | None:
    """The aiosqlite connection under the turn's transaction, or None on other databases."""
    if conn.dialect.name != "sqlite":
        return None
    return (await conn.get_raw_connection()).driver_connection


def sqlite_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_SQLITE_TIME)


def read_time(value: str | datetime | None) -> datetime | None:
    """A timestamp as either database returns it, as an aware UTC datetime."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
