"""Writing checked intake values: new rows are inserted, changed rows corrected, identical rows left alone.

Both the CSV import and the department API come through here, a batch at a time: the batch's
keys are looked up in one statement per few thousand keys, new rows go in with one
executemany, and only the (rare) corrections are handled row by row. A correction copies the
record's previous state into `record_version` before it is changed, so nothing is overwritten
silently. A re-sent identical row is `unchanged`: it touches nothing, not even `updated_at`.

Callers own the transaction and must pass batches without repeated keys
(`core.intake.DuplicateGuard` ensures that); `write_retrying` owns it for a caller that has
nothing else to do in it (the department API).

Who writes is a `Writer`. A department's key (`Writer.scope`) may only change a stored row
whose stored domain it holds, and may move a row to another domain only when the record says
so explicitly; that is decided here, against the stored row read with a row lock on
PostgreSQL (SQLite has one writer at a time and our insert already holds the write lock), so
two concurrent batches cannot both pass the check on a row that one of them is changing.
Every write leaves rows in the append-only `intake_audit` table in the same transaction: the
API one per record written, a CSV import one per batch (`audit_import_batch`) and one per
correction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import RowMapping, bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.intake import EntityValues, IntakeKind, PlainRecord, RecordValues, UnitScope
from core.personal_data import id_number_hash, id_tail_hash
from storage.bulk import insert_rows, insert_sqlite_rows, sqlite_datetime
from storage.models import Entity, IntakeAudit, Record, RecordVersion


class Outcome(StrEnum):
    IMPORTED = "imported"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    #: The stored row is not the writer's to change (`UnitScope.stored_problem`).
    REFUSED = "rejected"


@dataclass(frozen=True)
class Writer:
    """Who writes a batch: a department's key (bound by `scope`) or the platform operator's import."""

    channel: str  # "api" or "csv"
    actor: str  # the department's name, or "operator:<login>"
    replaced_by: str  # what `record_version.replaced_by` records
    department_id: int | None = None
    #: None for the operator's CSV import: the operator is trusted with every unit and domain.
    scope: UnitScope | None = None

    @property
    def audits_each_row(self) -> bool:
        """The API audits every record; an import audits its batches and its corrections."""
        return self.channel == "api"


@dataclass
class Written:
    """One outcome per record, and the reason for each refused one by its index in the batch."""

    outcomes: list[Outcome]
    refused: dict[int, str] = field(default_factory=dict)


RECORDS = Record.__table__
VERSIONS = RecordVersion.__table__
ENTITIES = Entity.__table__
AUDIT = IntakeAudit.__table__
AUDIT_COLUMNS = (
    "at",
    "channel",
    "department_id",
    "actor",
    "unit",
    "action",
    "record_kind",
    "record_key",
    "before",
    "after",
)

#: What decides whether a re-sent record is a correction; the key columns are equal by construction.
_RECORD_CONTENT = (
    "uscc",
    "domain",
    "source_dept_uscc",
    "decision_date",
    "end_date",
    "status",
    "procedure",
    "repair_status",
    "repair_date",
    "fields",
)
RECORD_COLUMNS = ("kind", "source_dept", "doc_no", *_RECORD_CONTENT, "version", "created_at", "updated_at")
_ENTITY_CONTENT = (
    "name",
    "entity_type",
    "legal_rep",
    "legal_rep_id_hash",
    "legal_rep_id_tail_hash",
    "legal_rep_id_last4",
    "phone",
    "address",
    "registered_on",
    "registration_authority",
)
ENTITY_COLUMNS = ("uscc", *_ENTITY_CONTENT, "false_commitment", "created_at", "updated_at")
#: Keys per lookup statement (entities: bind parameters, under SQLite's and asyncpg's limit of 32,766).
_LOOKUP_CHUNK = 5000


def _record_content(record: RecordValues) -> tuple[Any, ...]:
    return (
        record.uscc,
        record.domain,
        record.source_dept_uscc,
        record.decision_date,
        record.end_date,
        record.status,
        record.procedure,
        record.repair_status,
        record.repair_date,
        record.fields,
    )


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _audit_content(values: Sequence[Any]) -> dict[str, Any]:
    """A record's content (`_RECORD_CONTENT` order) as the audit trail keeps it: JSON-ready."""
    return {name: _json_value(value) for name, value in zip(_RECORD_CONTENT, values, strict=True)}


