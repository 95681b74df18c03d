"""What the dialogs read and write besides their own state, always as part of the turn.

Bindings, identity throttles, sent codes and the SMS outbox are written with the turn's state, so a crash
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

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Executable

from bot.sqlite_fast import read_time
from core.throttle import Counter, Scope, SentCodes
from storage.bulk import sqlite_datetime
from storage.models import Binding, CodeRequest, Entity, IdentityThrottle, IssuedReport, OutboxMessage

_entity = Entity.__table__
_binding = Binding.__table__
_throttle = IdentityThrottle.__table__
_codes = CodeRequest.__table__
_issued = IssuedReport.__table__
_outbox = OutboxMessage.__table__

#: Sent-code rows older than this serve no limit any more and are pruned as new ones arrive.
CODE_HISTORY = timedelta(days=1)

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


_ENTITY_COLUMNS = tuple(EntityRow.__dataclass_fields__)
_ISSUED_COLUMNS = tuple(IssuedRow.__dataclass_fields__)
_SQL = {
    "entity": f"SELECT {', '.join(_ENTITY_COLUMNS)} FROM entity WHERE uscc = ?",
    "bindings": "SELECT b.uscc, e.name, b.expires_at FROM binding b JOIN entity e ON e.uscc = b.uscc"
    " WHERE b.user_id = ? AND b.expires_at > ? ORDER BY b.confirmed_at DESC",
    "throttle": "SELECT failures, window_start, locked_until, locks FROM identity_throttle"
    " WHERE scope = ? AND subject = ?",
    "save_throttle": "INSERT INTO identity_throttle"
    " (scope, subject, failures, window_start, locked_until, locks, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (scope, subject) DO UPDATE SET failures = excluded.failures,"
    " window_start = excluded.window_start, locked_until = excluded.locked_until,"
    " locks = excluded.locks, updated_at = excluded.updated_at",
    "forgive": "UPDATE identity_throttle SET failures = 0, updated_at = ? WHERE scope = ? AND subject = ?",
    **{
        f"codes_by_{column}": "SELECT count(*), min(sent_at), max(sent_at) FROM code_request"
        f" WHERE {column} = ? AND sent_at > ?"
        for column in ("phone_hash", "client", "user_id")
    },
    "code_sent": "INSERT INTO code_request (phone_hash, user_id, client, sent_at) VALUES (?, ?, ?, ?)",
    "prune_codes": "DELETE FROM code_request WHERE phone_hash = ? AND sent_at < ?",
    "bind": "INSERT INTO binding (user_id, uscc, confirmed_at, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (user_id, uscc) DO UPDATE SET confirmed_at = excluded.confirmed_at,"
    " expires_at = excluded.expires_at",
    "outbox": "INSERT INTO outbox_message (channel, recipient, body, created_at) VALUES (?, ?, ?, ?)",
    "issued": f"SELECT {', '.join(_ISSUED_COLUMNS)} FROM issued_report WHERE report_no = ?",
}


#: A transaction-scoped lock on a 64-bit hash of the key, released by the turn's commit.
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


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

    async def serialize(self, keys: list[str]) -> None:
        """Across processes (PostgreSQL), hold `keys` until the turn commits.

        On SQLite there is one service process, whose engine already serialises the keys.
        """
        if self.conn is not None:
            for key in sorted(keys):
                await self.conn.execute(_ADVISORY_LOCK, {"key": key})

    async def throttle(self, scope: Scope, subject: str) -> Counter | None:
        rows = await self._read(
            _SQL["throttle"],
            (scope.value, subject),
            lambda: select(
                _throttle.c.failures, _throttle.c.window_start, _throttle.c.locked_until, _throttle.c.locks
            ).where(_throttle.c.scope == scope.value, _throttle.c.subject == subject),
        )
        if not rows:
            return None
        failures, window_start, locked_until, locks = rows[0]
        return Counter(failures, read_time(window_start), read_time(locked_until), locks)

    async def save_throttle(self, scope: Scope, subject: str, counter: Counter, now: datetime) -> None:
        values = {
            "failures": counter.failures,
            "window_start": counter.window_start,
            "locked_until": counter.locked_until,
            "locks": counter.locks,
            "updated_at": now,
        }
        params = (
            scope.value,
            subject,
            counter.failures,
            sqlite_datetime(counter.window_start),
            sqlite_datetime(counter.locked_until),
            counter.locks,
            sqlite_datetime(now),
        )
        await self._write(
            _SQL["save_throttle"],
            params,
            lambda: (
                postgresql.insert(_throttle)
                .values(scope=scope.value, subject=subject, **values)
                .on_conflict_do_update(index_elements=["scope", "subject"], set_=values)
            ),
        )

    async def forgive(self, scope: Scope, subject: str, now: datetime) -> None:
        """Earlier wrong answers stop counting; the lock history stays (it drives the doubling)."""
        await self._write(
            _SQL["forgive"],
            (sqlite_datetime(now), scope.value, subject),
            lambda: (
                update(_throttle)
                .where(_throttle.c.scope == scope.value, _throttle.c.subject == subject)
                .values(failures=0, updated_at=now)
            ),
        )

    async def codes_sent(self, phone_hash: str, client: str, user: str, since: datetime) -> SentCodes:
        """Codes sent after `since` to the phone, from the client address and for the user."""
        counts = []
        for column, value in (("phone_hash", phone_hash), ("client", client), ("user_id", user)):
            rows = await self._read(
                _SQL[f"codes_by_{column}"],
                (value, sqlite_datetime(since)),
                lambda column=column, value=value: select(
                    func.count(), func.min(_codes.c.sent_at), func.max(_codes.c.sent_at)
                ).where(_codes.c[column] == value, _codes.c.sent_at > since),
            )
            count, first, last = rows[0]
            counts.append((count, read_time(first), read_time(last)))
        (to_phone, first_phone, last_phone), (by_client, first_client, _), (by_user, first_user, _) = counts
        return SentCodes(
            to_phone=to_phone,
            first_to_phone=first_phone,
            last_to_phone=last_phone,
            # Without a known address (a channel that does not give one) there is no per-address limit.
            by_client=by_client if client else 0,
            first_by_client=first_client if client else None,
            by_user=by_user,
            first_by_user=first_user,
        )

    async def code_sent(self, phone_hash: str, client: str, user: str, now: datetime) -> None:
        await self._write(
            _SQL["code_sent"],
            (phone_hash, user, client, sqlite_datetime(now)),
            lambda: insert(_codes).values(phone_hash=phone_hash, user_id=user, client=client, sent_at=now),
        )
        old = now - CODE_HISTORY
        await self._write(
            _SQL["prune_codes"],
            (phone_hash, sqlite_datetime(old)),
            lambda: _codes.delete().where(_codes.c.phone_hash == phone_hash, _codes.c.sent_at < old),
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
