"""What the dialogs read and write besides their own state, always as part of the turn.

Bindings, identity attempts and the SMS outbox are written with the turn's state, so a crash
between "code accepted" and "state saved" can never leave a binding the user was not told of.

Two forms with one interface: on PostgreSQL every statement runs at once in the turn's
transaction (Core). On SQLite reads go to the shared read connection and writes are handed
to the group commit with the state (see `bot.engine`); the statements are the same, written
as SQL for the driver. A binding created in this turn is remembered so the same turn reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Executable

from bot.sqlite_fast import read_time
from storage.bulk import sqlite_datetime
from storage.models import Binding, Entity, IdentityAttempt, IssuedReport, OutboxMessage

_entity = Entity.__table__
_binding = Binding.__table__
_attempt = IdentityAttempt.__table__
_issued = IssuedReport.__table__
_outbox = OutboxMessage.__table__

#: Wrong identity answers (name, ID tail or code) allowed before the entity is locked for the user.
MAX_FAILURES = 5
LOCK_DURATION = timedelta(minutes=15)

Write = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class BoundEntity:
    uscc: str
    name: str
    expires_at: datetime


@dataclass(frozen=True)
class EntityRow:
    """What the dialogs need of an entity (never the full ID-number hash)."""

    uscc: str
    name: str
    entity_type: str
    legal_rep: str
    legal_rep_id_tail_hash: str
    phone: str
    false_commitment: bool


@dataclass(frozen=True)
class IssuedRow:
    report_no: str
    verify_code: str
    uscc: str
    entity_name: str
    period_start: date
    period_end: date
    domains: list[int]
    issued_at: datetime


@dataclass(frozen=True)
class Failure:
    remaining: int
    locked_until: datetime | None


_ENTITY_COLUMNS = tuple(EntityRow.__dataclass_fields__)
_ISSUED_COLUMNS = tuple(IssuedRow.__dataclass_fields__)
_SQL = {
    "entity": f"SELECT {', '.join(_ENTITY_COLUMNS)} FROM entity WHERE uscc = ?",
    "bindings": "SELECT b.uscc, e.name, b.expires_at FROM binding b JOIN entity e ON e.uscc = b.uscc"
    " WHERE b.user_id = ? AND b.expires_at > ? ORDER BY b.confirmed_at DESC",
    "attempt": "SELECT failures, locked_until FROM identity_attempt WHERE user_id = ? AND uscc = ?",
    "bind": "INSERT INTO binding (user_id, uscc, confirmed_at, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (user_id, uscc) DO UPDATE SET confirmed_at = excluded.confirmed_at,"
    " expires_at = excluded.expires_at",
    "fail": "INSERT INTO identity_attempt (user_id, uscc, failures, locked_until, updated_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, uscc) DO UPDATE SET failures = excluded.failures,"
    " locked_until = excluded.locked_until, updated_at = excluded.updated_at",
    "clear": "DELETE FROM identity_attempt WHERE user_id = ? AND uscc = ?",
    "outbox": "INSERT INTO outbox_message (channel, recipient, body, created_at) VALUES (?, ?, ?, ?)",
    "issued": f"SELECT {', '.join(_ISSUED_COLUMNS)} FROM issued_report WHERE report_no = ?",
}


def _issued_row(values: tuple[Any, ...]) -> IssuedRow:
    row = dict(zip(_ISSUED_COLUMNS, values, strict=True))
    for key in ("period_start", "period_end"):
        if isinstance(row[key], str):
            row[key] = date.fromisoformat(row[key])
    if isinstance(row["domains"], str):
        row["domains"] = json.loads(row["domains"])
    row["issued_at"] = read_time(row["issued_at"])
    return IssuedRow(**row)


@dataclass
class ChatStore:
    """`conn` on PostgreSQL; `reader` and `writes` on SQLite (writes go out with the state)."""

    conn: AsyncConnection | None = None
    reader: Any | None = None
    writes: list[Write] = field(default_factory=list)
    _new_bindings: list[BoundEntity] = field(default_factory=list)

    async def _read(
        self, sql: str, params: tuple[Any, ...], statement: Callable[[], Executable]
    ) -> list[tuple[Any, ...]]:
        """`statement` builds the Core form, only on PostgreSQL: SQLite's hot path never pays for it."""
        if self.reader is not None:
            return list(await self.reader.execute_fetchall(sql, params))
        assert self.conn is not None
        return [tuple(row) for row in (await self.conn.execute(statement())).all()]

    async def _write(self, sql: str, params: tuple[Any, ...], statement: Callable[[], Executable]) -> None:
        if self.reader is not None:
            self.writes.append((sql, params))
        else:
            assert self.conn is not None
            await self.conn.execute(statement())

    async def entity(self, uscc: str) -> EntityRow | None:
        rows = await self._read(
            _SQL["entity"],
            (uscc,),
            lambda: select(*(_entity.c[name] for name in _ENTITY_COLUMNS)).where(_entity.c.uscc == uscc),
        )
        if not rows:
            return None
        values = dict(zip(_ENTITY_COLUMNS, rows[0], strict=True))
        return EntityRow(**{**values, "false_commitment": bool(values["false_commitment"])})

    async def bindings(self, user: str, now: datetime) -> list[BoundEntity]:
        rows = await self._read(
            _SQL["bindings"],
            (user, sqlite_datetime(now)),
            lambda: (
                select(_binding.c.uscc, _entity.c.name, _binding.c.expires_at)
                .join(_entity, _entity.c.uscc == _binding.c.uscc)
                .where(_binding.c.user_id == user, _binding.c.expires_at > now)
                .order_by(_binding.c.confirmed_at.desc())
            ),
        )
        stored = [BoundEntity(uscc, name, read_time(expires)) for uscc, name, expires in rows]
        fresh = {b.uscc for b in self._new_bindings}
        return self._new_bindings + [b for b in stored if b.uscc not in fresh]

    async def bind(self, user: str, uscc: str, name: str, now: datetime, days: int) -> datetime:
        """Create or renew the binding; returns when it expires."""
        expires = now + timedelta(days=days)
        await self._write(
            _SQL["bind"],
            (user, uscc, sqlite_datetime(now), sqlite_datetime(expires)),
            lambda: (
                postgresql.insert(_binding)
                .values(user_id=user, uscc=uscc, confirmed_at=now, expires_at=expires)
                .on_conflict_do_update(
                    index_elements=["user_id", "uscc"], set_={"confirmed_at": now, "expires_at": expires}
                )
            ),
        )
        self._new_bindings.insert(0, BoundEntity(uscc, name, expires))
        return expires

    async def _failures(self, user: str, uscc: str) -> tuple[int, datetime | None]:
        """Failures so far and the lock's end for this (user, entity); (0, None) when none."""
        rows = await self._read(
            _SQL["attempt"],
            (user, uscc),
            lambda: select(_attempt.c.failures, _attempt.c.locked_until).where(
                _attempt.c.user_id == user, _attempt.c.uscc == uscc
            ),
        )
        return (rows[0][0], read_time(rows[0][1])) if rows else (0, None)

    async def locked_until(self, user: str, uscc: str, now: datetime) -> datetime | None:
        _, until = await self._failures(user, uscc)
        if until is None or until <= now:
            return None
        return until

    async def record_failure(self, user: str, uscc: str, now: datetime) -> Failure:
        """Count a wrong answer; the fifth within a lock period locks the pair for LOCK_DURATION.

        Only this user's turns touch the row, and they are serialised, so read-then-write is safe.
        """
        failures, until = await self._failures(user, uscc)
        if until is not None and until <= now:
            failures = 0
        failures += 1
        locked_until = now + LOCK_DURATION if failures >= MAX_FAILURES else None
        stored = 0 if locked_until else failures
        values = {"failures": stored, "locked_until": locked_until, "updated_at": now}
        params = (
            user,
            uscc,
            stored,
            sqlite_datetime(locked_until) if locked_until else None,
            sqlite_datetime(now),
        )
        await self._write(
            _SQL["fail"],
            params,
            lambda: (
                postgresql.insert(_attempt)
                .values(user_id=user, uscc=uscc, **values)
                .on_conflict_do_update(index_elements=["user_id", "uscc"], set_=values)
            ),
        )
        return Failure(remaining=max(0, MAX_FAILURES - failures), locked_until=locked_until)

    async def clear_failures(self, user: str, uscc: str) -> None:
        await self._write(
            _SQL["clear"],
            (user, uscc),
            lambda: delete(_attempt).where(_attempt.c.user_id == user, _attempt.c.uscc == uscc),
        )

    async def outbox(self, channel: str, recipient: str, body: str, now: datetime) -> None:
        await self._write(
            _SQL["outbox"],
            (channel, recipient, body, sqlite_datetime(now)),
            lambda: insert(_outbox).values(channel=channel, recipient=recipient, body=body, created_at=now),
        )

    async def recent_reports(self, usccs: list[str], limit: int = 10) -> list[IssuedRow]:
        marks = ", ".join("?" * len(usccs))
        sql = (
            f"SELECT {', '.join(_ISSUED_COLUMNS)} FROM issued_report WHERE uscc IN ({marks})"
            " ORDER BY issued_at DESC, report_no DESC LIMIT ?"
        )
        rows = await self._read(
            sql,
            (*usccs, limit),
            lambda: (
                select(*(_issued.c[name] for name in _ISSUED_COLUMNS))
                .where(_issued.c.uscc.in_(usccs))
                .order_by(_issued.c.issued_at.desc(), _issued.c.report_no.desc())
                .limit(limit)
            ),
        )
        return [_issued_row(row) for row in rows]

    async def issued(self, report_no: str) -> IssuedRow | None:
        rows = await self._read(
            _SQL["issued"],
            (report_no,),
            lambda: select(*(_issued.c[name] for name in _ISSUED_COLUMNS)).where(
                _issued.c.report_no == report_no
            ),
        )
        return _issued_row(rows[0]) if rows else None
