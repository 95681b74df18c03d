"""What the dialogs read and write besides their own state, on the turn's connection.

Bindings, identity attempts and report look-ups share the turn's transaction, so a crash
between "code accepted" and "state saved" can never leave a binding the user was not told of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sqlite_fast import read_time, sqlite_driver, sqlite_time
from storage.models import Binding, Entity, IdentityAttempt, IssuedReport

_entity = Entity.__table__
_binding = Binding.__table__
_attempt = IdentityAttempt.__table__
_issued = IssuedReport.__table__

#: Wrong identity answers (name, ID tail or code) allowed before the entity is locked for the user.
MAX_FAILURES = 5
LOCK_DURATION = timedelta(minutes=15)


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


_ENTITY_COLUMNS = tuple(EntityRow.__dataclass_fields__)
_ENTITY_SQL = f"SELECT {', '.join(_ENTITY_COLUMNS)} FROM entity WHERE uscc = ?"
_BINDINGS_SQL = (
    "SELECT b.uscc, e.name, b.expires_at FROM binding b JOIN entity e ON e.uscc = b.uscc"
    " WHERE b.user_id = ? AND b.expires_at > ? ORDER BY b.confirmed_at DESC"
)
_LOCK_SQL = "SELECT locked_until FROM identity_attempt WHERE user_id = ? AND uscc = ?"


@dataclass(frozen=True)
class Failure:
    remaining: int
    locked_until: datetime | None


class StoreNeededError(Exception):
    """A dialog reached for the database during a turn run without a connection (see bot.engine)."""


class ChatStore:
    def __init__(self, conn: AsyncConnection | None) -> None:
        self._conn = conn

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise StoreNeededError
        return self._conn

    async def _rows(self, sqlite_sql: str, params: tuple[Any, ...], statement: Any) -> list[tuple[Any, ...]]:
        """Hot reads: one driver round trip on SQLite (see bot.sqlite_fast), Core elsewhere."""
        driver = await sqlite_driver(self.conn)
        if driver is not None:
            return list(await driver.execute_fetchall(sqlite_sql, params))
        return [tuple(row) for row in (await self.conn.execute(statement)).all()]

    async def entity(self, uscc: str) -> EntityRow | None:
        statement = select(*(_entity.c[name] for name in _ENTITY_COLUMNS)).where(_entity.c.uscc == uscc)
        rows = await self._rows(_ENTITY_SQL, (uscc,), statement)
        if not rows:
            return None
        values = dict(zip(_ENTITY_COLUMNS, rows[0], strict=True))
        return EntityRow(**{**values, "false_commitment": bool(values["false_commitment"])})

    async def bindings(self, user: str, now: datetime) -> list[BoundEntity]:
        statement = (
            select(_binding.c.uscc, _entity.c.name, _binding.c.expires_at)
            .join(_entity, _entity.c.uscc == _binding.c.uscc)
            .where(_binding.c.user_id == user, _binding.c.expires_at > now)
            .order_by(_binding.c.confirmed_at.desc())
        )
        rows = await self._rows(_BINDINGS_SQL, (user, sqlite_time(now)), statement)
        return [BoundEntity(uscc, name, read_time(expires)) for uscc, name, expires in rows]

    async def bind(self, user: str, uscc: str, now: datetime, days: int) -> datetime:
        """Create or renew the binding; returns when it expires."""
        expires = now + timedelta(days=days)
        values = {"confirmed_at": now, "expires_at": expires}
        result = await self.conn.execute(
            update(_binding).where(_binding.c.user_id == user, _binding.c.uscc == uscc).values(**values)
        )
        if result.rowcount == 0:
            await self.conn.execute(insert(_binding).values(user_id=user, uscc=uscc, **values))
        return expires

    async def locked_until(self, user: str, uscc: str, now: datetime) -> datetime | None:
        statement = select(_attempt.c.locked_until).where(_attempt.c.user_id == user, _attempt.c.uscc == uscc)
        rows = await self._rows(_LOCK_SQL, (user, uscc), statement)
        until = read_time(rows[0][0]) if rows else None
        if until is None or until <= now:
            return None
        return until

    async def record_failure(self, user: str, uscc: str, now: datetime) -> Failure:
        """Count a wrong answer; the fifth within a lock period locks the pair for LOCK_DURATION.

        Only this user's turns touch the row, and they are serialised, so read-then-write is safe.
        """
        where = (_attempt.c.user_id == user, _attempt.c.uscc == uscc)
        row = (
            await self.conn.execute(select(_attempt.c.failures, _attempt.c.locked_until).where(*where))
        ).first()
        expired_lock = row is not None and row.locked_until is not None and row.locked_until <= now
        failures = 1 if row is None or expired_lock else row.failures + 1
        locked_until = now + LOCK_DURATION if failures >= MAX_FAILURES else None
        values = {
            "failures": 0 if locked_until else failures,
            "locked_until": locked_until if locked_until else None,
            "updated_at": now,
        }
        if row is None:
            await self.conn.execute(insert(_attempt).values(user_id=user, uscc=uscc, **values))
        else:
            await self.conn.execute(update(_attempt).where(*where).values(**values))
        return Failure(remaining=max(0, MAX_FAILURES - failures), locked_until=locked_until)

    async def clear_failures(self, user: str, uscc: str) -> None:
        await self.conn.execute(delete(_attempt).where(_attempt.c.user_id == user, _attempt.c.uscc == uscc))

    async def recent_reports(self, usccs: list[str], limit: int = 10) -> list[Any]:
        statement = (
            select(
                _issued.c.report_no,
                _issued.c.verify_code,
                _issued.c.entity_name,
                _issued.c.period_start,
                _issued.c.period_end,
                _issued.c.domains,
                _issued.c.issued_at,
            )
            .where(_issued.c.uscc.in_(usccs))
            .order_by(_issued.c.issued_at.desc(), _issued.c.report_no.desc())
            .limit(limit)
        )
        return list((await self.conn.execute(statement)).all())

    async def issued(self, report_no: str) -> Any | None:
        statement = select(_issued).where(_issued.c.report_no == report_no)
        return (await self.conn.execute(statement)).first()

    async def issued_since(
        self, user: str, uscc: str, start: date, end: date, domains: list[int], since: datetime
    ) -> str | None:
        """The report this user's confirmation produced, if it was issued before a crash or a retry."""
        statement = (
            select(_issued.c.report_no, _issued.c.domains)
            .where(
                _issued.c.user_id == user,
                _issued.c.uscc == uscc,
                _issued.c.period_start == start,
                _issued.c.period_end == end,
                _issued.c.issued_at >= since,
            )
            .order_by(_issued.c.issued_at)
        )
        for row in (await self.conn.execute(statement)).all():
            if sorted(row.domains) == sorted(domains):
                return row.report_no
        return None
