"""Read paths shared by the report, the chat and the benchmarks.

The report lookup is the hot path at 10 million records: one range scan on
`ix_record_lookup` (uscc, domain, decision_date) per call. List entries are the exception
to "decision date in the period" (an entity listed before the period and still listed
during it must appear), so they are fetched by entity and domain up to the period's end
and the overlap rule is applied in `core.report`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import and_, or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.records import (
    EntityInfo,
    Procedure,
    RecordKind,
    RecordStatus,
    RecordView,
    RepairStatus,
)
from storage.models import Entity, Record


def entity_info(entity: Entity) -> EntityInfo:
    return EntityInfo(
        uscc=entity.uscc,
        name=entity.name,
        entity_type=entity.entity_type,
        legal_rep=entity.legal_rep,
        address=entity.address,
        registered_on=entity.registered_on,
        registration_authority=entity.registration_authority,
        false_commitment=entity.false_commitment,
    )


async def find_entity(session: AsyncSession, uscc: str) -> Entity | None:
    return await session.get(Entity, uscc)


def record_view(record: Record, objection_pending: bool = False) -> RecordView:
    return RecordView(
        kind=RecordKind(record.kind),
        domain=record.domain,
        doc_no=record.doc_no,
        decision_date=record.decision_date,
        source_dept=record.source_dept,
        status=RecordStatus(record.status),
        repair_status=RepairStatus(record.repair_status),
        repair_date=record.repair_date,
        end_date=record.end_date,
        procedure=Procedure(record.procedure) if record.procedure else None,
        objection_pending=objection_pending,
        fields=dict(record.fields),
        record_id=record.id,
    )


def report_lookup(uscc: str, domains: Iterable[int], start: date, end: date):
    """The statement behind a report: valid records of one entity in the chosen domains.

    Only 有效 records are fetched; revoked, not-penalised and deleted ones never reach a report.
    """
    table = Record.__table__
    columns = table.c
    in_period = columns.decision_date.between(start, end)
    list_overlaps = and_(
        columns.kind == RecordKind.LIST.value,
        columns.decision_date <= end,
        or_(columns.end_date.is_(None), columns.end_date >= start),
    )
    return (
        select(Record)
        .where(
            columns.uscc == uscc,
            columns.domain.in_(sorted(set(domains))),
            columns.status == RecordStatus.VALID.value,
            or_(in_period, list_overlaps),
        )
        .order_by(columns.domain, columns.decision_date, columns.id)
    )


async def records_for_report(
    session: AsyncSession, uscc: str, domains: Iterable[int], start: date, end: date
) -> list[RecordView]:
    result = await session.exec(report_lookup(uscc, domains, start, end))
    return [record_view(record) for record in result.all()]
