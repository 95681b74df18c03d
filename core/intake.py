"""Checking what departments send, one row at a time, before anything is written.

The CSV command and the JSON API share these rules so that a department gets the same
verdict whichever way it reports. Everything here is pure: a row (header → text) goes in, the
values to store or the reasons to refuse it come out. The storage layer never sees a row that
did not pass. A refusal names every problem of the row at once, so one round of corrections
is enough; reasons never repeat an ID number or a phone number.

Lists carry no document number, so the key of a list entry is built from the list, the entity
and the listing date (see `list_doc_no`): relisting after a removal is a new entry, while a
changed 移出日期 or 列入事由 corrects the existing one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import lru_cache
from operator import mul
from typing import Any

import orjson

from core.domains import Domain, domain_by_name, domain_by_number, resolve_domain
from core.personal_data import mask_id_number, mask_phone, normalize_id_number, redact
from core.records import EntityType, Procedure, RecordKind, RecordStatus, RepairStatus
from core.resident_id import is_valid_resident_id
from core.uscc import ALPHABET, VALUES, WEIGHTS, UsccError, validate_uscc


class IntakeKind(StrEnum):
    """What one CSV file or API batch holds: the register of entities or one record kind."""

    ENTITIES = "entities"
    PENALTIES = "penalties"
    ENFORCEMENTS = "enforcements"
    LISTS = "lists"
    JUDGMENTS = "judgments"


_KIND_NAMES: dict[str, IntakeKind] = {
    **{kind.value: kind for kind in IntakeKind},
    "主体": IntakeKind.ENTITIES,
    "经营主体": IntakeKind.ENTITIES,
    "行政处罚": IntakeKind.PENALTIES,
    "行政强制": IntakeKind.ENFORCEMENTS,
    "严重失信主体名单": IntakeKind.LISTS,
    "刑事裁判": IntakeKind.JUDGMENTS,
    "刑事裁判（犯罪记录）": IntakeKind.JUDGMENTS,
}


def resolve_kind(text: str) -> IntakeKind | None:
    """English names as on the command line, or the policy's Chinese names."""
    return _KIND_NAMES.get(text.strip().lower()) or _KIND_NAMES.get(text.strip())


USCC = "统一社会信用代码"
SOURCE_DEPT = "数据来源单位"
SOURCE_DEPT_USCC = "数据来源单位统一社会信用代码"
DOMAIN = "领域"
STATUS = "记录状态"
PROCEDURE = "程序类型"
REPAIR_STATUS = "修复状态"
REPAIR_DATE = "修复日期"
ID_NUMBER = "法定代表人证件号码"
PHONE = "联系电话"
#: The column added to FILE.rejected.csv; ignored on import so a corrected file goes straight back in.
REASON_HEADER = "拒绝原因"
#: The API's explicit request to move an existing record to another domain (a boolean, not a CSV column).
CORRECT_DOMAIN = "更正领域"

#: The contract with the departments: exact headers per kind, in the order of the issue.
_HEADER_LINES: dict[IntakeKind, str] = {
    IntakeKind.ENTITIES: (
        "统一社会信用代码,主体名称,主体类型,法定代表人,法定代表人证件号码,联系电话,注册地址,成立日期,登记机关"
    ),
    IntakeKind.PENALTIES: (
        "行政相对人名称,行政相对人类别,统一社会信用代码,法定代表人,行政处罚决定书文号,违法行为类型,违法事实,"
        "处罚依据,处罚类别,处罚内容,罚款金额（万元）,没收违法所得、没收非法财物的金额（万元）,"
        "暂扣或吊销证照名称及编号,处罚决定日期,处罚有效期,公示截止期,处罚机关,处罚机关统一社会信用代码,"
        "数据来源单位,数据来源单位统一社会信用代码,备注,领域,程序类型,记录状态,修复状态,修复日期"
    ),
    IntakeKind.ENFORCEMENTS: (
        "行政相对人名称,统一社会信用代码,行政强制决定书文号,强制类别,强制内容,强制依据,决定日期,解除日期,"
        "实施机关,实施机关统一社会信用代码,数据来源单位,数据来源单位统一社会信用代码,领域,记录状态"
    ),
    IntakeKind.LISTS: (
        "主体名称,统一社会信用代码,名单名称,列入事由,认定依据,认定部门,列入日期,移出日期,数据来源单位,"
        "数据来源单位统一社会信用代码,领域"
    ),
    IntakeKind.JUDGMENTS: (
        "主体名称,统一社会信用代码,裁判文书号,案由,判决结果,审判法院,判决日期,生效日期,数据来源单位,"
        "数据来源单位统一社会信用代码,领域"
    ),
}
HEADERS: dict[IntakeKind, tuple[str, ...]] = {
    kind: tuple(line.split(",")) for kind, line in _HEADER_LINES.items()
}


