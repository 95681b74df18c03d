"""The report lookup: one entity, chosen domains, the period, valid records only."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from core.records import RecordKind
from storage.db import session_factory
from storage.models import Record
from storage.queries import records_for_report

USCC = "91140100MA0K000001"


def _record(doc_no: str, **overrides) -> Record:
    now = datetime.now(UTC)
    values = {
        "kind": "penalty",
        "uscc": USCC,
        "domain": 6,
        "doc_no": doc_no,
        "source_dept": "太原市市场监督管理局",
        "decision_date": date(2024, 5, 1),
        "status": "有效",
        "repair_status": "未修复",
        "fields": {},
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    return Record(**values)


async def test_lookup_applies_entity_domain_period_status_and_list_overlap(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:
        session.add_all(
            [
                _record("in-period"),
                _record("other-entity", uscc="91140100MA0K000002"),
                _record("other-domain", domain=5),
                _record("before", decision_date=date(2023, 1, 1)),
                _record("revoked", status="已撤销"),
                _record("list-still-on", kind="list", domain=6, decision_date=date(2023, 1, 1)),
                _record(
                    "list-removed-before",
                    kind="list",
                    decision_date=date(2023, 1, 1),
                    end_date=date(2023, 6, 1),
                ),
            ]
        )
        await session.commit()
    async with sessions() as session:
        views = await records_for_report(session, USCC, [6, 7], date(2024, 1, 1), date(2024, 12, 31))
    assert sorted(v.doc_no for v in views) == ["in-period", "list-still-on"]
    assert {v.kind for v in views} == {RecordKind.PENALTY, RecordKind.LIST}
