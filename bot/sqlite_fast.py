"""Values as the chat's plain-SQL SQLite statements read and write them.

On SQLite the chat's turn path bypasses SQLAlchemy (see `bot.engine`), so it must store
timestamps exactly as the UTCDateTime column type does, and read them back from either
database.
"""

from __future__ import annotations

from datetime import UTC, datetime

#: How SQLAlchemy's DateTime stores a (UTC) timestamp in SQLite; it sorts like the time itself.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def sqlite_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_SQLITE_TIME)


def read_time(value: str | datetime | None) -> datetime | None:
    """A timestamp as either database returns it, as an aware UTC datetime."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
