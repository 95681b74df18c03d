"""The demo dataset: valid, varied, deterministic, and written only into an empty store."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.app import create_app
from bot.cli import main
from bot.config import Settings
from core.domains import DOMAINS
from core.personal_data import id_tail_hash
from core.records import DATA_START, RecordKind
from core.resident_id import is_valid_resident_id
from core.uscc import is_valid_uscc
from storage.db import create_engine, session_factory
from storage.demo import DEMO_ENTITIES, DemoGenerator, ensure_demo_data
from storage.models import Entity, Record
from storage.queries import records_for_report

UNTIL = date(2026, 11, 26)
SECRET = b"demo-test-secret"


def test_the_same_seed_gives_the_same_data() -> None:
    first = [g.entity for g in DemoGenerator(7, until=UNTIL).generate(300)]
    again = [g.entity for g in DemoGenerator(7, until=UNTIL).generate(300)]
    other = [g.entity for g in DemoGenerator(8, until=UNTIL).generate(300)]
    assert first == again and first != other


def test_generated_values_pass_the_intake_rules() -> None:
    generated = list(DemoGenerator(3, until=UNTIL).generate(3000))
    entities = [g.entity for g in generated]
    records = [r for g in generated for r in g.records]
    assert all(is_valid_uscc(e.uscc) and e.uscc[2:4] == "14" for e in entities)
    assert len({e.uscc for e in entities}) == len(entities)
    assert all(is_valid_resident_id(e.id_number) for e in entities)
    assert all(e.phone.isdigit() and len(e.phone) == 11 for e in entities)
    assert len({(r.kind, r.source_dept, r.doc_no) for r in records}) == len(records)
    assert all(r.decision_date <= UNTIL for r in records)
    assert all(r.end_date is None or r.decision_date <= r.end_date <= UNTIL for r in records)
    assert all(r.repair_date is None or r.decision_date <= r.repair_date <= UNTIL for r in records)
    domains = {d.number: d for d in DOMAINS}
    assert all(domains[r.domain].holds(r.kind) for r in records)

    assert {r.domain for r in records} == set(domains)
    assert {r.kind for r in records} == set(RecordKind)
    statuses = Counter(r.status for r in records)
    assert {"有效", "已撤销", "不予处罚"} <= set(statuses)
    assert any(r.procedure == "简易程序" for r in records)
    assert any(r.repair_status == "已修复" and r.repair_date for r in records)
    assert any(r.decision_date < DATA_START for r in records)
    lists = [r for r in records if r.kind is RecordKind.LIST]
    assert any(r.end_date for r in lists) and any(r.end_date is None for r in lists)
    assert sum(1 for g in generated if not g.records) > 500
    assert any(g.false_commitment for g in generated)
    assert {e.entity_type for e in entities} == {
        "企业",
        "个体工商户",
        "农民专业合作社",
        "事业单位",
        "社会组织",
    }
    assert 8 < len(records) / len(entities) < 12


def test_a_small_dataset_still_covers_every_domain_and_kind() -> None:
    records = [r for g in DemoGenerator(1, until=UNTIL).generate(40) for r in g.records]
    assert {r.domain for r in records} == {d.number for d in DOMAINS}
    assert {r.kind for r in records} == set(RecordKind)


async def test_ensure_demo_data_writes_once_with_the_fixed_entities(engine: AsyncEngine) -> None:
    written = await ensure_demo_data(engine, SECRET, 120)
    assert written.entities == 120 and written.records > 0
    assert (await ensure_demo_data(engine, SECRET, 120)).entities == 0
    async with session_factory(engine)() as session:
        count = (await session.exec(select(func.count()).select_from(Entity))).one()
        assert count == 120
        clean, taian, _shop, false_commitment = [await session.get(Entity, d.uscc) for d in DEMO_ENTITIES]
        assert taian.legal_rep == "王建国" and taian.phone == DEMO_ENTITIES[1].phone
        assert taian.legal_rep_id_tail_hash == id_tail_hash(SECRET, DEMO_ENTITIES[1].id_last6)
        assert false_commitment.false_commitment and not clean.false_commitment
        everything = [d.number for d in DOMAINS]
        assert await records_for_report(session, clean.uscc, everything, DATA_START, date.today()) == []
        views = await records_for_report(session, taian.uscc, everything, date(2020, 1, 1), date.today())
        assert {v.domain for v in views} == {5, 9}
        assert {v.kind for v in views} == {RecordKind.PENALTY, RecordKind.ENFORCEMENT, RecordKind.LIST}
        assert any(v.repair_date for v in views) and any(
            v.procedure and v.procedure.value == "简易程序" for v in views
        )
        all_taian = (await session.exec(select(Record).where(Record.uscc == taian.uscc))).all()
        assert {r.status for r in all_taian} == {"有效", "已撤销", "不予处罚"}


async def test_demo_mode_start_up_fills_an_empty_store(aiohttp_client, settings: Settings) -> None:
    await aiohttp_client(create_app(settings))
    engine = create_engine(settings.effective_database_url)
    async with engine.connect() as connection:
        count = (await connection.execute(select(func.count()).select_from(Entity.__table__))).scalar()
    await engine.dispose()
    assert count == settings.demo_entities


def test_demo_data_command(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CREDITBOT_DATA_DIR", str(tmp_path / "data"))
    assert main(["demo-data", "--entities", "50", "--seed", "5", "--records-per-entity", "4"]) == 0
    out = capsys.readouterr().out
    assert "已生成演示数据：50 个主体" in out and DEMO_ENTITIES[1].uscc in out
    assert DEMO_ENTITIES[1].id_number not in out and DEMO_ENTITIES[1].phone not in out
    assert main(["demo-data", "--entities", "50"]) == 1
