"""Writing checked intake values: new rows are inserted, changed rows corrected, identical rows left alone.

Both the CSV import and the department API come through here, a batch at a time: the batch's
keys are looked up in one statement per few thousand keys, new rows go in with one
executemany, and only the (rare) corrections are handled row by row. A correction copies the
record's previous state into `record_version` before it is changed, so nothing is overwritten
silently. A re-sent identical row is `unchanged`: it touches nothing, not even `updated_at`.

Callers own the transaction and must pass batches without repeated keys
(`core.intake.DuplicateGuard` ensures that).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import RowMapping, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.intake import EntityValues, PlainRecord, RecordValues
from core.personal_data import id_number_hash, id_tail_hash
from storage.bulk import insert_rows, insert_sqlite_rows, sqlite_datetime
from storage.models import Entity, Record, RecordVersion


class Outcome(StrEnum):
    IMPORTED = "imported"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


RECORDS = Record.__table__
VERSIONS = RecordVersion.__table__
ENTITIES = Entity.__table__

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


async def _existing_records(
    connection: AsyncConnection, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], RowMapping]:
    """Stored rows for (kind, source_dept, doc_no) keys."""
    statement = text(_EXISTING_SELECT + _EXISTING_SQL[connection.dialect.name]).columns(*_EXISTING_COLUMNS)
    found: dict[tuple[str, str, str], RowMapping] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        # Sorted keys probe the unique index in order, touching each page once.
        chunk = orjson.dumps(sorted(keys[start : start + _LOOKUP_CHUNK])).decode()
        for row in (await connection.execute(statement, {"keys": chunk})).mappings():
            found[(row["kind"], row["source_dept"], row["doc_no"])] = row
    return found


def _snapshot(row: RowMapping) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, date) else value for key, value in row.items()}


async def write_records(
    connection: AsyncConnection, records: Sequence[RecordValues], now: datetime, replaced_by: str
) -> list[Outcome]:
    """Upsert `records` keyed by (kind, 数据来源单位, document number); one outcome per record.

    All rows are offered to the store first, existing keys skipped: when every row went in (a
    fresh file, the common case) no lookup is needed at all. Otherwise the batch's rows are read
    back and classified (`_classify`).
    """
    rows = [record_row(record, now) for record in records]
    inserted = await insert_rows(connection, RECORDS, RECORD_COLUMNS, rows, skip_conflicts=True)
    if inserted == len(records):
        return [Outcome.IMPORTED] * len(records)
    return await _classify(connection, records, now, replaced_by)


async def write_plain_records(
    connection: AsyncConnection, records: Sequence[PlainRecord], now: datetime, replaced_by: str
) -> list[Outcome]:
    """`write_records` for records in plain form, as the CSV import's checking process sends them.

    The plain form's ISO dates and JSON text are SQLite's storage forms, so on SQLite the rows go
    to the driver as they are; only a batch that meets existing keys is turned back into values.
    """
    if connection.dialect.name != "sqlite":
        return await write_records(
            connection, [RecordValues.from_plain(p) for p in records], now, replaced_by
        )
    stamp = sqlite_datetime(now)
    rows = [(*plain, 1, stamp, stamp) for plain in records]
    inserted = await insert_sqlite_rows(connection, RECORDS, RECORD_COLUMNS, rows, skip_conflicts=True)
    if inserted == len(records):
        return [Outcome.IMPORTED] * len(records)
    return await _classify(connection, [RecordValues.from_plain(p) for p in records], now, replaced_by)


async def _classify(
    connection: AsyncConnection, records: Sequence[RecordValues], now: datetime, replaced_by: str
) -> list[Outcome]:
    """Outcomes after an insert that skipped existing keys, applying the corrections among them.

    Rows stamped with this batch's `now` at version 1 are the ones just inserted; the others
    existed and are either identical or corrected.
    """
    existing = await _existing_records(connection, [(r.kind.value, r.source_dept, r.doc_no) for r in records])
    outcomes: list[Outcome] = []
    corrections: list[tuple[RowMapping, tuple[Any, ...]]] = []
    for record in records:
        old = existing[(record.kind.value, record.source_dept, record.doc_no)]
        content = _record_content(record)
        if old["version"] == 1 and old["created_at"] == now:
            outcomes.append(Outcome.IMPORTED)
        elif tuple(old[name] for name in _RECORD_CONTENT) == content:
            outcomes.append(Outcome.UNCHANGED)
        else:
            corrections.append((old, content))
            outcomes.append(Outcome.UPDATED)
    if corrections:
        await _correct_records(connection, corrections, now, replaced_by)
    return outcomes


async def _correct_records(
    connection: AsyncConnection,
    corrections: Sequence[tuple[RowMapping, tuple[Any, ...]]],
    now: datetime,
    replaced_by: str,
) -> None:
    """Keep each record's current state as a version, then apply the correction."""
    versions = [
        {
            "record_id": old["id"],
            "version": old["version"],
            "snapshot": _snapshot(old),
            "replaced_at": now,
            "replaced_by": replaced_by,
        }
        for old, _content in corrections
    ]
    await connection.execute(VERSIONS.insert(), versions)
    changed = [
        {
            "b_id": old["id"],
            "b_version": old["version"] + 1,
            "b_updated_at": now,
            **{f"b_{name}": value for name, value in zip(_RECORD_CONTENT, content, strict=True)},
        }
        for old, content in corrections
    ]
    statement = (
        update(RECORDS)
        .where(RECORDS.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in (*_RECORD_CONTENT, "version", "updated_at")})
    )
    await connection.execute(statement, changed)


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


async def write_entities(
    connection: AsyncConnection, entities: Sequence[EntityValues], secret: bytes, now: datetime
) -> list[Outcome]:
    """Upsert entities by USCC; the ID number is reduced to keyed hashes and its last four characters.

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
    for entity in entities:
        content = _entity_content(entity, secret)
        old = existing.get(entity.uscc)
        if old is None:
            new_rows.append(entity_row(entity, secret, now, content=content))
            outcomes.append(Outcome.IMPORTED)
        elif tuple(old[name] for name in _ENTITY_CONTENT) == content:
            outcomes.append(Outcome.UNCHANGED)
        else:
            values = {f"b_{name}": value for name, value in zip(_ENTITY_CONTENT, content, strict=True)}
            changed.append({"b_uscc": entity.uscc, "b_updated_at": now, **values})
            outcomes.append(Outcome.UPDATED)
    await insert_rows(connection, ENTITIES, ENTITY_COLUMNS, new_rows)
    if changed:
        statement = (
            update(ENTITIES)
            .where(ENTITIES.c.uscc == bindparam("b_uscc"))
            .values({name: bindparam(f"b_{name}") for name in (*_ENTITY_CONTENT, "updated_at")})
        )
        await connection.execute(statement, changed)
    return outcomes
