"""Timestamps as either database returns them, read back as aware UTC datetimes.

SQLite's raw turn path gets SQLAlchemy's storage text ("2026-12-04 03:00:00.000000", naive UTC,
see `storage.bulk.sqlite_datetime`); PostgreSQL gives datetimes. Both become aware UTC here.
"""

from __future__ import annotations

from datetime import UTC, datetime


def read_time(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
