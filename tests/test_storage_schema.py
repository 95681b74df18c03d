"""The schema comes from Alembic migrations, from an empty database, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from storage.db import create_engine, session_factory, upgrade
from storage.models import Record

EXPECTED_TABLES = {
    "entity",
    "record",
    "record_version",
    "department",
    "issued_report",
    "report_sequence",
    "conversation",
    "processed_message",
    "binding",
    "identity_throttle",
    "code_request",
    "outbox_message",
    "alembic_version",
}


async def test_migrations_build_the_schema_from_an_empty_database(db_url: str) -> None:
    engine = create_engine(db_url)
    await upgrade(engine)
    await upgrade(engine)  # idempotent: a second start changes nothing
    async with engine.connect() as connection:
        tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        indexes = await connection.run_sync(lambda c: inspect(c).get_indexes("record"))
    await engine.dispose()
    assert tables >= EXPECTED_TABLES
    lookup = next(index for index in indexes if index["name"] == "ix_record_lookup")
    assert lookup["column_names"] == ["uscc", "domain", "decision_date"]


def _record(doc_no: str) -> Record:
    now = datetime.now(UTC)
    return Record(
        kind="penalty",
        uscc="91140100MA0K000001",
        domain=6,
        doc_no=doc_no,
        source_dept="太原市市场监督管理局",
        decision_date=date(2024, 5, 1),
        status="有效",
        repair_status="未修复",
        fields={"违法事实": "未按规定公示年度报告"},
        created_at=now,
        updated_at=now,
    )


async def test_a_document_number_is_unique_per_source_department(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:
        session.add(_record("晋市监罚〔2024〕12号"))
        await session.commit()
    async with sessions() as session:
        session.add(_record("晋市监罚〔2024〕12号"))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: AsyncEngine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    async with engine.connect() as connection:
        journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
        foreign_keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        synchronous = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar()
    assert (journal, foreign_keys, synchronous) == ("wal", 1, 1)


async def test_the_migrations_build_exactly_the_models(engine: AsyncEngine) -> None:
    """A model changed without a migration (or the reverse) fails here, on both databases."""

    def differences(connection) -> list:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
