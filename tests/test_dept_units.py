"""Department writes are bound to the key's unit and to the stored row's domain, and audited (issue 7)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime

import orjson
import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.cli import main
from bot.config import Settings
from core.intake import IntakeKind, RecordValues, UnitScope, check_row
from storage.db import alembic_config, create_engine, session_factory, upgrade
from storage.departments import DepartmentInfo, add_department, department_for_key, key_hash, list_departments
from storage.intake import Outcome, Writer, write_records
from storage.models import IntakeAudit, Record, RecordVersion
from storage.queries import records_for_report
from tests.intake_rows import USCC_A, USCC_AGENCY, row

ROUTE = "/api/v1/dept/records"
MARKET = "晋城市市场监督管理局"
ECOLOGY = "晋城市生态环境局"
COUNTY_ECOLOGY = "阳城县生态环境局"
#: The market regulator's own code (valid; with letters, so the reasons are not masked as ID numbers).
MARKET_USCC = "11140500MB0199887N"
OTHER_USCC = "11140500MB02543211"
ECOLOGY_DOC = "晋环罚〔2024〕7号"
OPERATOR = Writer(channel="csv", actor="operator:tester", replaced_by="import:seed.csv")


@pytest.fixture
async def keys(engine: AsyncEngine) -> dict[str, str]:
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        return {
            "market": await add_department(connection, MARKET, [6, 14], now, MARKET_USCC),
            "ecology": await add_department(connection, ECOLOGY, [5], now),
            "county": await add_department(connection, COUNTY_ECOLOGY, [5], now),
        }


@pytest.fixture
async def client(aiohttp_client, settings: Settings, keys: dict[str, str]):
    return await aiohttp_client(create_app(replace(settings, demo=False)))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def market_penalty(**changes: object) -> dict[str, object]:
    """A penalty of the market regulator that leaves the unit code for the key to fill in."""
    return {**row(IntakeKind.PENALTIES, 数据来源单位统一社会信用代码=""), **changes}


def ecology_penalty(**changes: object) -> dict[str, object]:
    base = row(IntakeKind.PENALTIES, 数据来源单位=ECOLOGY, 领域="生态环境", 行政处罚决定书文号=ECOLOGY_DOC)
    return {**base, **changes}


async def post(client, key: str, *records: object) -> list[dict[str, object]]:
    response = await client.post(
        ROUTE, json={"kind": "penalties", "records": list(records)}, headers=bearer(key)
    )
    assert response.status == 200
    return (await response.json())["results"]


async def stored_records(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as connection:
        statement = select(Record.__table__).order_by(Record.__table__.c.id)
        return [dict(r) for r in (await connection.execute(statement)).mappings()]


async def audit_rows(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as connection:
        statement = select(IntakeAudit.__table__).order_by(IntakeAudit.__table__.c.id)
        return [dict(r) for r in (await connection.execute(statement)).mappings()]


async def department(engine: AsyncEngine, name: str) -> DepartmentInfo:
    async with engine.connect() as connection:
        return next(d for d in await list_departments(connection) if d.name == name)


async def seed_as_operator(engine: AsyncEngine, **changes: str) -> None:
    """A record the platform operator imported (the operator may write any unit)."""
    values = check_row(IntakeKind.PENALTIES, row(IntakeKind.PENALTIES, **changes), date(2026, 12, 1)).values
    assert isinstance(values, RecordValues)
    async with engine.begin() as connection:
        await write_records(connection, [values], datetime.now(UTC), OPERATOR)


def penalty_content(domain: int, source_dept_uscc: str) -> dict[str, object]:
    """What the audit trail keeps of the base penalty row (tests.intake_rows) in `domain`."""
    return {
        "uscc": USCC_A,
        "domain": domain,
        "source_dept_uscc": source_dept_uscc,
        "decision_date": "2024-05-10",
        "end_date": None,
        "status": "有效",
        "procedure": "普通程序",
        "repair_status": "未修复",
        "repair_date": None,
        "fields": {
            "行政相对人名称": "山西晋城测试煤业有限公司",
            "行政相对人类别": "法人及非法人组织",
            "法定代表人": "王建国",
            "违法行为类型": "未按规定公示年度报告",
            "违法事实": "该公司未按规定期限公示2023年度报告",
            "处罚依据": "《企业信息公示暂行条例》第十八条",
            "处罚类别": "罚款",
            "处罚内容": "罚款人民币5000元",
            "罚款金额（万元）": "0.5",
            "处罚有效期": "2027-05-10",
            "公示截止期": "2027-05-10",
            "处罚机关": "晋城市市场监督管理局",
            "处罚机关统一社会信用代码": USCC_AGENCY,
        },
    }


async def test_a_cross_domain_resend_in_another_units_name_is_refused(client, keys, engine, settings) -> None:
    """The issue's case: a 市场监管 key re-sends a 生态环境 record with 领域 市场监管."""
    assert [r["status"] for r in await post(client, keys["ecology"], ecology_penalty())] == ["imported"]
    [result] = await post(client, keys["market"], ecology_penalty(领域="市场监管"))
    assert result == {
        "index": 0,
        "status": "rejected",
        "reason": f"数据来源单位“{ECOLOGY}”与本密钥所属单位“{MARKET}”不符：只能以本单位名义报送",
    }
    [record] = await stored_records(engine)
    assert (record["domain"], record["source_dept"], record["version"]) == (5, ECOLOGY, 1)
    async with session_factory(engine)() as session:
        found = await records_for_report(session, USCC_A, [5], date(2024, 1, 1), date(2024, 12, 31))
    assert [(view.doc_no, view.domain) for view in found] == [(ECOLOGY_DOC, 5)]