@dataclass(frozen=True)
class RecordLayout:
    """Where a record kind keeps the values that have their own columns in the store."""

    kind: RecordKind
    doc_header: str | None
    decision_header: str
    end_header: str | None
    required: tuple[str, ...]
    #: Further dates that must not lie in the future.
    past_dates: tuple[str, ...] = ()
    #: Dates that naturally lie ahead (publicity deadlines) and are only checked for form.
    any_dates: tuple[str, ...] = ()
    agency_usccs: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()


LAYOUTS: dict[IntakeKind, RecordLayout] = {
    IntakeKind.PENALTIES: RecordLayout(
        kind=RecordKind.PENALTY,
        doc_header="行政处罚决定书文号",
        decision_header="处罚决定日期",
        end_header=None,
        required=(
            "行政相对人名称",
            USCC,
            "行政处罚决定书文号",
            "违法事实",
            "处罚类别",
            "处罚决定日期",
            "处罚机关",
            SOURCE_DEPT,
            DOMAIN,
        ),
        any_dates=("处罚有效期", "公示截止期"),
        agency_usccs=("处罚机关统一社会信用代码",),
        amounts=("罚款金额（万元）", "没收违法所得、没收非法财物的金额（万元）"),
    ),
    IntakeKind.ENFORCEMENTS: RecordLayout(
        kind=RecordKind.ENFORCEMENT,
        doc_header="行政强制决定书文号",
        decision_header="决定日期",
        end_header="解除日期",
        required=(
            "行政相对人名称",
            USCC,
            "行政强制决定书文号",
            "强制类别",
            "决定日期",
            "实施机关",
            SOURCE_DEPT,
            DOMAIN,
        ),
        agency_usccs=("实施机关统一社会信用代码",),
    ),
    IntakeKind.LISTS: RecordLayout(
        kind=RecordKind.LIST,
        doc_header=None,
        decision_header="列入日期",
        end_header="移出日期",
        required=("主体名称", USCC, "名单名称", "列入事由", "认定部门", "列入日期", SOURCE_DEPT, DOMAIN),
    ),
    IntakeKind.JUDGMENTS: RecordLayout(
        kind=RecordKind.JUDGMENT,
        doc_header="裁判文书号",
        decision_header="判决日期",
        end_header=None,
        required=("主体名称", USCC, "裁判文书号", "案由", "审判法院", "判决日期", SOURCE_DEPT, DOMAIN),
        past_dates=("生效日期",),
    ),
}

ENTITY_REQUIRED = (USCC, "主体名称", "主体类型", "法定代表人", ID_NUMBER, PHONE)

#: Values with their own columns; everything else of a row is kept in `Record.fields`.
_COLUMN_HEADERS = frozenset(
    {USCC, SOURCE_DEPT, SOURCE_DEPT_USCC, DOMAIN, STATUS, PROCEDURE, REPAIR_STATUS, REPAIR_DATE}
    | {layout.decision_header for layout in LAYOUTS.values()}
    | {layout.end_header for layout in LAYOUTS.values() if layout.end_header}
    | {layout.doc_header for layout in LAYOUTS.values() if layout.doc_header}
)
_FIELD_HEADERS: dict[IntakeKind, tuple[str, ...]] = {
    kind: tuple(h for h in HEADERS[kind] if h not in _COLUMN_HEADERS) for kind in LAYOUTS
}

