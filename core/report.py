"""Assembly of a 专项信用报告 from an entity, its records, a period and a set of domains.

Pure on purpose: every rule of the policy (seed, 二（二）and 二（四）) is decided here, with no
clock, database or file, so the rules are testable on hand-built values and the signed content
is a deterministic function of its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from core.domains import Domain, domain_by_number
from core.periods import Period
from core.records import (
    CHINA_TZ,
    DATA_START,
    KIND_LABELS,
    EntityInfo,
    RecordKind,
    RecordStatus,
    RecordView,
    RepairStatus,
    cn_date,
)

KIND_ORDER: tuple[RecordKind, ...] = (
    RecordKind.PENALTY,
    RecordKind.ENFORCEMENT,
    RecordKind.LIST,
    RecordKind.JUDGMENT,
)

NO_RECORD = "未查询到违法违规记录"
#: The last day before data collection began; time up to it is not covered.
_LAST_UNCOVERED_DAY = DATA_START - timedelta(days=1)

#: The 双公示 fields a reader of each kind needs, under the CSV headers `RecordView.fields` uses.
DETAIL_FIELDS: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.PENALTY: ("违法行为类型", "处罚类别", "处罚内容", "处罚机关"),
    RecordKind.ENFORCEMENT: ("强制类别", "强制内容", "实施机关"),
    RecordKind.LIST: ("名单名称", "列入事由", "认定部门"),
    RecordKind.JUDGMENT: ("案由", "判决结果", "审判法院"),
}

USAGE_NOTE = (
    "本报告依据《关于推行经营主体以专项信用报告替代有无违法违规记录证明实施方案》"
    "（晋发改信用发〔2025〕237号）出具，可在行政审批、招标投标、政府采购、企业融资等场景中"
    "替代有无违法违规记录证明使用。报告使用方可扫描二维码或访问核验地址并输入核验码，"
    "核验报告的真实性与完整性。"
)

EQUAL_EFFECT_NOTE = "专项信用报告电子版与纸质版具有同等效力。"

DISCLAIMER = (
    "本报告内容来源于山西省信用信息共享平台归集的公共信用信息，按照“谁产生、谁负责”的原则，"
    "由数据来源单位对数据的真实性、准确性负责。本报告仅反映出具时平台已归集的信息，"
    "不构成对信用主体的任何担保。信用主体对报告内容有异议的，可通过“信用中国（山西）”网站"
    "提出异议申诉。"
)


class ReportError(ValueError):
    """A request that cannot become a report; `str(error)` is the Chinese explanation for the user."""


class FalseCommitmentError(ReportError):
    pass


@dataclass(frozen=True)
class ReportItem:
    """One violation record as printed: the facts plus the marks a reader must not miss."""

    kind: RecordKind
    domain: int
    domain_name: str
    doc_no: str
    decision_date: date
    end_date: date | None
    source_dept: str
    procedure: str | None
    repaired: bool
    repair_date: date | None
    objection_pending: bool
    details: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DomainSection:
    number: int
    name: str
    kinds_in_scope: tuple[RecordKind, ...]
    items: tuple[ReportItem, ...]
    result: str

    def count(self, kind: RecordKind) -> int | None:
        """Records of `kind`, or None where the domain's data scope does not hold that kind."""
        if kind not in self.kinds_in_scope:
            return None
        return sum(1 for item in self.items if item.kind is kind)


@dataclass(frozen=True)
class Report:
    report_no: str
    issued_at: datetime
    entity: EntityInfo
    period: Period
    sections: tuple[DomainSection, ...]
    coverage_note: str
    commitments: tuple[str, ...]
    usage_note: str = USAGE_NOTE
    equal_effect_note: str = EQUAL_EFFECT_NOTE
    disclaimer: str = DISCLAIMER

    @property
    def items(self) -> tuple[ReportItem, ...]:
        return tuple(item for section in self.sections for item in section.items)

    def items_of(self, kind: RecordKind) -> tuple[ReportItem, ...]:
        return tuple(item for item in self.items if item.kind is kind)

    @property
    def domain_names(self) -> tuple[str, ...]:
        return tuple(section.name for section in self.sections)


