"""Values as the chat's plain-SQL SQLite statements read and write them.

On SQLite the chat's turn path bypasses SQLAlchemy (see `bot.engine`); it writes timestamps
with `storage.bulk.sqlite_datetime`, exactly as the UTCDateTime column type stores them, and
reads them back from either database here.
"""

from __future__ import annotations

from datetime import UTC, datetime


def read_time(value: str | datetime | None) -> datetime | None:
    """A timestamp as either database returns it, as an aware UTC datetime."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