_STATUSES = frozenset(s.value for s in RecordStatus)
_PROCEDURES = frozenset(p.value for p in Procedure)
_REPAIRS = frozenset(r.value for r in RepairStatus)
_ENTITY_TYPES = frozenset(t.value for t in EntityType)
# Plain strings: an enum member's .value costs a descriptor call on every row of a large file.
_VALID, _ORDINARY = RecordStatus.VALID.value, Procedure.ORDINARY.value
_REPAIRED, _NOT_REPAIRED = RepairStatus.REPAIRED.value, RepairStatus.NOT_REPAIRED.value

DATE_FORMATS_HINT = "YYYY-MM-DD、YYYY/MM/DD 或 YYYY年M月D日"
_DATE = re.compile(
    r"(\d{4})(?:-(\d{1,2})-(\d{1,2})|/(\d{1,2})/(\d{1,2})|年(\d{1,2})月(\d{1,2})日)"
    r"(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"  # spreadsheets append a midnight time
)
_USCC_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}")
#: Amounts in 万元: at most 12 integer digits (a trillion yuan is far beyond any fine) and 6 decimals (1 fen).
_AMOUNT = re.compile(r"\d{1,12}(?:\.\d{1,6})?")
AMOUNT_RULE = "应为不小于0的数字（单位：万元），整数部分最多12位，小数部分最多6位"
#: Free-text fields get room for a paragraph; every other field (names, numbers, dates, codes) is short.
LONG_TEXT_LIMIT = 5000
SHORT_TEXT_LIMIT = 200
LONG_TEXT_HEADERS = frozenset(
    {
        "违法行为类型",
        "违法事实",
        "处罚依据",
        "处罚内容",
        "暂扣或吊销证照名称及编号",
        "备注",
        "强制内容",
        "强制依据",
        "列入事由",
        "认定依据",
        "判决结果",
    }
)
_PHONE_NOISE = re.compile(r"[\s\-()（）]")
_MOBILE = re.compile(r"1[3-9]\d{9}")


@lru_cache(maxsize=8192)
def parse_date(text: str) -> date | None:
    """The date in one of the accepted forms, or None; dates repeat a lot, hence the cache."""
    match = _DATE.fullmatch(text.strip())
    if not match:
        return None
    year, *parts = match.groups()
    month, day = (int(p) for p in parts if p is not None)
    try:
        return date(int(year), month, day)
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _domain(text: str) -> Domain | None:
    return resolve_domain(text)


@dataclass(slots=True)
class RecordValues:
    """A record as it will be stored; `fields` holds the rest of its 双公示 fields."""

    kind: RecordKind
    uscc: str
    domain: int
    doc_no: str
    source_dept: str
    source_dept_uscc: str
    decision_date: date
    end_date: date | None
    status: str
    procedure: str | None
    repair_status: str
    repair_date: date | None
    fields: dict[str, str]
    #: The sender asked explicitly to move the stored record to another domain (API only).
    correct_domain: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_dept, self.doc_no)

    def plain(self) -> PlainRecord:
        """The record as strings and numbers only, cheap to send to another process."""
        return (
            self.kind.value,
            self.source_dept,
            self.doc_no,
            self.uscc,
            self.domain,
            self.source_dept_uscc,
            self.decision_date.isoformat(),
            self.end_date.isoformat() if self.end_date else None,
            self.status,
            self.procedure,
            self.repair_status,
            self.repair_date.isoformat() if self.repair_date else None,
            orjson.dumps(self.fields).decode(),
        )

    @classmethod
    def from_plain(cls, plain: PlainRecord) -> RecordValues:
        (
            kind,
            dept,
            doc_no,
            uscc,
            domain,
            dept_uscc,
            decided,
            ended,
            status,
            procedure,
            repair,
            repaired,
            fields,
        ) = plain
        return cls(
            kind=RecordKind(kind),
            uscc=uscc,
            domain=domain,
            doc_no=doc_no,
            source_dept=dept,
            source_dept_uscc=dept_uscc,
            decision_date=date.fromisoformat(decided),
            end_date=date.fromisoformat(ended) if ended else None,
            status=status,
            procedure=procedure,
            repair_status=repair,
            repair_date=date.fromisoformat(repaired) if repaired else None,
            fields=orjson.loads(fields),
        )


