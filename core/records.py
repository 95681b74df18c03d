"""Record kinds, statuses and the plain values the report is assembled from.

These are storage-independent on purpose: the report rules in `core.report` must be
testable with hand-built values, and `storage` converts its rows into these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class RecordKind(StrEnum):
    """The four kinds of violation record the policy lists (seed, 二（二）)."""

    PENALTY = "penalty"
    ENFORCEMENT = "enforcement"
    LIST = "list"
    JUDGMENT = "judgment"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS: dict[RecordKind, str] = {
    RecordKind.PENALTY: "行政处罚",
    RecordKind.ENFORCEMENT: "行政强制",
    RecordKind.LIST: "严重失信主体名单",
    RecordKind.JUDGMENT: "刑事裁判",
}

#: The seed's table writes 刑事裁判（犯罪记录） in the data-scope column; both spellings name one kind.
KIND_BY_LABEL: dict[str, RecordKind] = {
    "行政处罚": RecordKind.PENALTY,
    "行政强制": RecordKind.ENFORCEMENT,
    "严重失信主体名单": RecordKind.LIST,
    "刑事裁判": RecordKind.JUDGMENT,
    "刑事裁判（犯罪记录）": RecordKind.JUDGMENT,
}


class RecordStatus(StrEnum):
    """Only VALID records are violations; the others never appear in a report."""

    VALID = "有效"
    REVOKED = "已撤销"
    NOT_PENALIZED = "不予处罚"
    DELETED = "已删除"


class RepairStatus(StrEnum):
    NOT_REPAIRED = "未修复"
    REPAIRED = "已修复"


class Procedure(StrEnum):
    """简易程序 penalties are violations like any other (seed: 含简易程序作出的行政处罚)."""

    ORDINARY = "普通程序"
    SUMMARY = "简易程序"


class EntityType(StrEnum):
    ENTERPRISE = "企业"
    INDIVIDUAL_BUSINESS = "个体工商户"
    COOPERATIVE = "农民专业合作社"
    PUBLIC_INSTITUTION = "事业单位"
    SOCIAL_ORGANIZATION = "社会组织"


#: Records are collected from this day on (seed: 2022年8月1日以来); earlier time is not covered.
DATA_START = date(2022, 8, 1)


def cn_date(day: date) -> str:
    """A date as Chinese documents write it: 2022年8月1日."""
    return f"{day.year}年{day.month}月{day.day}日"


#: Dates in records and reports are Shanxi's: a decision made "today" before 08:00 Beijing time
#: is still tomorrow in UTC, so "is it in the future" must be asked in this zone.
CHINA_TZ = ZoneInfo("Asia/Shanghai")


def china_today(now: datetime) -> date:
    return now.astimezone(CHINA_TZ).date()


@dataclass(frozen=True)
class EntityInfo:
    """What a report shows about its subject; personal data stays out of it."""

    uscc: str
    name: str
    entity_type: str
    legal_rep: str
    address: str = ""
    registered_on: date | None = None
    registration_authority: str = ""
    false_commitment: bool = False


@dataclass(frozen=True)
class RecordView:
    """One record as the report rules see it.

    `decision_date` is the decision date for penalties, enforcements and judgments and the
    listing date (列入日期) for list entries; `end_date` is 移出日期 for lists and 解除日期 for
    enforcements. `fields` holds the kind's 双公示 fields under their Chinese CSV headers.
    """

    kind: RecordKind
    domain: int
    doc_no: str
    decision_date: date
    source_dept: str
    status: RecordStatus = RecordStatus.VALID
    repair_status: RepairStatus = RepairStatus.NOT_REPAIRED
    repair_date: date | None = None
    end_date: date | None = None
    procedure: Procedure | None = None
    objection_pending: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    record_id: int | None = None
