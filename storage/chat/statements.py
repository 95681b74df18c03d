"""Every statement a chat turn runs, written once as SQLAlchemy Core, with its SQLite form compiled once.

PostgreSQL executes the Core statements (SQLAlchemy caches their compiled form). SQLite's turn
path skips SQLAlchemy's per-execution work, which costs more than the statement itself: each
statement is compiled for SQLite at import, and its parameters and results are converted by
the column types, exactly as SQLAlchemy would store and read them. Upserts use PostgreSQL's
`INSERT … ON CONFLICT`, which SQLite's compiler renders in its own (identical) syntax.
Parameters of INSERT and UPDATE statements that name one of their table's columns are
prefixed `b_`: SQLAlchemy reserves the column names for the values it binds itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Date, DateTime, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Executable

from storage.bulk import sqlite_converter
from storage.models import (
    Binding,
    CodeRequest,
    Conversation,
    Entity,
    IdentityThrottle,
    IssuedReport,
    OutboxMessage,
    ProcessedMessage,
)
from storage.timestamps import read_time

_SQLITE = sqlite.dialect(paramstyle="qmark")

Row = tuple[Any, ...]


def _reader(column_type: Any) -> Callable[[Any], Any] | None:
    """How a value SQLite returns in its storage form becomes the Python value SQLAlchemy would give."""
    impl = getattr(column_type, "impl", column_type)
    if isinstance(impl, DateTime):
        return read_time
    if isinstance(impl, Date):
        return lambda value: date.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(impl, JSON):
        return lambda value: orjson.loads(value) if isinstance(value, str | bytes) else value
    if isinstance(impl, Boolean):
        return lambda value: None if value is None else bool(value)
    return None


class Statement:
    """One Core statement with named parameters, and its SQLite text with positional parameters."""

    def __init__(self, core: Executable) -> None:
        self.core = core
        compiled = core.compile(dialect=_SQLITE)
        self.sqlite_sql = compiled.string
        self._names: Sequence[str] = compiled.positiontup or ()
        self._converters = [sqlite_converter(compiled.binds[name].type) for name in self._names]
        #: Values written into the statement (`version=1`, a LIMIT's offset) travel as parameters too.
        self._fixed = {name: compiled.binds[name].value for name in self._names}
        columns = getattr(core, "selected_columns", None)
        if columns is None:
            columns = getattr(core, "_returning", ())
        self._readers = [_reader(column.type) for column in columns]

    def sqlite_params(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, convert in zip(self._names, self._converters, strict=True):
            value = params[name] if name in params else self._fixed[name]
            values.append(convert(value) if convert is not None and value is not None else value)
        return tuple(values)

    def sqlite_row(self, row: Sequence[Any]) -> Row:
        return tuple(
            read(value) if read and value is not None else value
            for value, read in zip(row, self._readers, strict=True)
        )


_conversation = Conversation.__table__
_processed = ProcessedMessage.__table__
_entity = Entity.__table__
_binding = Binding.__table__
_throttle = IdentityThrottle.__table__
_codes = CodeRequest.__table__
_outbox = OutboxMessage.__table__
_issued = IssuedReport.__table__

# --- the conversation itself -------------------------------------------------------------------

#: PostgreSQL takes the row lock first, so the dedupe probe sees what the previous holder committed.
LOCK_STATE = Statement(
    select(_conversation.c.state, _conversation.c.version, _conversation.c.updated_at)
    .where(_conversation.c.user_id == bindparam("user"))
    .with_for_update()
)
#: SQLite (one process) needs no lock: the state and the dedupe probe in one round trip.
LOAD_STATE = Statement(
    select(
        _conversation.c.state,
        _conversation.c.version,
        _conversation.c.updated_at,
        select(_processed.c.replies)
        .where(_processed.c.user_id == bindparam("user"), _processed.c.msg_id == bindparam("msg"))
        .scalar_subquery()
        .label("replies"),
    ).where(_conversation.c.user_id == bindparam("user"))
)
REMEMBERED = Statement(
    select(_processed.c.replies).where(
        _processed.c.user_id == bindparam("user"), _processed.c.msg_id == bindparam("msg")
    )
)
INSERT_STATE = Statement(
    _conversation.insert().values(
        user_id=bindparam("user"), state=bindparam("b_state"), version=1, updated_at=bindparam("now")
    )
)
UPDATE_STATE = Statement(
    update(_conversation)
    .where(_conversation.c.user_id == bindparam("user"), _conversation.c.version == bindparam("b_version"))
    .values(state=bindparam("b_state"), version=bindparam("new_version"), updated_at=bindparam("now"))
)
REMEMBER = Statement(
    _processed.insert().values(
        user_id=bindparam("user"),
        msg_id=bindparam("msg"),
        replies=bindparam("b_replies"),
        created_at=bindparam("now"),
    )
)

# --- what the dialogs read and write -----------------------------------------------------------

ENTITY_COLUMNS = (
    "uscc",
    "name",
    "entity_type",
    "legal_rep",
    "legal_rep_id_tail_hash",
    "phone",
    "false_commitment",
)
ENTITY = Statement(
    select(*(_entity.c[name] for name in ENTITY_COLUMNS)).where(_entity.c.uscc == bindparam("uscc"))
)
BINDINGS = Statement(
    select(_binding.c.uscc, _entity.c.name, _binding.c.expires_at)
    .join(_entity, _entity.c.uscc == _binding.c.uscc)
    .where(_binding.c.user_id == bindparam("user"), _binding.c.expires_at > bindparam("now"))
    .order_by(_binding.c.confirmed_at.desc())
)
_bind = postgresql.insert(_binding).values(
    user_id=bindparam("user"),
    uscc=bindparam("b_uscc"),
    confirmed_at=bindparam("now"),
    expires_at=bindparam("expires"),
)
BIND = Statement(
    _bind.on_conflict_do_update(
        index_elements=["user_id", "uscc"],
        set_={"confirmed_at": _bind.excluded.confirmed_at, "expires_at": _bind.excluded.expires_at},
    )
)
THROTTLE = Statement(
    select(_throttle.c.failures, _throttle.c.window_start, _throttle.c.locked_until, _throttle.c.locks).where(
        _throttle.c.scope == bindparam("scope"), _throttle.c.subject == bindparam("subject")
    )
)
_COUNTER_COLUMNS = ("failures", "window_start", "locked_until", "locks", "updated_at")
_save_throttle = postgresql.insert(_throttle).values(
    scope=bindparam("b_scope"),
    subject=bindparam("b_subject"),
    **{name: bindparam(f"b_{name}", type_=_throttle.c[name].type) for name in _COUNTER_COLUMNS},
)
SAVE_THROTTLE = Statement(
    _save_throttle.on_conflict_do_update(
        index_elements=["scope", "subject"],
        set_={name: _save_throttle.excluded[name] for name in _COUNTER_COLUMNS},
    )
)
FORGIVE = Statement(
    update(_throttle)
    .where(_throttle.c.scope == bindparam("b_scope"), _throttle.c.subject == bindparam("b_subject"))
    .values(failures=0, updated_at=bindparam("now"))
)
CODES_SENT = {
    column: Statement(
        select(func.count(), func.min(_codes.c.sent_at), func.max(_codes.c.sent_at)).where(
            _codes.c[column] == bindparam("value"),
            _codes.c.sent_at > bindparam("since", type_=_codes.c.sent_at.type),
        )
    )
    for column in ("phone_hash", "client", "user_id")
}
CODE_SENT = Statement(
    _codes.insert().values(
        phone_hash=bindparam("b_phone_hash"),
        user_id=bindparam("user"),
        client=bindparam("b_client"),
        sent_at=bindparam("now"),
    )
)
PRUNE_CODES = Statement(
    _codes.delete().where(
        _codes.c.phone_hash == bindparam("phone_hash"),
        _codes.c.sent_at < bindparam("before", type_=_codes.c.sent_at.type),
    )
)
OUTBOX = Statement(
    _outbox.insert().values(
        channel=bindparam("b_channel"),
        recipient=bindparam("b_recipient"),
        body=bindparam("b_body"),
        created_at=bindparam("now"),
    )
)
ISSUED_COLUMNS = (
    "report_no",
    "verify_code",
    "uscc",
    "entity_name",
    "period_start",
    "period_end",
    "domains",
    "issued_at",
)
_issued_select = select(*(_issued.c[name] for name in ISSUED_COLUMNS))
ISSUED = Statement(_issued_select.where(_issued.c.report_no == bindparam("report_no")))
RECENT_REPORTS = Statement(
    _issued_select.where(_issued.c.uscc == bindparam("uscc"))
    .order_by(_issued.c.issued_at.desc(), _issued.c.report_no.desc())
    .limit(bindparam("limit"))
)
#: A transaction-scoped lock on a 64-bit hash of the key, released by the turn's commit (PostgreSQL).
ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