#: (kind, source_dept, doc_no, uscc, domain, source_dept_uscc, decision date, end date, status,
#: procedure, repair status, repair date, fields as JSON); dates in ISO form.
PlainRecord = tuple[str, str, str, str, int, str, str, str | None, str, str | None, str, str | None, str]


@dataclass(slots=True)
class EntityValues:
    """An entity as it will be stored, except that the ID number is still in clear (hashed on write)."""

    uscc: str
    name: str
    entity_type: str
    legal_rep: str
    id_number: str
    phone: str
    address: str
    registered_on: date | None
    registration_authority: str

    @property
    def key(self) -> str:
        return self.uscc


@dataclass(slots=True)
class Checked:
    """The verdict on one row: values to store (perhaps with warnings), or the reasons it was refused."""

    values: RecordValues | EntityValues | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


_TYPE_NAMES = {bool: "布尔值", int: "数字", float: "数字", list: "数组", dict: "对象"}
_AMOUNT_HEADERS = frozenset(h for layout in LAYOUTS.values() for h in layout.amounts)


def _clean(header: str, value: Any, wrong: dict[str, str]) -> str:
    """A non-string value from a JSON body: null is empty, a number is accepted only as an amount.

    Anything else (a number where text belongs, a boolean, an array, an object) is recorded in
    `wrong` rather than turned into text: `str()` of a list is never what the department meant.
    """
    if value is None:
        return ""
    if value.__class__ in (int, float) and header in _AMOUNT_HEADERS:
        return repr(value)
    wrong[header] = f"{header}应为文本，不能是{_TYPE_NAMES.get(value.__class__, '此类值')}"
    return ""