async def test_a_stored_row_outside_the_keys_domains_is_refused_even_with_the_flag(
    client, keys, engine
) -> None:
    # The operator filed a 生态环境 record under the market regulator's name.
    await seed_as_operator(engine, 领域="生态环境", 数据来源单位统一社会信用代码="")
    for record in (market_penalty(), market_penalty(更正领域=True)):
        [result] = await post(client, keys["market"], record)
        assert result == {
            "index": 0,
            "status": "rejected",
            "reason": "该记录属于“生态环境”领域，本单位无权更改（可写入：市场监管、知识产权）",
        }
    [stored] = await stored_records(engine)
    assert (stored["domain"], stored["version"], stored["source_dept_uscc"]) == (5, 1, "")
    assert [a["action"] for a in await audit_rows(engine)] == []


async def test_a_body_naming_another_unit_or_unit_code_is_refused_and_an_empty_one_filled(
    client, keys, engine
) -> None:
    results = await post(
        client,
        keys["market"],
        market_penalty(数据来源单位=ECOLOGY),
        market_penalty(数据来源单位统一社会信用代码=OTHER_USCC, 行政处罚决定书文号="b"),
        market_penalty(数据来源单位="", 行政处罚决定书文号="c"),
        market_penalty(
            数据来源单位=f" {MARKET} ",
            数据来源单位统一社会信用代码=MARKET_USCC.lower(),
            行政处罚决定书文号="d",
        ),
    )
    assert (
        results[0]["reason"] == f"数据来源单位“{ECOLOGY}”与本密钥所属单位“{MARKET}”不符：只能以本单位名义报送"
    )
    assert results[1]["reason"] == (
        f"数据来源单位统一社会信用代码“{OTHER_USCC}”与本单位的“{MARKET_USCC}”不符：只能以本单位名义报送"
    )
    assert [r["status"] for r in results] == ["rejected", "rejected", "imported", "imported"]
    stored = await stored_records(engine)
    assert [(r["doc_no"], r["source_dept"], r["source_dept_uscc"]) for r in stored] == [
        ("c", MARKET, MARKET_USCC),
        ("d", MARKET, MARKET_USCC),
    ]


async def test_another_unit_cannot_update_a_record_it_did_not_write(client, keys, engine) -> None:
    await post(client, keys["ecology"], ecology_penalty())
    changed = ecology_penalty(违法事实="被其他单位改写")
    [refused] = await post(client, keys["county"], changed)
    assert (
        refused["reason"]
        == f"数据来源单位“{ECOLOGY}”与本密钥所属单位“{COUNTY_ECOLOGY}”不符：只能以本单位名义报送"
    )
    # In its own name the county writes its own record; the city's stays as it was.
    [own] = await post(client, keys["county"], {**changed, "数据来源单位": COUNTY_ECOLOGY})
    assert own["status"] == "imported"
    city, county = await stored_records(engine)
    assert (city["source_dept"], city["version"], city["fields"]["违法事实"]) == (
        ECOLOGY,
        1,
        "该公司未按规定期限公示2023年度报告",
    )
    assert (county["source_dept"], county["fields"]["违法事实"]) == (COUNTY_ECOLOGY, "被其他单位改写")