def _audit_row(
    writer: Writer,
    now: datetime,
    action: str,
    unit: str = "",
    kind: str = "",
    key: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> tuple[Any, ...]:
    return (now, writer.channel, writer.department_id, writer.actor, unit, action, kind, key, before, after)


async def audit_import_batch(
    connection: AsyncConnection, writer: Writer, now: datetime, summary: dict[str, Any]
) -> None:
    """The one audit row of a CSV batch: file, operator and counts (its corrections have their own)."""
    await insert_rows(
        connection, AUDIT, AUDIT_COLUMNS, [_audit_row(writer, now, "import_batch", after=summary)]
    )


def record_row(record: RecordValues, now: datetime) -> tuple[Any, ...]:
    """A new record's values in the order of RECORD_COLUMNS, at version 1."""
    return (record.kind.value, record.source_dept, record.doc_no, *_record_content(record), 1, now, now)


def entity_row(
    entity: EntityValues,
    secret: bytes,
    now: datetime,
    false_commitment: bool = False,
    content: tuple[Any, ...] | None = None,
) -> tuple[Any, ...]:
    """A new entity's values in the order of ENTITY_COLUMNS, the ID number already hashed."""
    content = content or _entity_content(entity, secret)
    return (entity.uscc, *content, false_commitment, now, now)


#: Batch keys travel as one JSON parameter and are joined against the unique index: one cached
#: statement whatever the batch size, far below any bind-parameter limit, and an index probe per key.
_EXISTING_SQL = {
    "sqlite": (
        "FROM json_each(:keys) AS k JOIN record AS r ON r.kind = json_extract(k.value, '$[0]') "
        "AND r.source_dept = json_extract(k.value, '$[1]') AND r.doc_no = json_extract(k.value, '$[2]')"
    ),
    "postgresql": (
        "FROM jsonb_array_elements(CAST(:keys AS jsonb)) AS k(value) JOIN record AS r "
        "ON r.kind = k.value ->> 0 AND r.source_dept = k.value ->> 1 AND r.doc_no = k.value ->> 2"
    ),
}
_EXISTING_COLUMNS = list(RECORDS.c)
_EXISTING_SELECT = "SELECT " + ", ".join(f'r."{column.name}"' for column in _EXISTING_COLUMNS) + " "
#: PostgreSQL locks the rows until the transaction ends, always in key order so that two batches
#: never wait for each other crosswise; SQLite needs no lock (see the module docstring).
_EXISTING_TAIL = {
    "sqlite": "",
    "postgresql": " ORDER BY r.kind, r.source_dept, r.doc_no FOR UPDATE OF r",
}


async def _existing_records(
    connection: AsyncConnection, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], RowMapping]:
    """Stored rows for (kind, source_dept, doc_no) keys, locked against concurrent changes."""
    dialect = connection.dialect.name
    sql = _EXISTING_SELECT + _EXISTING_SQL[dialect] + _EXISTING_TAIL[dialect]
    statement = text(sql).columns(*_EXISTING_COLUMNS)
    found: dict[tuple[str, str, str], RowMapping] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        # Sorted keys probe the unique index in order, touching each page once.
        chunk = orjson.dumps(sorted(keys[start : start + _LOOKUP_CHUNK])).decode()
        for row in (await connection.execute(statement, {"keys": chunk})).mappings():
            found[(row["kind"], row["source_dept"], row["doc_no"])] = row
    return found


def _snapshot(row: RowMapping) -> dict[str, Any]:
    return {key: _json_value(value) for key, value in row.items()}


async def write_records(
    connection: AsyncConnection, records: Sequence[RecordValues], now: datetime, writer: Writer
) -> Written:
    """Upsert `records` keyed by (kind, 数据来源单位, document number); one outcome per record.

    All rows are offered to the store first, existing keys skipped: when every row went in (a
    fresh file, the common case) no lookup is needed at all. Otherwise the batch's rows are read
    back and classified (`_classify`).
    """
    rows = [record_row(record, now) for record in records]
    inserted = await insert_rows(connection, RECORDS, RECORD_COLUMNS, rows, skip_conflicts=True)
    if inserted == len(records):
        await _audit_inserts(connection, writer, now, records)
        return Written([Outcome.IMPORTED] * len(records))
    return await _classify(connection, records, now, writer)