def _values(
    headers: Sequence[str], row: Mapping[str, Any], errors: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The row's texts by header, stripped, and the headers refused for their value's type or length.

    A refused value is left empty (so no other rule looks at it) and not reported as missing.

    Rows are read once per record of multi-million-line files: strings skip the general
    cleaner, and field lengths are only looked at one by one when some field is long.
    """
    get = row.get
    wrong: dict[str, str] = {}
    values = {h: v.strip() if (v := get(h)).__class__ is str else _clean(h, v, wrong) for h in headers}
    if max(map(len, values.values())) > SHORT_TEXT_LIMIT:
        for header, text in values.items():
            limit = LONG_TEXT_LIMIT if header in LONG_TEXT_HEADERS else SHORT_TEXT_LIMIT
            if len(text) > limit:
                wrong[header] = f"{header}过长：最多{limit}个字符，实为{len(text)}个字符"
                values[header] = ""
    errors.extend(wrong.values())
    return values, wrong


def _date(values: dict[str, str], header: str, today: date, errors: list[str], past: bool) -> date | None:
    text = values[header]
    if not text:
        return None
    parsed = parse_date(text)
    if parsed is None:
        errors.append(f"{header}“{text}”无法识别，请写成 {DATE_FORMATS_HINT}")
        return None
    if past and parsed > today:
        errors.append(f"{header} {parsed.isoformat()} 晚于今天（{today.isoformat()}）")
        return None
    return parsed


def _uscc(values: dict[str, str], header: str, errors: list[str]) -> str:
    text = values[header]
    if not text:
        return ""
    # Files hold clean codes almost always; only the rest pay for normalisation and a precise message.
    if _USCC_SHAPE.fullmatch(text):
        total = sum(map(mul, map(VALUES.__getitem__, text[:17]), WEIGHTS))
        if ALPHABET[-total % 31] == text[17]:
            return text
    try:
        return validate_uscc(text)
    except UsccError as error:
        errors.append(f"{header}无效：{error.message}")
        return ""


def _choice(text: str, allowed: frozenset[str], default: str, header: str, errors: list[str]) -> str:
    if not text:
        return default
    if text not in allowed:
        errors.append(f"{header}“{text}”应为 {'、'.join(sorted(allowed))} 之一")
    return text


def list_doc_no(list_name: str, uscc: str, listed_on: date) -> str:
    """The key of a list entry, which has no document number of its own."""
    return f"{list_name}|{uscc}|{listed_on.isoformat()}"


def check_record(kind: IntakeKind, row: Mapping[str, Any], today: date) -> Checked:
    """Validate one record row of `kind` (not ENTITIES) against the rules of the issue."""
    layout = LAYOUTS[kind]
    errors: list[str] = []
    warnings: list[str] = []
    values, refused = _values(HEADERS[kind], row, errors)
    missing = [header for header in layout.required if not values[header] and header not in refused]
    if missing:
        errors.append("缺少必填项：" + "、".join(missing))

    uscc = _uscc(values, USCC, errors)
    for header in layout.agency_usccs:
        _uscc(values, header, errors)
    source_dept_uscc = _uscc(values, SOURCE_DEPT_USCC, errors)

    domain = None
    if values[DOMAIN]:
        domain = _domain(values[DOMAIN])
        if domain is None:
            errors.append(f"领域“{values[DOMAIN]}”不是40个实施领域之一")
        elif not domain.holds(layout.kind):
            warnings.append(f"领域“{domain.name}”的数据范围不含{layout.kind.label}，已接收，请核对领域")

    decision = _date(values, layout.decision_header, today, errors, past=True)
    end = _date(values, layout.end_header, today, errors, past=True) if layout.end_header else None
    if decision and end and end < decision:
        errors.append(f"{layout.end_header}早于{layout.decision_header}")
    for header in layout.past_dates:
        if parsed := _date(values, header, today, errors, past=True):
            values[header] = parsed.isoformat()
    for header in layout.any_dates:
        if parsed := _date(values, header, today, errors, past=False):
            values[header] = parsed.isoformat()
    for header in layout.amounts:
        if values[header] and not _AMOUNT.fullmatch(values[header]):
            errors.append(f"{header}“{values[header]}”{AMOUNT_RULE}")

    status = _choice(values.get(STATUS, ""), _STATUSES, _VALID, STATUS, errors)
    procedure = None
    repair_status = _NOT_REPAIRED
    repair_date = None
    if kind is IntakeKind.PENALTIES:
        procedure = _choice(values[PROCEDURE], _PROCEDURES, _ORDINARY, PROCEDURE, errors)
        repair_status = _choice(values[REPAIR_STATUS], _REPAIRS, repair_status, REPAIR_STATUS, errors)
        repair_date = _date(values, REPAIR_DATE, today, errors, past=True)
        if repair_status == _REPAIRED and not values[REPAIR_DATE]:
            errors.append("修复状态为已修复时须填写修复日期")
        elif repair_status == _NOT_REPAIRED and values[REPAIR_DATE]:
            errors.append("修复状态为未修复，但填写了修复日期")
        elif repair_date and decision and repair_date < decision:
            errors.append("修复日期早于处罚决定日期")

    list_name = values.get("名单名称", "")
    if list_name and domain and domain.list_names and list_name not in domain.list_names:
        warnings.append(f"名单名称“{list_name}”不是“{domain.name}”领域的严重失信主体名单，请核对")

    if errors:
        return Checked(None, errors, warnings)
    assert decision is not None and domain is not None  # required and checked above
    doc_no = values[layout.doc_header] if layout.doc_header else list_doc_no(list_name, uscc, decision)
    fields = {header: values[header] for header in _FIELD_HEADERS[kind] if values[header]}
    record = RecordValues(
        kind=layout.kind,
        uscc=uscc,
        domain=domain.number,
        doc_no=doc_no,
        source_dept=values[SOURCE_DEPT],
        source_dept_uscc=source_dept_uscc,
        decision_date=decision,
        end_date=end,
        status=status,
        procedure=procedure,
        repair_status=repair_status,
        repair_date=repair_date,
        fields=fields,
    )
    return Checked(record, errors, warnings)


def normalize_phone(text: str) -> str:
    phone = _PHONE_NOISE.sub("", text)
    for prefix in ("+86", "0086", "86"):
        if phone.startswith(prefix) and len(phone) == len(prefix) + 11:
            return phone[len(prefix) :]
    return phone


def check_entity(row: Mapping[str, Any], today: date) -> Checked:
    """Validate one row of the entity register; the ID number must carry a valid check digit."""
    errors: list[str] = []
    values, refused = _values(HEADERS[IntakeKind.ENTITIES], row, errors)
    missing = [header for header in ENTITY_REQUIRED if not values[header] and header not in refused]
    if missing:
        errors.append("缺少必填项：" + "、".join(missing))
    uscc = _uscc(values, USCC, errors)
    entity_type = values["主体类型"]
    if entity_type and entity_type not in _ENTITY_TYPES:
        errors.append(f"主体类型“{entity_type}”应为 {'、'.join(t.value for t in EntityType)} 之一")
    id_number = normalize_id_number(values[ID_NUMBER])
    if id_number and not is_valid_resident_id(id_number):
        errors.append("法定代表人证件号码不是有效的18位居民身份证号码（长度或校验位不符）")
    phone = normalize_phone(values[PHONE])
    if phone and not _MOBILE.fullmatch(phone):
        errors.append("联系电话应为11位手机号码（用于发送验证码）")
    registered_on = _date(values, "成立日期", today, errors, past=True)
    if errors:
        return Checked(None, errors)
    entity = EntityValues(
        uscc=uscc,
        name=values["主体名称"],
        entity_type=entity_type,
        legal_rep=values["法定代表人"],
        id_number=id_number,
        phone=phone,
        address=values["注册地址"],
        registered_on=registered_on,
        registration_authority=values["登记机关"],
    )
    return Checked(entity)


def check_row(kind: IntakeKind, row: Mapping[str, Any], today: date) -> Checked:
    if kind is IntakeKind.ENTITIES:
        return check_entity(row, today)
    return check_record(kind, row, today)


class DuplicateGuard:
    """Remembers where each key first appeared in one file or request: the later duplicate is refused.

    Keeping the first occurrence is the predictable choice: the department sees which line
    won without having to know how the store would have ordered two writes.
    """

    def __init__(self) -> None:
        self._first: dict[object, str] = {}

    def earlier(self, key: object, where: str) -> str | None:
        """Where `key` was first seen, or None when this is its first appearance."""
        first = self._first.setdefault(key, where)
        return None if first == where else first


def duplicate_reason(kind: IntakeKind, earlier: str) -> str:
    if kind is IntakeKind.ENTITIES:
        return f"统一社会信用代码与{earlier}重复，已保留{earlier}"
    if kind is IntakeKind.LISTS:
        return f"同一名单、同一主体、同一列入日期的记录与{earlier}重复，已保留{earlier}"
    return f"文书号与{earlier}重复（同一数据来源单位），已保留{earlier}"


def check_headers(kind: IntakeKind, header: Sequence[str]) -> list[str]:
    """Problems that make a file unusable: missing, unknown or repeated column names."""
    names = [name.strip().lstrip("\ufeff") for name in header]
    expected = HEADERS[kind]
    problems = []
    missing = [name for name in expected if name not in names]
    if missing:
        problems.append("缺少列：" + "、".join(missing))
    unknown = [name for name in names if name not in expected and name != REASON_HEADER]
    if unknown:
        problems.append("无法识别的列：" + "、".join(unknown))
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append("重复的列：" + "、".join(repeated))
    return problems


def masked_row(header: Sequence[str], row: Sequence[str]) -> list[str]:
    """A refused row as written to FILE.rejected.csv: ID numbers and phones masked, free text redacted."""
    masked = []
    for name, value in zip(header, row, strict=False):
        if name == ID_NUMBER:
            number = normalize_id_number(value)
            masked.append(mask_id_number(number[-4:]) if number else "")
        elif name == PHONE:
            masked.append(mask_phone(value) if value.strip() else "")
        else:
            masked.append(redact(value))
    return masked


#: Registration data belongs to the market regulator's domain.
ENTITY_DOMAIN = domain_by_name("市场监管").number


@dataclass(frozen=True)
class UnitScope:
    """What one API key may write: records of its own data-source unit, in its own domains.

    The key, not the body, says who is writing: a department cannot report in another unit's
    name, and a record it did not file (another unit's key in storage) is out of its reach.
    A record already stored is judged by its stored domain, which `stored_problem` checks at
    write time against the row itself.
    """

    unit: str
    unit_uscc: str
    domains: frozenset[int]

    def _allowed(self) -> str:
        return "、".join(domain_by_number(n).name for n in sorted(self.domains))

    def claim(self, row: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The row with the unit filled in where the body left it empty, or why the claim is refused.

        Only a body that names a different unit (or unit code) is refused; typing errors are
        left to the field rules so that they are reported with the rest of the row's problems.
        """
        filled = dict(row)
        for header, own in ((SOURCE_DEPT, self.unit), (SOURCE_DEPT_USCC, self.unit_uscc)):
            given = filled.get(header)
            if given is None or (given.__class__ is str and not given.strip()):
                if own:
                    filled[header] = own
            elif given.__class__ is str and own and not self._same(header, given, own):
                return filled, self._impersonation(header, given.strip(), own)
        return filled, None

    @staticmethod
    def _same(header: str, given: str, own: str) -> bool:
        if header == SOURCE_DEPT_USCC:
            try:
                return validate_uscc(given) == own
            except UsccError:
                return False
        return given.strip() == own

    @staticmethod
    def _impersonation(header: str, given: str, own: str) -> str:
        if header == SOURCE_DEPT:
            return f"数据来源单位“{given}”与本密钥所属单位“{own}”不符：只能以本单位名义报送"
        return f"数据来源单位统一社会信用代码“{given}”与本单位的“{own}”不符：只能以本单位名义报送"

    def scope_error(self, values: RecordValues | EntityValues) -> str | None:
        """Whether the key may write in the domain the body names (entities: only the market regulator)."""
        if isinstance(values, EntityValues):
            if ENTITY_DOMAIN in self.domains:
                return None
            return "主体登记信息只能由负责市场监管领域的单位报送"
        if values.domain in self.domains:
            return None
        return f"本单位无权写入“{domain_by_number(values.domain).name}”领域（可写入：{self._allowed()}）"

    def stored_problem(self, stored_domain: int, stored_unit_uscc: str, record: RecordValues) -> str | None:
        """Why `record` may not change the stored row it matches, if it may not.

        The stored row decides: its domain must be in scope, a move to another domain needs the
        explicit `更正领域` flag (and the new domain is in scope, checked before writing), and a
        row filed under another unit code is not this unit's.
        """
        if self.unit_uscc and stored_unit_uscc and stored_unit_uscc != self.unit_uscc:
            return f"该记录由统一社会信用代码为“{stored_unit_uscc}”的单位报送，本单位无权更改"
        stored = domain_by_number(stored_domain).name
        if stored_domain not in self.domains:
            return f"该记录属于“{stored}”领域，本单位无权更改（可写入：{self._allowed()}）"
        if stored_domain != record.domain and not record.correct_domain:
            new = domain_by_number(record.domain).name
            return (
                f"该记录已登记在“{stored}”领域，本批写的是“{new}”领域；"
                f'如确需更正领域，请在该记录中加上 "{CORRECT_DOMAIN}": true'
            )
        return None
