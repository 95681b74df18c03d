"""Bulk inserts that stay close to the driver's own executemany speed.

Imports and the demo generator write millions of rows. SQLAlchemy's per-row bind processing
costs more than SQLite's insert itself, so on SQLite the values are converted once to the
text forms SQLAlchemy would store (ISO dates, naive UTC datetimes, JSON text) and handed to
the driver's executemany; reading them back through the ORM gives the same Python values.
Dates and timestamps repeat across a batch, so their conversions are cached.
PostgreSQL goes through SQLAlchemy Core, whose asyncpg executemany batches rows itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON, Date, DateTime, Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

Converter = Callable[[Any], Any]


@lru_cache(maxsize=8192)
def sqlite_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@lru_cache(maxsize=64)
def sqlite_datetime(value: datetime | None) -> str | None:
    """The storage format of SQLAlchemy's SQLite DATETIME, in UTC as UTCDateTime expects."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def sqlite_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def sqlite_converter(column_type: Any) -> Converter | None:
    # DateTime before Date: neither subclasses the other, but UTCDateTime wraps DateTime.
    impl = getattr(column_type, "impl", column_type)
    if isinstance(impl, DateTime):
        return sqlite_datetime
    if isinstance(impl, Date):
        return sqlite_date
    if isinstance(impl, JSON):
        return sqlite_json
    return None


async def insert_rows(
    connection: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    skip_conflicts: bool = False,
) -> int:
    """Insert `rows` (Python values in the order of `columns`) in one executemany.

    With `skip_conflicts`, rows that would violate a unique constraint are left out. Returns
    the number of rows inserted, or -1 when the driver cannot tell.
    """
    if connection.dialect.name == "sqlite":
        converters = [
            (i, conv) for i, name in enumerate(columns) if (conv := sqlite_converter(table.c[name].type))
        ]
        if converters:
            converted = []
            for row in rows:
                values = list(row)
                for i, conv in converters:
                    values[i] = conv(values[i])
                converted.append(tuple(values))
            rows = converted
        return await insert_sqlite_rows(connection, table, columns, rows, skip_conflicts)
    if not rows:
        return 0
    statement = pg_insert(table).on_conflict_do_nothing() if skip_conflicts else insert(table)
    result = await connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])
    return result.rowcount


async def insert_sqlite_rows(
    connection: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    skip_conflicts: bool = False,
) -> int:
    """Insert rows already in SQLite's storage forms (see the module docstring); returns the count."""
    if not rows:
        return 0
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" * len(columns))
    conflicts = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks}){conflicts}'
    return (await connection.exec_driver_sql(sql, rows)).rowcount
