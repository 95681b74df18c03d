"""A realistic synthetic dataset for `make run`, the chat demo, tests and the benchmarks.

Everything is derived from one seeded random stream, so a seed and an end date (`until`,
normally today) always give the same entities and records. It streams in batches straight
through the bulk insert path, which is what lets it reach 1,000,000 entities and 10,000,000
records. The first records generated walk through every (domain, kind) pair the policy
allows, so even a small dataset covers all 40 domains and all four kinds; about 40 % of
entities have no record at all, and a few are marked for a false commitment.

`DEMO_ENTITIES` come first and never change: the chat demo, the README and tests log in as
them (USCC, legal representative, last six characters of the ID number, phone).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.domains import DOMAINS, Domain, domain_by_number
from core.intake import EntityValues, RecordValues, list_doc_no
from core.records import (
    DATA_START,
    EntityType,
    Procedure,
    RecordKind,
    RecordStatus,
    RepairStatus,
    china_today,
)
from core.resident_id import make_resident_id
from core.uscc import ALPHABET, make_uscc
from storage.bulk import insert_rows
from storage.demo_catalog import (
    AREAS,
    ASSOCIATIONS,
    CITY_ABBR,
    COOP_KINDS,
    CRIMES,
    DEPARTMENTS,
    DOC_ABBR,
    ENFORCEMENT_TYPES,
    FINES,
    GIVEN,
    INDUSTRIES,
    INSTITUTIONS,
    PENALTY_TYPES,
    SHOP_KINDS,
    STREETS,
    SURNAMES,
    TRADE_NAMES,
    VIOLATIONS,
    Area,
)
from storage.intake import ENTITIES, ENTITY_COLUMNS, RECORD_COLUMNS, RECORDS, entity_row, record_row

DEFAULT_SEED = 20250716  # the day the provincial policy was issued
BATCH_ENTITIES = 2000
_EARLIEST = date(2020, 1, 1)
_SHARE_BEFORE_DATA_START = 0.08
_SHARE_WITHOUT_RECORDS = 0.4
_SHARE_FALSE_COMMITMENT = 0.002
#: Generated organisation codes start at 31**6 ("MA1…"); the fixed entities use "MA0…", so they never meet.
_CODE_OFFSET = 31**6


@dataclass(frozen=True)
class DemoEntity:
    """A fixed demo entity and what its owner types to prove who they are (all synthetic)."""

    uscc: str
    name: str
    entity_type: str
    legal_rep: str
    id_number: str
    phone: str
    address: str
    registration_authority: str
    registered_on: date
    note: str
    false_commitment: bool = False

    @property
    def id_last6(self) -> str:
        return self.id_number[-6:]


DEMO_ENTITIES: tuple[DemoEntity, ...] = (
    DemoEntity(
        uscc=make_uscc("91140105MA0CLEAN1"),
        name="山西太行清源科技有限公司",
        entity_type=EntityType.ENTERPRISE.value,
        legal_rep="赵清源",
        id_number=make_resident_id("14010519850315003"),
        phone="13800138001",
        address="山西省太原市小店区坞城街道长治路88号",
        registration_authority="太原市小店区市场监督管理局",
        registered_on=date(2015, 6, 18),
        note="无任何记录：各领域均为“未查询到违法违规记录”",
    ),
    DemoEntity(
        uscc=make_uscc("91140522MA0TAYAN2"),
        name="山西阳城泰安煤业有限公司",
        entity_type=EntityType.ENTERPRISE.value,
        legal_rep="王建国",
        id_number=make_resident_id("14052219700821001"),
        phone="13900139002",
        address="山西省晋城市阳城县北留镇煤矿路1号",
        registration_authority="阳城县市场监督管理局",
        registered_on=date(2008, 3, 10),
        note="生态环境、应急管理（安全生产）领域有记录：含已修复、简易程序、已撤销、不予处罚、"
        "2022年8月1日前的处罚，行政强制（已解除）和已移出的严重失信主体名单",
    ),
    DemoEntity(
        uscc=make_uscc("92140502MA0LJB003"),
        name="晋城市城区刘记便利店",
        entity_type=EntityType.INDIVIDUAL_BUSINESS.value,
        legal_rep="刘红梅",
        id_number=make_resident_id("14050219880512002"),
        phone="13700137003",
        address="山西省晋城市城区东街街道凤台街16号",
        registration_authority="晋城市城区市场监督管理局",
        registered_on=date(2019, 9, 2),
        note="个体工商户：一条市场监管领域的简易程序处罚（警告）",
    ),
    DemoEntity(
        uscc=make_uscc("91140581MA0HDNGD4"),
        name="山西高平宏达商贸有限公司",
        entity_type=EntityType.ENTERPRISE.value,
        legal_rep="李志刚",
        id_number=make_resident_id("14058119791103003"),
        phone="13600136004",
        address="山西省晋城市高平市东城街道建设路20号",
        registration_authority="高平市市场监督管理局",
        registered_on=date(2012, 4, 25),
        note="虚假承诺主体：不能开具专项信用报告",
        false_commitment=True,
    ),
)


def _penalty(
    entity: DemoEntity,
    domain: int,
    dept: str,
    doc_no: str,
    decided: date,
    violation: str,
    law: str,
    content: str,
    status: RecordStatus = RecordStatus.VALID,
    procedure: Procedure = Procedure.ORDINARY,
    repaired_on: date | None = None,
) -> RecordValues:
    penalty_type = {"警告": "警告", "不予处罚": "不予处罚"}.get(content, "罚款")
    return RecordValues(
        kind=RecordKind.PENALTY,
        uscc=entity.uscc,
        domain=domain,
        doc_no=doc_no,
        source_dept=dept,
        source_dept_uscc="",
        decision_date=decided,
        end_date=None,
        status=status.value,
        procedure=procedure.value,
        repair_status=(RepairStatus.REPAIRED if repaired_on else RepairStatus.NOT_REPAIRED).value,
        repair_date=repaired_on,
        fields={
            "行政相对人名称": entity.name,
            "法定代表人": entity.legal_rep,
            "违法行为类型": violation,
            "违法事实": f"经查，当事人{violation}。",
            "处罚依据": law,
            "处罚类别": penalty_type,
            "处罚内容": content,
            "处罚机关": dept,
        },
    )


def _fixed_records(until: date) -> list[RecordValues]:
    """The records of the fixed entities, dated relative to `until` so that 近一年 finds the recent ones."""
    taian, liuji = DEMO_ENTITIES[1], DEMO_ENTITIES[2]
    recent = until - timedelta(days=90)
    year = recent.year
    ecology, safety, market = "晋城市生态环境局", "阳城县应急管理局", "晋城市城区市场监督管理局"
    air_law, safety_law = VIOLATIONS[5][0], VIOLATIONS[9][0]
    listed = date(2023, 6, 1)
    return [
        _penalty(taian, 5, ecology, f"晋市环罚〔{year}〕17号", recent, "未采取有效措施防治扬尘污染", air_law,
                 "罚款人民币3万元"),
        _penalty(taian, 5, ecology, "晋市环罚〔2022〕3号", date(2022, 5, 20), "超标排放大气污染物", air_law,
                 "罚款人民币10万元"),
        _penalty(taian, 5, ecology, "晋市环罚〔2023〕41号", date(2023, 9, 12), "未按规定设置危险废物识别标志",
                 air_law, "不予处罚", status=RecordStatus.NOT_PENALIZED),
        _penalty(taian, 9, safety, "阳应急罚〔2023〕5号", date(2023, 4, 6),
                 "未按规定对从业人员进行安全生产教育和培训", safety_law, "罚款人民币2万元",
                 repaired_on=date(2024, 1, 15)),
        _penalty(taian, 9, safety, f"阳应急罚〔{year}〕8号", recent - timedelta(days=30),
                 "特种作业人员未持证上岗", safety_law, "警告", procedure=Procedure.SUMMARY),
        _penalty(taian, 9, safety, "阳应急罚〔2024〕2号", date(2024, 2, 27), "未建立事故隐患排查治理制度",
                 safety_law, "罚款人民币1万元", status=RecordStatus.REVOKED),
        RecordValues(
            kind=RecordKind.ENFORCEMENT, uscc=taian.uscc, domain=9, doc_no="阳应急强〔2023〕2号",
            source_dept=safety, source_dept_uscc="", decision_date=date(2023, 4, 1),
            end_date=date(2023, 5, 10),
            status=RecordStatus.VALID.value, procedure=None, repair_status=RepairStatus.NOT_REPAIRED.value,
            repair_date=None,
            fields={"行政相对人名称": taian.name, "强制类别": "查封场所、设施或者财物",
                    "强制内容": "查封3号井下采掘工作面", "强制依据": safety_law, "实施机关": safety},
        ),
        RecordValues(
            kind=RecordKind.LIST, uscc=taian.uscc, domain=9,
            doc_no=list_doc_no("安全生产严重失信主体名单", taian.uscc, listed),
            source_dept="山西省应急管理厅", source_dept_uscc="", decision_date=listed,
            end_date=date(2024, 6, 3), status=RecordStatus.VALID.value, procedure=None,
            repair_status=RepairStatus.NOT_REPAIRED.value, repair_date=None,
            fields={"主体名称": taian.name, "名单名称": "安全生产严重失信主体名单",
                    "列入事由": "一年内发生两起生产安全责任事故",
                    "认定依据": "《安全生产严重失信主体名单管理办法》第五条", "认定部门": "山西省应急管理厅"},
        ),
        _penalty(liuji, 6, market, f"晋城市监简罚〔{year}〕36号", recent - timedelta(days=10),
                 "未按规定公示营业执照", "《无证无照经营查处办法》", "警告", procedure=Procedure.SUMMARY),
    ]  # fmt: skip


def _base31(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, rest = divmod(value, 31)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits))


def _weighted(pairs: list[tuple[object, float]]) -> tuple[list, list[float]]:
    items = [item for item, _ in pairs]
    return items, list(itertools.accumulate(weight for _, weight in pairs))


#: Where records come from, roughly: market, tax, ecology, safety and transport dominate.
_DOMAIN_WEIGHTS = {6: 20, 13: 10, 5: 8, 9: 8, 12: 8, 2: 6, 10: 5, 16: 5, 4: 4, 7: 4, 20: 3, 38: 3}
_KIND_WEIGHTS = {
    RecordKind.PENALTY: 80,
    RecordKind.ENFORCEMENT: 10,
    RecordKind.LIST: 5,
    RecordKind.JUDGMENT: 5,
}


@dataclass(frozen=True)
class Generated:
    """One generated entity with its records."""

    entity: EntityValues
    false_commitment: bool
    records: list[RecordValues]


class DemoGenerator:
    """Entities with their records, drawn in order from one seeded stream."""

    def __init__(self, seed: int = DEFAULT_SEED, records_per_entity: float = 10.0, until: date | None = None):
        self.rng = random.Random(seed)
        self.until = until or china_today(datetime.now(UTC))
        self.records_per_entity = records_per_entity
        self._domains, self._domain_cum = _weighted(
            [(d, _DOMAIN_WEIGHTS.get(d.number, 0.6)) for d in DOMAINS]
        )
        self._kinds = {
            d.number: _weighted([(k, _KIND_WEIGHTS[k]) for k in RecordKind if d.holds(k)]) for d in DOMAINS
        }
        #: Every (domain, kind) pair the policy allows, used once before random draws take over.
        self._pending = [(d, k) for d in reversed(DOMAINS) for k in sorted(d.kinds, reverse=True)]
        self._counters: dict[tuple[str, str, int], int] = {}
        self._reserved = {(r.source_dept, r.doc_no) for r in _fixed_records(self.until)}
        self._depts: dict[tuple[int, str], tuple[str, str]] = {}
        # An entity with records has 1 + floor(Exp(rate)) of them, a geometric count with mean
        # 1 + 1/(e**rate - 1); the rate is chosen so that the mean over all entities is records_per_entity.
        extra = records_per_entity / (1 - _SHARE_WITHOUT_RECORDS) - 1
        self._rate = math.log1p(1 / extra) if extra > 0 else 0.0
        self._recent_span = (self.until - DATA_START).days
        self._early_span = (DATA_START - _EARLIEST).days

    def fixed(self) -> list[Generated]:
        records = _fixed_records(self.until)
        result = []
        for demo in DEMO_ENTITIES:
            entity = EntityValues(
                uscc=demo.uscc,
                name=demo.name,
                entity_type=demo.entity_type,
                legal_rep=demo.legal_rep,
                id_number=demo.id_number,
                phone=demo.phone,
                address=demo.address,
                registered_on=demo.registered_on,
                registration_authority=demo.registration_authority,
            )
            own = [r for r in records if r.uscc == demo.uscc]
            result.append(Generated(entity, demo.false_commitment, own))
        return result

    def generate(self, count: int) -> Iterator[Generated]:
        """The fixed entities, then `count` minus their number of random ones."""
        yield from itertools.islice(self.fixed(), count)
        for index in range(max(0, count - len(DEMO_ENTITIES))):
            yield self._random_entity(index)

    # -- entities -------------------------------------------------------------------------

    def _person(self) -> str:
        rng = self.rng
        return rng.choice(SURNAMES) + rng.choice(GIVEN)

    def _random_entity(self, index: int) -> Generated:
        rng = self.rng
        area = rng.choice(AREAS)
        legal_rep = self._person()
        roll = rng.random()
        place = self._place(area)
        if roll < 0.55:
            entity_type, prefix = EntityType.ENTERPRISE, "91"
            region = "山西" if rng.random() < 0.7 else area.city
            suffix = "股份有限公司" if rng.random() < 0.05 else "有限公司"
            name = f"{region}{rng.choice(TRADE_NAMES)}{rng.choice(INDUSTRIES)}{suffix}"
            authority = f"{place}市场监督管理局"
        elif roll < 0.9:
            entity_type, prefix = EntityType.INDIVIDUAL_BUSINESS, "92"
            owner = f"{legal_rep[0]}记" if rng.random() < 0.5 else legal_rep
            name = f"{place}{owner}{rng.choice(SHOP_KINDS)}"
            authority = f"{place}市场监督管理局"
        elif roll < 0.96:
            entity_type, prefix = EntityType.COOPERATIVE, "93"
            town, trade = rng.choice(area.towns), rng.choice(TRADE_NAMES)
            name = f"{area.county}{town}{trade}{rng.choice(COOP_KINDS)}专业合作社"
            authority = f"{place}市场监督管理局"
        elif roll < 0.98:
            entity_type, prefix = EntityType.PUBLIC_INSTITUTION, "12"
            name = f"{place}{rng.choice(INSTITUTIONS)}"
            authority = f"{area.city}事业单位登记管理局"
        else:
            entity_type, prefix = EntityType.SOCIAL_ORGANIZATION, "51"
            name = f"{place}{rng.choice(ASSOCIATIONS)}"
            authority = f"{place}民政局"
        uscc = make_uscc(f"{prefix}{area.code}MA{_base31(_CODE_OFFSET + index, 7)}")
        born = date(1955, 1, 1) + timedelta(days=rng.randrange(45 * 365))
        id_number = make_resident_id(f"{area.code}{born:%Y%m%d}{rng.randrange(1000):03d}")
        phone = rng.choice(
            ("138", "139", "135", "137", "150", "152", "158", "182", "187", "131", "155", "133")
        )
        phone += f"{rng.randrange(10**8):08d}"
        street = f"{rng.choice(area.towns)}{rng.choice(STREETS)}{rng.randrange(1, 300)}号"
        registered_on = date(1995, 1, 1) + timedelta(days=rng.randrange((self.until - date(1995, 1, 1)).days))
        entity = EntityValues(
            uscc=uscc,
            name=name,
            entity_type=entity_type.value,
            legal_rep=legal_rep,
            id_number=id_number,
            phone=phone,
            address=f"山西省{area.city}{area.county}{street}",
            registered_on=registered_on,
            registration_authority=authority,
        )
        records = self._records(entity, area, self._record_count())
        return Generated(entity, rng.random() < _SHARE_FALSE_COMMITMENT, records)

    def _record_count(self) -> int:
        rng = self.rng
        if self._pending:
            return rng.randrange(2, 6)
        if rng.random() < _SHARE_WITHOUT_RECORDS:
            return 0
        return 1 + int(rng.expovariate(self._rate)) if self._rate else 1

    @staticmethod
    def _place(area: Area) -> str:
        """How local bodies are named: districts with their city (晋城市城区), counties alone (阳城县)."""
        return area.city + area.county if area.county.endswith("区") else area.county

    # -- records --------------------------------------------------------------------------

    def _dept(self, domain: int, area: Area) -> tuple[str, str]:
        """(name, document-number prefix) of the body that records `domain` violations in `area`."""
        cached = self._depts.get((domain, area.code))
        if cached:
            return cached
        level, suffix = DEPARTMENTS[domain]
        abbr = DOC_ABBR.get(domain, domain_by_number(domain).name[:2])
        if level == "province":
            name, prefix = suffix, "晋" + abbr
        elif level == "city":
            name, prefix = area.city + suffix, CITY_ABBR[area.city] + abbr
        else:
            name, prefix = self._place(area) + suffix, area.abbr + abbr
        if domain == 13:
            name = "国家税务总局" + name
        self._depts[(domain, area.code)] = (name, prefix)
        return name, prefix

    def _number(self, dept: str, series: str, year: int, template: str) -> str:
        key = (dept, series, year)
        while True:
            self._counters[key] = number = self._counters.get(key, 0) + 1
            doc_no = template.format(year=year, n=number)
            if (dept, doc_no) not in self._reserved:
                return doc_no

    def _decision_date(self) -> date:
        rng = self.rng
        if rng.random() < _SHARE_BEFORE_DATA_START:
            return _EARLIEST + timedelta(days=rng.randrange(self._early_span))
        return DATA_START + timedelta(days=rng.randrange(self._recent_span))

    def _later(self, start: date, low: int, high: int) -> date | None:
        """A date `low`..`high` days after `start`, or None when that would be after `until`."""
        later = start + timedelta(days=self.rng.randrange(low, high))
        return later if later <= self.until else None

    def _records(self, entity: EntityValues, area: Area, count: int) -> list[RecordValues]:
        rng = self.rng
        records: list[RecordValues] = []
        keys: set[str] = set()
        for _ in range(count):
            if self._pending:
                domain, kind = self._pending.pop()
            else:
                domain = self._domains[bisect.bisect(self._domain_cum, rng.random() * self._domain_cum[-1])]
                kinds, cum = self._kinds[domain.number]
                kind = kinds[bisect.bisect(cum, rng.random() * cum[-1])]
            record = self._record(entity, area, domain, kind)
            if record.doc_no not in keys:  # a list entry drawn twice for one day and list
                keys.add(record.doc_no)
                records.append(record)
        return records

    def _record(self, entity: EntityValues, area: Area, domain: Domain, kind: RecordKind) -> RecordValues:
        rng = self.rng
        dept, prefix = self._dept(domain.number, area)
        decided = self._decision_date()
        law, violations = VIOLATIONS.get(domain.number, (f"{domain.name}领域相关法律法规", ()))
        violation = rng.choice(violations) if violations else f"违反{domain.name}管理规定"
        status = RecordStatus.VALID.value
        roll = rng.random()
        if roll < 0.03:
            status = RecordStatus.REVOKED.value
        elif roll < 0.035:
            status = RecordStatus.DELETED.value
        procedure = None
        repair_status, repair_date, end_date = RepairStatus.NOT_REPAIRED.value, None, None
        name_field = "主体名称"
        if kind is RecordKind.PENALTY:
            name_field = "行政相对人名称"
            procedure = Procedure.SUMMARY.value if rng.random() < 0.25 else Procedure.ORDINARY.value
            if status == RecordStatus.VALID.value and rng.random() < 0.03:
                status = RecordStatus.NOT_PENALIZED.value
            penalty_type = "警告" if procedure == Procedure.SUMMARY.value else rng.choice(PENALTY_TYPES)
            fine = rng.choice(FINES[:3] if procedure == Procedure.SUMMARY.value else FINES)
            content = "警告" if penalty_type == "警告" else f"罚款人民币{fine}万元"
            if status == RecordStatus.NOT_PENALIZED.value:
                penalty_type, content = "不予处罚", "依法不予行政处罚"
            doc_no = self._number(dept, "罚", decided.year, prefix + "罚〔{year}〕{n}号")
            fields = {
                "行政相对人类别": "个体工商户" if entity.uscc.startswith("92") else "法人及非法人组织",
                "法定代表人": entity.legal_rep,
                "违法行为类型": violation,
                "违法事实": f"经查，当事人{violation}。",
                "处罚依据": law,
                "处罚类别": penalty_type,
                "处罚内容": content,
                "处罚机关": dept,
                "公示截止期": (decided + timedelta(days=3 * 365)).isoformat(),
            }
            if penalty_type != "警告" and status != RecordStatus.NOT_PENALIZED.value:
                fields["罚款金额（万元）"] = fine
            if status == RecordStatus.VALID.value and rng.random() < 0.12:
                repair_date = self._later(decided, 30, 500)
                repair_status = RepairStatus.REPAIRED.value if repair_date else repair_status
        elif kind is RecordKind.ENFORCEMENT:
            name_field = "行政相对人名称"
            doc_no = self._number(dept, "强", decided.year, prefix + "强〔{year}〕{n}号")
            end_date = self._later(decided, 10, 120) if rng.random() < 0.6 else None
            fields = {
                "强制类别": rng.choice(ENFORCEMENT_TYPES),
                "强制内容": f"因{violation}依法采取行政强制措施",
                "强制依据": law,
                "实施机关": dept,
            }
        elif kind is RecordKind.LIST:
            list_name = rng.choice(domain.list_names)
            doc_no = list_doc_no(list_name, entity.uscc, decided)
            end_date = self._later(decided, 180, 720) if rng.random() < 0.4 else None
            fields = {
                "名单名称": list_name,
                "列入事由": violation,
                "认定依据": law,
                "认定部门": dept,
            }
        else:
            court = f"{self._place(area)}人民法院"
            doc_no = self._number(dept, "刑", decided.year, f"（{{year}}）晋{area.code[2:]}刑初{{n}}号")
            fields = {
                "案由": rng.choice(CRIMES),
                "判决结果": f"判处罚金人民币{rng.choice(FINES)}万元",
                "审判法院": court,
                "生效日期": min(decided + timedelta(days=15), self.until).isoformat(),
            }
        fields[name_field] = entity.name
        return RecordValues(
            kind=kind,
            uscc=entity.uscc,
            domain=domain.number,
            doc_no=doc_no,
            source_dept=dept,
            source_dept_uscc="",
            decision_date=decided,
            end_date=end_date,
            status=status,
            procedure=procedure,
            repair_status=repair_status,
            repair_date=repair_date,
            fields=fields,
        )


@dataclass
class DemoSummary:
    entities: int = 0
    records: int = 0


async def write_demo_data(
    engine: AsyncEngine,
    secret: bytes,
    generator: DemoGenerator,
    entities: int,
    on_batch: Callable[[DemoSummary], None] | None = None,
) -> DemoSummary:
    """Stream `entities` generated entities and their records into the store, one transaction per batch."""
    summary = DemoSummary()
    stream = generator.generate(entities)
    while batch := list(itertools.islice(stream, BATCH_ENTITIES)):
        now = datetime.now(UTC)
        entity_rows = [entity_row(g.entity, secret, now, g.false_commitment) for g in batch]
        record_rows = [record_row(record, now) for g in batch for record in g.records]
        async with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                await connection.exec_driver_sql("PRAGMA cache_size=-262144")
            await insert_rows(connection, ENTITIES, ENTITY_COLUMNS, entity_rows)
            await insert_rows(connection, RECORDS, RECORD_COLUMNS, record_rows)
        summary.entities += len(entity_rows)
        summary.records += len(record_rows)
        if on_batch is not None:
            on_batch(summary)
    return summary


async def has_entities(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        return (await connection.execute(select(ENTITIES.c.uscc).limit(1))).first() is not None


async def ensure_demo_data(
    engine: AsyncEngine, secret: bytes, entities: int, seed: int = DEFAULT_SEED
) -> DemoSummary:
    """Fill an empty store with demo data; a store that holds any entity is left alone.

    Service processes starting together on one PostgreSQL may race here; they generate the same
    rows, so the one that meets the other's rows stops and leaves them.
    """
    if await has_entities(engine):
        return DemoSummary()
    try:
        return await write_demo_data(engine, secret, DemoGenerator(seed), entities)
    except IntegrityError:
        return DemoSummary()
