"""The chat's persistence: conversation state, message-id dedupe, and what dialogs read and write.

Each statement is written once (`statements`); `store.ChatStore` is the dialogs' view; a
backend runs turns: `SqliteBackend` (shared reader, group commit, one process) for a SQLite
file, `CoreBackend` (one transaction a turn, row and advisory locks, many processes) for
PostgreSQL. The application picks one with `backend_for`; the engine never looks at the dialect.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.chat.core_backend import CoreBackend
from storage.chat.sqlite_backend import SqliteBackend


def backend_for(engine: AsyncEngine) -> CoreBackend | SqliteBackend:
    """The group-commit backend for a SQLite file; Core for PostgreSQL (and in-memory SQLite)."""
    path = engine.url.database
    if engine.dialect.name == "sqlite" and path and path != ":memory:":
        return SqliteBackend(path)
    return CoreBackend(engine)