async def test_a_row_filed_under_another_unit_code_is_not_the_keys(client, keys, engine) -> None:
    await seed_as_operator(engine, 数据来源单位统一社会信用代码=OTHER_USCC)
    [result] = await post(client, keys["market"], market_penalty(违法事实="改写"))
    assert result["reason"] == f"该记录由统一社会信用代码为“{OTHER_USCC}”的单位报送，本单位无权更改"
    [stored] = await stored_records(engine)
    assert (stored["version"], stored["source_dept_uscc"]) == (1, OTHER_USCC)


async def test_a_domain_change_needs_the_flag_and_is_audited_before_and_after(client, keys, engine) -> None:
    market = await department(engine, MARKET)
    assert [r["status"] for r in await post(client, keys["market"], market_penalty())] == ["imported"]
    [unflagged] = await post(client, keys["market"], market_penalty(领域="知识产权"))
    assert unflagged["reason"] == (
        "该记录已登记在“市场监管”领域，本批写的是“知识产权”领域；"
        '如确需更正领域，请在该记录中加上 "更正领域": true'
    )
    [not_boolean] = await post(client, keys["market"], market_penalty(领域="知识产权", 更正领域="是"))
    assert not_boolean["reason"] == "更正领域应为 true 或 false"
    [corrected] = await post(client, keys["market"], market_penalty(领域="知识产权", 更正领域=True))
    assert corrected == {"index": 0, "status": "updated"}

    [record] = await stored_records(engine)
    assert (record["domain"], record["version"]) == (14, 2)
    async with engine.connect() as connection:
        [version] = (await connection.execute(select(RecordVersion.__table__))).mappings().all()
    assert (version["snapshot"]["domain"], version["replaced_by"]) == (6, f"dept:{MARKET}")

    inserted, correction = await audit_rows(engine)
    common = {
        "channel": "api",
        "department_id": market.id,
        "actor": MARKET,
        "unit": MARKET,
        "record_kind": "penalty",
        "record_key": "晋市监罚〔2024〕12号",
    }
    assert inserted == {
        **common,
        "id": inserted["id"],
        "at": record["created_at"],
        "action": "insert",
        "before": None,
        "after": penalty_content(6, MARKET_USCC),
    }
    assert correction == {
        **common,
        "id": correction["id"],
        "at": record["updated_at"],
        "action": "correct_domain",
        "before": penalty_content(6, MARKET_USCC),
        "after": penalty_content(14, MARKET_USCC),
    }


async def test_the_audit_table_refuses_update_and_delete(client, keys, engine) -> None:
    await post(client, keys["market"], market_penalty())
    for statement in ("UPDATE intake_audit SET actor = 'someone else'", "DELETE FROM intake_audit"):
        with pytest.raises(DBAPIError, match="intake_audit is append-only"):
            async with engine.begin() as connection:
                await connection.execute(text(statement))
    [entry] = await audit_rows(engine)
    assert (entry["actor"], entry["action"]) == (MARKET, "insert")


async def test_a_batch_waits_for_another_holding_the_stored_row(client, keys, engine) -> None:
    """The stored-row check cannot be raced: a second batch waits until the first one ends."""
    await post(client, keys["market"], market_penalty())
    market = await department(engine, MARKET)
    writer = Writer("api", MARKET, f"dept:{MARKET}", market.id, market.scope)

    def values(**changes: object) -> RecordValues:
        checked = check_row(
            IntakeKind.PENALTIES,
            market_penalty(数据来源单位统一社会信用代码=MARKET_USCC, **changes),
            date(2026, 12, 1),
        )
        assert isinstance(checked.values, RecordValues)
        return checked.values

    async def correct() -> list[Outcome]:
        moved = values(领域="知识产权")
        moved.correct_domain = True
        async with engine.begin() as connection:
            return (await write_records(connection, [moved], datetime.now(UTC), writer)).outcomes

    async with engine.begin() as first:
        resend = await write_records(first, [values()], datetime.now(UTC), writer)
        assert resend.outcomes == [Outcome.UNCHANGED]
        second = asyncio.create_task(correct())
        await asyncio.sleep(1.0)
        assert not second.done()
    assert await asyncio.wait_for(second, 10) == [Outcome.UPDATED]
    [record] = await stored_records(engine)
    assert (record["domain"], record["version"]) == (14, 2)