async def _audit_inserts(
    connection: AsyncConnection, writer: Writer, now: datetime, records: Sequence[RecordValues]
) -> None:
    if not writer.audits_each_row or not records:
        return
    rows = [
        _audit_row(
            writer,
            now,
            "insert",
            r.source_dept,
            r.kind.value,
            r.doc_no,
            after=_audit_content(_record_content(r)),
        )
        for r in records
    ]
    await insert_rows(connection, AUDIT, AUDIT_COLUMNS, rows)


async def write_plain_records(
    connection: AsyncConnection, records: Sequence[PlainRecord], now: datetime, writer: Writer
) -> Written:
    """`write_records` for records in plain form, as the CSV import's checking process sends them.

    The plain form's ISO dates and JSON text are SQLite's storage forms, so on SQLite the rows go
    to the driver as they are; only a batch that meets existing keys is turned back into values.
    """
    if connection.dialect.name != "sqlite":
        return await write_records(connection, [RecordValues.from_plain(p) for p in records], now, writer)
    stamp = sqlite_datetime(now)
    rows = [(*plain, 1, stamp, stamp) for plain in records]
    inserted = await insert_sqlite_rows(connection, RECORDS, RECORD_COLUMNS, rows, skip_conflicts=True)
    if inserted == len(records):
        return Written([Outcome.IMPORTED] * len(records))
    return await _classify(connection, [RecordValues.from_plain(p) for p in records], now, writer)


async def _classify(
    connection: AsyncConnection, records: Sequence[RecordValues], now: datetime, writer: Writer
) -> Written:
    """Outcomes after an insert that skipped existing keys, applying the corrections among them.

    Rows stamped with this batch's `now` at version 1 are the ones just inserted; the others
    existed and are identical, corrected, or (for a department) refused by the stored row.
    """
    keys = [(r.kind.value, r.source_dept, r.doc_no) for r in records]
    existing = await _existing_records(connection, keys)
    written = Written([])
    inserted: list[RecordValues] = []
    corrections: list[tuple[RowMapping, RecordValues]] = []
    scope = writer.scope
    for index, record in enumerate(records):
        old = existing[(record.kind.value, record.source_dept, record.doc_no)]
        if old["version"] == 1 and old["created_at"] == now:
            written.outcomes.append(Outcome.IMPORTED)
            inserted.append(record)
        elif scope and (reason := scope.stored_problem(old["domain"], old["source_dept_uscc"], record)):
            written.outcomes.append(Outcome.REFUSED)
            written.refused[index] = reason
        elif tuple(old[name] for name in _RECORD_CONTENT) == _record_content(record):
            written.outcomes.append(Outcome.UNCHANGED)
        else:
            corrections.append((old, record))
            written.outcomes.append(Outcome.UPDATED)
    await _audit_inserts(connection, writer, now, inserted)
    if corrections:
        await _correct_records(connection, corrections, now, writer)
    return written


async def _correct_records(
    connection: AsyncConnection,
    corrections: Sequence[tuple[RowMapping, RecordValues]],
    now: datetime,
    writer: Writer,
) -> None:
    """Keep each record's current state as a version, apply the correction, and audit it."""
    versions = [
        {
            "record_id": old["id"],
            "version": old["version"],
            "snapshot": _snapshot(old),
            "replaced_at": now,
            "replaced_by": writer.replaced_by,
        }
        for old, _record in corrections
    ]
    await connection.execute(VERSIONS.insert(), versions)
    changed = [
        {
            "b_id": old["id"],
            "b_version": old["version"] + 1,
            "b_updated_at": now,
            **{
                f"b_{name}": value
                for name, value in zip(_RECORD_CONTENT, _record_content(record), strict=True)
            },
        }
        for old, record in corrections
    ]
    statement = (
        update(RECORDS)
        .where(RECORDS.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in (*_RECORD_CONTENT, "version", "updated_at")})
    )
    await connection.execute(statement, changed)
    audit = [
        _audit_row(
            writer,
            now,
            "correct_domain" if old["domain"] != record.domain else "update",
            record.source_dept,
            record.kind.value,
            record.doc_no,
            before=_audit_content([old[name] for name in _RECORD_CONTENT]),
            after=_audit_content(_record_content(record)),
        )
        for old, record in corrections
    ]
    await insert_rows(connection, AUDIT, AUDIT_COLUMNS, audit)