class ReportSubject(Protocol):
    """What the false-commitment rule reads; the chat's entity row and `EntityInfo` both have it."""

    @property
    def uscc(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def false_commitment(self) -> bool: ...


def check_entity(entity: ReportSubject) -> None:
    """Entities that made a false commitment lose 信用代证 (seed, 二（四）)."""
    if entity.false_commitment:
        raise FalseCommitmentError(
            f"{entity.name}（统一社会信用代码 {entity.uscc}）因存在虚假承诺记录，"
            "按照《关于推行经营主体以专项信用报告替代有无违法违规记录证明实施方案》规定，"
            "不再适用以专项信用报告替代有无违法违规记录证明（“信用代证”），本平台无法为其出具专项信用报告。"
            "请向相关部门申请开具有无违法违规记录证明。"
        )


def in_period(record: RecordView, period: Period) -> bool:
    """List entries count when the entity was listed at any time in the period; the rest by decision date."""
    if record.kind is RecordKind.LIST:
        removed_before_start = record.end_date is not None and record.end_date < period.start
        return record.decision_date <= period.end and not removed_before_start
    return period.start <= record.decision_date <= period.end


def _item(record: RecordView, domain: Domain) -> ReportItem:
    details = tuple((label, str(record.fields.get(label) or "")) for label in DETAIL_FIELDS[record.kind])
    return ReportItem(
        kind=record.kind,
        domain=domain.number,
        domain_name=domain.name,
        doc_no=record.doc_no,
        decision_date=record.decision_date,
        end_date=record.end_date,
        source_dept=record.source_dept,
        procedure=record.procedure.value if record.procedure else None,
        repaired=record.repair_status is RepairStatus.REPAIRED,
        repair_date=record.repair_date,
        objection_pending=record.objection_pending,
        details=details,
    )


def _sort_key(item: ReportItem) -> tuple[int, date, str]:
    return (KIND_ORDER.index(item.kind), item.decision_date, item.doc_no)


def _result(items: Sequence[ReportItem], period: Period) -> str:
    if items:
        return f"查询到违法违规记录{len(items)}条"
    if period.partly_uncovered:
        # Never claim "no record" for days the platform holds no data for.
        return f"{cn_date(period.covered_start)}至{cn_date(period.end)}{NO_RECORD}"
    return NO_RECORD


def _coverage_note(period: Period) -> str:
    base = (
        f"本报告期间为{cn_date(period.start)}至{cn_date(period.end)}。平台归集{cn_date(DATA_START)}以来的"
        "行政处罚（含简易程序作出的行政处罚）、行政强制、严重失信主体名单和刑事裁判（犯罪记录）信息。"
    )
    if period.partly_uncovered:
        return base + (
            f"所选期间早于{cn_date(DATA_START)}的部分（{cn_date(period.start)}至"
            f"{cn_date(_LAST_UNCOVERED_DAY)}）不在平台数据归集范围内，"
            "本报告不证明该时段内有无违法违规记录；该时段内已归集的记录仍如实列示。"
        )
    return base


def _commitments(entity: EntityInfo, period: Period, sections: Sequence[DomainSection]) -> tuple[str, ...]:
    """What the entity commits to for what the data cannot prove (seed: 暂未覆盖领域 主动承诺)."""
    uncovered = []
    for section in sections:
        missing = [KIND_LABELS[k] for k in KIND_ORDER if k not in section.kinds_in_scope]
        if missing:
            uncovered.append(f"{section.name}领域的{'、'.join(missing)}")
    lines = [
        f"{entity.name}承诺：在{cn_date(period.start)}至{cn_date(period.end)}期间，"
        "在本报告未覆盖的下列事项中不存在违法违规记录，如有虚假承诺，自愿承担相应法律责任，"
        "并不再适用“信用代证”。"
    ]
    if uncovered:
        lines.append("所选领域数据范围以外的记录类型：" + "；".join(uncovered) + "。")
    lines.append("本报告所列40个实施领域以外的其他领域。")
    if period.partly_uncovered:
        lines.append(
            f"{cn_date(period.start)}至{cn_date(_LAST_UNCOVERED_DAY)}期间（早于平台数据归集起始日）。"
        )
    return tuple(lines)


def assemble_report(
    entity: EntityInfo,
    records: Iterable[RecordView],
    period: Period,
    domains: Sequence[Domain],
    *,
    report_no: str,
    issued_at: datetime,
) -> Report:
    """Build the report for a period validated where it was asked for (`core.periods.validate_period`)
    and an entity the issuer has checked (`check_entity`); the rules are not run a second time here."""
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    if not domains:
        raise ReportError("请至少选择一个领域。")
    chosen = sorted({d.number: d for d in domains}.values(), key=lambda d: d.number)
    by_domain: dict[int, list[ReportItem]] = {d.number: [] for d in chosen}
    for record in records:
        if record.status is not RecordStatus.VALID or record.domain not in by_domain:
            continue
        if in_period(record, period):
            by_domain[record.domain].append(_item(record, domain_by_number(record.domain)))
    sections = []
    for domain in chosen:
        items = tuple(sorted(by_domain[domain.number], key=_sort_key))
        sections.append(
            DomainSection(
                number=domain.number,
                name=domain.name,
                kinds_in_scope=tuple(k for k in KIND_ORDER if domain.holds(k)),
                items=items,
                result=_result(items, period),
            )
        )
    return Report(
        report_no=report_no,
        issued_at=issued_at.astimezone(CHINA_TZ).replace(microsecond=0),
        entity=entity,
        period=period,
        sections=tuple(sections),
        coverage_note=_coverage_note(period),
        commitments=_commitments(entity, period, sections),
    )


def report_content(report: Report) -> dict[str, Any]:
    """The signed content: everything the printed report states, as plain JSON-able values."""
    entity = report.entity
    return {
        "schema": "creditbot.report/1",
        "report_no": report.report_no,
        "issued_at": report.issued_at.isoformat(),
        "entity": {
            "uscc": entity.uscc,
            "name": entity.name,
            "entity_type": entity.entity_type,
            "legal_rep": entity.legal_rep,
            "address": entity.address,
            "registered_on": entity.registered_on.isoformat() if entity.registered_on else None,
            "registration_authority": entity.registration_authority,
        },
        "period": {
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
            "covered_start": report.period.covered_start.isoformat(),
        },
        "domains": [
            {
                "number": section.number,
                "name": section.name,
                "result": section.result,
                "counts": {k.value: section.count(k) for k in section.kinds_in_scope},
                "records": [_item_content(item) for item in section.items],
            }
            for section in report.sections
        ],
        "coverage_note": report.coverage_note,
        "commitments": list(report.commitments),
        "usage_note": report.usage_note,
        "equal_effect_note": report.equal_effect_note,
        "disclaimer": report.disclaimer,
    }


def _item_content(item: ReportItem) -> dict[str, Any]:
    return {
        "kind": item.kind.value,
        "doc_no": item.doc_no,
        "decision_date": item.decision_date.isoformat(),
        "end_date": item.end_date.isoformat() if item.end_date else None,
        "source_dept": item.source_dept,
        "procedure": item.procedure,
        "repaired": item.repaired,
        "repair_date": item.repair_date.isoformat() if item.repair_date else None,
        "objection_pending": item.objection_pending,
        "details": dict(item.details),
    }
