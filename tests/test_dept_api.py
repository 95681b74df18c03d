"""The department API over HTTP: keys, domain scoping, per-record results, errors, OpenAPI."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.cli import main
from bot.config import Settings
from core.intake import HEADERS, IntakeKind
from storage.db import create_engine
from storage.departments import add_department, key_hash, list_departments
from storage.models import Department, Record, RecordVersion
from tests.intake_rows import ID_NUMBER, row

ROUTE = "/api/v1/dept/records"


@pytest.fixture
async def keys(engine: AsyncEngine) -> dict[str, str]:
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        return {
            "market": await add_department(connection, "晋城市市场监督管理局", [6, 14], now),
            "safety": await add_department(connection, "晋城市应急管理局", [9], now),
        }


@pytest.fixture
async def client(aiohttp_client, settings: Settings, keys: dict[str, str]):
    # Without demo data, so that the store holds exactly what the tests send.
    return await aiohttp_client(create_app(replace(settings, demo=False)))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_records_are_written_with_per_record_results(client, keys, engine: AsyncEngine) -> None:
    good = row(IntakeKind.PENALTIES)
    body = {
        "kind": "penalties",
        "records": [
            good,
            row(IntakeKind.PENALTIES, 领域="安全生产", 行政处罚决定书文号="x"),  # not this department's
            row(IntakeKind.PENALTIES, 处罚决定日期="2099-01-01", 行政处罚决定书文号="y"),
            dict(good),  # duplicate of index 0
            "not an object",
            {
                **row(IntakeKind.PENALTIES, 领域="知识产权", 行政处罚决定书文号="z"),
                "罚款金额（万元）": 1.5,
                "附件": "1",
            },
        ],
    }
    response = await client.post(ROUTE, json=body, headers=bearer(keys["market"]))
    assert response.status == 200
    payload = await response.json()
    results = payload["results"]
    assert [r["status"] for r in results] == [
        "imported",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "imported",
    ]
    assert [r["index"] for r in results] == list(range(6))
    assert results[1]["reason"] == "本单位无权写入“应急管理（安全生产）”领域（可写入：市场监管、知识产权）"
    assert "晚于今天" in results[2]["reason"]
    assert "与index 0 的记录重复" in results[3]["reason"]
    assert results[5]["warnings"] == ["已忽略无法识别的字段：附件"]
    assert payload["summary"] == {"imported": 2, "updated": 0, "unchanged": 0, "rejected": 4}
    async with engine.connect() as connection:
        rows = (await connection.execute(select(Record.__table__))).mappings().all()
    assert sorted(r["doc_no"] for r in rows) == ["z", "晋市监罚〔2024〕12号"]
    assert next(r for r in rows if r["doc_no"] == "z")["fields"]["罚款金额（万元）"] == "1.5"


async def test_resending_updates_or_leaves_unchanged(client, keys, engine: AsyncEngine) -> None:
    # Written as the key's own unit: a body naming another 数据来源单位 is refused (issue 7).
    record = row(IntakeKind.LISTS, 数据来源单位="晋城市应急管理局")
    headers = {"X-Api-Key": keys["safety"]}
    first = await client.post(ROUTE, json={"kind": "lists", "records": [record]}, headers=headers)
    assert (await first.json())["results"][0]["status"] == "imported"
    same = await client.post(ROUTE, json={"kind": "严重失信主体名单", "records": [record]}, headers=headers)
    assert (await same.json())["summary"]["unchanged"] == 1
    removed = {**record, "移出日期": "2024-06-01"}
    again = await client.post(ROUTE, json={"kind": "lists", "records": [removed]}, headers=headers)
    assert (await again.json())["results"][0]["status"] == "updated"
    async with engine.connect() as connection:
        [version] = (await connection.execute(select(RecordVersion.__table__))).mappings().all()
    assert version["snapshot"]["end_date"] is None and version["replaced_by"] == "dept:晋城市应急管理局"


async def test_entities_only_from_the_market_regulator(client, keys) -> None:
    body = {"kind": "entities", "records": [row(IntakeKind.ENTITIES)]}
    refused = await (await client.post(ROUTE, json=body, headers=bearer(keys["safety"]))).json()
    assert refused["results"][0] == {
        "index": 0,
        "status": "rejected",
        "reason": "主体登记信息只能由负责市场监管领域的单位报送",
    }
    accepted = await client.post(ROUTE, json=body, headers=bearer(keys["market"]))
    text = await accepted.text()
    assert '"imported"' in text and ID_NUMBER not in text


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"X-Api-Key": "cbk_nope"}])
async def test_requests_without_a_valid_key_get_401(client, headers: dict[str, str]) -> None:
    response = await client.post(ROUTE, json={"kind": "penalties", "records": [{}]}, headers=headers)
    assert response.status == 401
    assert set((await response.json())["error"]) == {"code", "message"}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("{not json", "malformed_json"),
        ("[]", "malformed_body"),
        ('{"kind": "fines", "records": [{}]}', "unknown_kind"),
        ('{"kind": "penalties", "records": []}', "malformed_body"),
    ],
)
async def test_malformed_requests_get_400(client, keys, data: str, code: str) -> None:
    response = await client.post(
        ROUTE, data=data, headers={**bearer(keys["market"]), "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == code


async def test_batches_over_10000_get_413(client, keys) -> None:
    body = {"kind": "penalties", "records": [{}] * 10_001}
    response = await client.post(ROUTE, json=body, headers=bearer(keys["market"]))
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "too_many_records"


async def test_openapi_describes_the_route_and_every_kind(client) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    operation = document["paths"][ROUTE]["post"]
    assert set(operation["responses"]) == {"200", "400", "401", "413"}
    schemas = document["components"]["schemas"]
    for kind in IntakeKind:
        # Record kinds also describe the explicit domain correction flag (issue 7).
        extra = [] if kind is IntakeKind.ENTITIES else ["更正领域"]
        assert list(schemas[kind.value]["properties"]) == [*HEADERS[kind], *extra]
    penalty = schemas["penalties"]
    assert penalty["properties"]["更正领域"]["type"] == "boolean"
    assert penalty["properties"]["行政处罚决定书文号"] == {"type": ["string", "null"], "maxLength": 200}
    assert penalty["properties"]["违法事实"] == {"type": ["string", "null"], "maxLength": 5000}
    assert penalty["properties"]["罚款金额（万元）"]["type"] == ["string", "number", "null"]
    assert "数据来源单位" not in penalty["required"]
    assert schemas["Batch"]["properties"]["records"]["maxItems"] == 10_000


def test_dept_add_prints_the_key_once_and_stores_its_hash(db_url: str, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CREDITBOT_DATA_DIR", str(tmp_path / "data"))
    assert main(["dept", "add", "阳城县市场监督管理局", "--domains", "工商、知识产权"]) == 0
    out = capsys.readouterr().out.splitlines()
    key = out[-1]
    assert key.startswith("cbk_") and "可写入的领域：市场监管、知识产权" in out
    assert main(["dept", "add", "阳城县市场监督管理局", "--domains", "市场监管"]) == 1
    assert main(["dept", "add", "某局", "--domains", "天文"]) == 2
    capsys.readouterr()
    assert main(["dept", "list"]) == 0
    assert "阳城县市场监督管理局\t启用" in capsys.readouterr().out

    async def stored():
        engine = create_engine(db_url)
        async with engine.connect() as connection:
            hashes = (await connection.execute(select(Department.__table__.c.key_hash))).scalars().all()
            departments = await list_departments(connection)
        await engine.dispose()
        return hashes, departments

    hashes, departments = asyncio.run(stored())
    assert hashes == [key_hash(key)] and key not in hashes
    assert departments[0].domains == {6, 14}
