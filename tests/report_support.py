"""Builders shared by the report tests: realistic records, stored entities and PDF text extraction."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import BytesIO
from typing import Any

from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from core.records import RecordKind, RecordView
from core.uscc import make_uscc
from storage.models import Record
from tests.fixtures import entity_values, store_entities

USCC = make_uscc("91140525MA0K8U2R7")
FIELDS: dict[RecordKind, dict[str, str]] = {
    RecordKind.PENALTY: {
        "违法行为类型": "未按规定设置安全警示标志",
        "处罚类别": "罚款",
        "处罚内容": "罚款人民币二万元",
        "处罚机关": "泽州县应急管理局",
    },
    RecordKind.ENFORCEMENT: {
        "强制类别": "查封设施",
        "强制内容": "查封提升机一台",
        "实施机关": "泽州县应急管理局",
    },
    RecordKind.LIST: {
        "名单名称": "失信被执行人名单",
        "列入事由": "有履行能力而拒不履行",
        "认定部门": "晋城市中级人民法院",
    },
    RecordKind.JUDGMENT: {
        "案由": "重大责任事故罪",
        "判决结果": "判处罚金人民币十万元",
        "审判法院": "泽州县人民法院",
    },
}


def record(kind: RecordKind, domain: int, doc_no: str, decided: date, **extra: Any) -> RecordView:
    """A valid record; a list entry, which prints no document number, names it in its 列入事由."""
    fields = dict(FIELDS[kind])
    if kind is RecordKind.LIST:
        fields["列入事由"] = doc_no
    return RecordView(
        kind=kind,
        domain=domain,
        doc_no=doc_no,
        decision_date=decided,
        source_dept="晋城市数据局",
        fields=fields,
        **extra,
    )


def pdf_text(pdf: bytes) -> list[str]:
    """Text of each page with all whitespace removed (table cells wrap anywhere)."""
    return ["".join((page.extract_text() or "").split()) for page in PdfReader(BytesIO(pdf)).pages]


async def store_entity(
    engine: AsyncEngine,
    uscc: str = USCC,
    name: str = "泽州县金鼎矿业有限公司",
    *,
    false_commitment: bool = False,
) -> None:
    """The report tests' entity (the builder's defaults: 李卫东, 泽州县南村镇, registered 2012-05-08)."""
    await store_entities(
        engine, [entity_values(uscc, name)], false_commitment=[uscc] if false_commitment else ()
    )


async def store_records(
    sessions: async_sessionmaker[AsyncSession], views: list[RecordView], uscc: str = USCC
) -> None:
    now = datetime.now(UTC)
    async with sessions() as session:
        for view in views:
            session.add(
                Record(
                    kind=view.kind.value,
                    uscc=uscc,
                    domain=view.domain,
                    doc_no=view.doc_no,
                    source_dept=view.source_dept,
                    decision_date=view.decision_date,
                    end_date=view.end_date,
                    status=view.status.value,
                    procedure=view.procedure.value if view.procedure else None,
                    repair_status=view.repair_status.value,
                    repair_date=view.repair_date,
                    fields=view.fields,
                    created_at=now,
                    updated_at=now,
                )
            )
        await session.commit()