async def test_values_of_the_wrong_type_or_size_are_refused_over_http(client, keys, engine) -> None:
    records = [
        market_penalty(行政处罚决定书文号=12),
        market_penalty(行政处罚决定书文号=["a"]),
        market_penalty(行政处罚决定书文号={"a": 1}),
        market_penalty(行政处罚决定书文号=False),
        market_penalty(违法事实="违" * 1_000_000, 行政处罚决定书文号="e"),
        market_penalty(**{"罚款金额（万元）": "1e30"}, 行政处罚决定书文号="f"),
    ]
    body = orjson.dumps({"kind": "penalties", "records": records}).decode()
    response = await client.post(
        ROUTE, data=body.encode(), headers={**bearer(keys["market"]), "Content-Type": "application/json"}
    )
    results = (await response.json())["results"]
    amount = "应为不小于0的数字（单位：万元），整数部分最多12位，小数部分最多6位"
    assert [r["reason"] for r in results] == [
        "行政处罚决定书文号应为文本，不能是数字",
        "行政处罚决定书文号应为文本，不能是数组",
        "行政处罚决定书文号应为文本，不能是对象",
        "行政处罚决定书文号应为文本，不能是布尔值",
        "违法事实过长：最多5000个字符，实为1000000个字符",
        f"罚款金额（万元）“1e30”{amount}",
    ]
    assert {r["status"] for r in results} == {"rejected"}
    assert await stored_records(engine) == []


@pytest.mark.parametrize("number", ["1e30", "1e400", "12345678901234567890"])
async def test_a_number_no_amount_can_hold_refuses_the_batch(client, keys, engine, number: str) -> None:
    """JSON numbers of 10^18 and more are refused by the one JSON reader, before any record is read."""
    # Written by hand: no Python value serialises to 1e400 or keeps all twenty digits as written.
    body = '{"kind": "penalties", "records": [{"罚款金额（万元）": ' + number + "}]}"
    response = await client.post(
        ROUTE, data=body.encode(), headers={**bearer(keys["market"]), "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "number_too_large"
    assert await stored_records(engine) == []


def test_dept_add_takes_the_units_uscc(db_url: str, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CREDITBOT_DATA_DIR", str(tmp_path / "data"))
    assert main(["dept", "add", "某局", "--uscc", "11140500MB0199887X", "--domains", "市场监管"]) == 2
    assert "单位统一社会信用代码无效：" in capsys.readouterr().err
    assert main(["dept", "add", MARKET, "--uscc", "11140500mb0199887n", "--domains", "市场监管"]) == 0
    assert f"单位统一社会信用代码：{MARKET_USCC}" in capsys.readouterr().out.splitlines()
    assert main(["dept", "add", ECOLOGY, "--domains", "生态环境"]) == 0
    capsys.readouterr()
    assert main(["dept", "list"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(cells[1], cells[4:]) for cells in lines] == [
        (MARKET, ["市场监管", MARKET_USCC]),
        (ECOLOGY, ["生态环境"]),
    ]


async def test_entities_written_by_a_key_are_audited_without_personal_data(client, keys, engine) -> None:
    body = {"kind": "entities", "records": [row(IntakeKind.ENTITIES)]}
    response = await client.post(ROUTE, json=body, headers=bearer(keys["market"]))
    assert (await response.json())["summary"]["imported"] == 1
    market = await department(engine, MARKET)
    [entry] = await audit_rows(engine)
    assert {k: v for k, v in entry.items() if k not in ("id", "at")} == {
        "channel": "api",
        "department_id": market.id,
        "actor": MARKET,
        "unit": "",
        "action": "insert",
        "record_kind": "entity",
        "record_key": USCC_A,
        "before": None,
        "after": {
            "name": "山西晋城测试煤业有限公司",
            "entity_type": "企业",
            "address": "山西省晋城市城区凤台东街100号",
            "registered_on": "2010-03-15",
            "registration_authority": "晋城市市场监督管理局",
        },
    }


async def test_a_key_opened_before_units_keeps_working_as_its_named_unit(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda c: command.upgrade(alembic_config(c), "d60c01a98ea2"))
            await connection.execute(
                text(
                    "INSERT INTO department (name, domains, key_hash, created_at, active) "
                    "VALUES (:name, '5', :hash, :now, :active)"
                ),
                {"name": ECOLOGY, "hash": key_hash("cbk_old"), "now": datetime.now(UTC), "active": True},
            )
        await upgrade(engine)
        async with engine.connect() as connection:
            found = await department_for_key(connection, "cbk_old")
    finally:
        await engine.dispose()
    assert found is not None
    assert found.scope == UnitScope(unit=ECOLOGY, unit_uscc="", domains=frozenset({5}))
