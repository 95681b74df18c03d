"""What the dialogs read and write besides their own state, always as part of the turn.

Bindings, identity throttles, sent codes and the SMS outbox are written with the turn's state,
so a crash between "code accepted" and "state saved" can never leave a binding the user was
not told of. The store is written once over an `Executor`: the PostgreSQL backend runs each
statement at once in the turn's transaction, the SQLite backend reads from the shared read
connection and queues the writes for the group commit (see `storage.chat.sqlite_backend`).
A binding created in this turn is remembered so that the same turn reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from core.throttle import Counter, Scope, SentCodes
from storage.chat import statements as sql
from storage.chat.statements import Row, Statement

#: Sent-code rows older than this serve no limit any more and are pruned as new ones arrive.
CODE_HISTORY = timedelta(days=1)


class Executor(Protocol):
    """How one backend runs the store's statements inside the turn."""

    async def rows(self, statement: Statement, params: dict[str, Any]) -> list[Row]: ...

    async def run(self, statement: Statement, params: dict[str, Any]) -> None: ...

    async def lock(self, keys: list[str]) -> None:
        """Hold `keys` against other processes until the turn commits (a no-op for one process)."""
        ...


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


@dataclass
class ChatStore:
    executor: Executor
    _new_bindings: list[BoundEntity] = field(default_factory=list)

    async def serialize(self, keys: list[str]) -> None:
        await self.executor.lock(keys)

    async def entity(self, uscc: str) -> EntityRow | None:
        rows = await self.executor.rows(sql.ENTITY, {"uscc": uscc})
        return EntityRow(*rows[0]) if rows else None

    async def bindings(self, user: str, now: datetime) -> list[BoundEntity]:
        rows = await self.executor.rows(sql.BINDINGS, {"user": user, "now": now})
        fresh = {b.uscc for b in self._new_bindings}
        return self._new_bindings + [BoundEntity(*row) for row in rows if row[0] not in fresh]

    async def bind(self, user: str, uscc: str, name: str, now: datetime, days: int) -> datetime:
        """Create or renew the binding; returns when it expires."""
        expires = now + timedelta(days=days)
        await self.executor.run(sql.BIND, {"user": user, "b_uscc": uscc, "now": now, "expires": expires})
        self._new_bindings.insert(0, BoundEntity(uscc, name, expires))
        return expires

    async def throttle(self, scope: Scope, subject: str) -> Counter | None:
        rows = await self.executor.rows(sql.THROTTLE, {"scope": scope.value, "subject": subject})
        return Counter(*rows[0]) if rows else None

    async def save_throttle(self, scope: Scope, subject: str, counter: Counter, now: datetime) -> None:
        await self.executor.run(
            sql.SAVE_THROTTLE,
            {
                "b_scope": scope.value,
                "b_subject": subject,
                "b_failures": counter.failures,
                "b_window_start": counter.window_start,
                "b_locked_until": counter.locked_until,
                "b_locks": counter.locks,
                "b_updated_at": now,
            },
        )

    async def forgive(self, scope: Scope, subject: str, now: datetime) -> None:
        """Earlier wrong answers stop counting; the lock history stays (it drives the doubling)."""
        await self.executor.run(sql.FORGIVE, {"b_scope": scope.value, "b_subject": subject, "now": now})

    async def codes_sent(self, phone_hash: str, client: str, user: str, since: datetime) -> SentCodes:
        """Codes sent after `since` to the phone, from the client address and for the user."""
        counts = {}
        for column, value in (("phone_hash", phone_hash), ("client", client), ("user_id", user)):
            (counts[column],) = await self.executor.rows(
                sql.CODES_SENT[column], {"value": value, "since": since}
            )
        to_phone, first_phone, last_phone = counts["phone_hash"]
        by_client, first_client, _ = counts["client"]
        by_user, first_user, _ = counts["user_id"]
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
        await self.executor.run(
            sql.CODE_SENT, {"b_phone_hash": phone_hash, "user": user, "b_client": client, "now": now}
        )
        await self.executor.run(sql.PRUNE_CODES, {"phone_hash": phone_hash, "before": now - CODE_HISTORY})

    async def outbox(self, channel: str, recipient: str, body: str, now: datetime) -> None:
        await self.executor.run(
            sql.OUTBOX, {"b_channel": channel, "b_recipient": recipient, "b_body": body, "now": now}
        )

    async def recent_reports(self, usccs: list[str], limit: int = 10) -> list[IssuedRow]:
        """The newest reports of these entities; a user has few bindings, so one indexed read each."""
        found = [
            IssuedRow(*row)
            for uscc in usccs
            for row in await self.executor.rows(sql.RECENT_REPORTS, {"uscc": uscc, "limit": limit})
        ]
        found.sort(key=lambda r: (r.issued_at, r.report_no), reverse=True)
        return found[:limit]

    async def issued(self, report_no: str) -> IssuedRow | None:
        rows = await self.executor.rows(sql.ISSUED, {"report_no": report_no})
        return IssuedRow(*rows[0]) if rows else None