def _entity_content(entity: EntityValues, secret: bytes) -> tuple[Any, ...]:
    return (
        entity.name,
        entity.entity_type,
        entity.legal_rep,
        id_number_hash(secret, entity.id_number),
        id_tail_hash(secret, entity.id_number),
        entity.id_number[-4:],
        entity.phone,
        entity.address,
        entity.registered_on,
        entity.registration_authority,
    )


#: What the audit trail keeps of an entity: the register's public fields, no personal data.
_ENTITY_AUDITED = ("name", "entity_type", "address", "registered_on", "registration_authority")


def _entity_audit(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _json_value(values[name]) for name in _ENTITY_AUDITED}


async def write_entities(
    connection: AsyncConnection,
    entities: Sequence[EntityValues],
    secret: bytes,
    now: datetime,
    writer: Writer,
) -> Written:
    """Upsert entities by USCC; the ID number is reduced to keyed hashes and its last four characters.

    Audited like records (API: every entity written; import: each correction), without personal data.
    `false_commitment` is left as it is: it comes from the 履约践诺 follow-up, not from the register.
    """
    existing: dict[str, RowMapping] = {}
    usccs = [entity.uscc for entity in entities]
    for start in range(0, len(usccs), _LOOKUP_CHUNK):
        statement = select(ENTITIES).where(ENTITIES.c.uscc.in_(usccs[start : start + _LOOKUP_CHUNK]))
        for row in (await connection.execute(statement)).mappings():
            existing[row["uscc"]] = row
    outcomes: list[Outcome] = []
    new_rows: list[tuple[Any, ...]] = []
    changed: list[dict[str, Any]] = []
    audit: list[tuple[Any, ...]] = []
    for entity in entities:
        content = _entity_content(entity, secret)
        old = existing.get(entity.uscc)
        new = dict(zip(_ENTITY_CONTENT, content, strict=True))
        if old is None:
            new_rows.append(entity_row(entity, secret, now, content=content))
            outcomes.append(Outcome.IMPORTED)
            if writer.audits_each_row:
                after = _entity_audit(new)
                audit.append(_audit_row(writer, now, "insert", "", "entity", entity.uscc, after=after))
        elif tuple(old[name] for name in _ENTITY_CONTENT) == content:
            outcomes.append(Outcome.UNCHANGED)
        else:
            values = {f"b_{name}": value for name, value in new.items()}
            changed.append({"b_uscc": entity.uscc, "b_updated_at": now, **values})
            outcomes.append(Outcome.UPDATED)
            before, after = _entity_audit(dict(old)), _entity_audit(new)
            audit.append(_audit_row(writer, now, "update", "", "entity", entity.uscc, before, after))
    await insert_rows(connection, ENTITIES, ENTITY_COLUMNS, new_rows)
    if changed:
        statement = (
            update(ENTITIES)
            .where(ENTITIES.c.uscc == bindparam("b_uscc"))
            .values({name: bindparam(f"b_{name}") for name in (*_ENTITY_CONTENT, "updated_at")})
        )
        await connection.execute(statement, changed)
    await insert_rows(connection, AUDIT, AUDIT_COLUMNS, audit)
    return Written(outcomes)


#: A concurrent request may insert one of our keys between our lookup and our insert.
WRITE_ATTEMPTS = 3


async def write_retrying(
    engine: AsyncEngine,
    kind: IntakeKind,
    values: Sequence[EntityValues] | Sequence[RecordValues],
    secret: bytes,
    writer: Writer,
) -> Written:
    """Write the batch in its own transaction, again from the lookup when a concurrent batch
    inserted one of its keys first (the unique index refuses ours): the second attempt finds
    that row and checks against it like any stored row. The last attempt's error propagates."""
    for attempt in range(WRITE_ATTEMPTS):
        now = datetime.now(UTC)
        try:
            async with engine.begin() as connection:
                if kind is IntakeKind.ENTITIES:
                    return await write_entities(connection, values, secret, now, writer)
                return await write_records(connection, values, now, writer)
        except IntegrityError:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
