"""`POST /api/v1/dept/records`: departments send records as JSON, with their own API key.

The records are checked by the same rules as the CSV import (`core.intake`), plus the one rule
only the API can apply: a department writes only in the domains it was opened for. Every
record gets its own result, so one bad record never costs the others. Entities (the register)
come from the market regulator, so only a department holding 市场监管 may send them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bot.appkeys import ENGINE, HASH_SECRET
from bot.handlers.dept_openapi import openapi_document
from bot.handlers.json_body import JsonBodyError, read_json
from bot.handlers.json_replies import json_error, json_reply
from core.domains import domain_by_name, domain_by_number
from core.intake import (
    HEADERS,
    DuplicateGuard,
    EntityValues,
    IntakeKind,
    RecordValues,
    check_row,
    duplicate_reason,
    resolve_kind,
)
from core.personal_data import redact
from core.records import china_today
from storage.departments import DepartmentInfo, department_for_key
from storage.intake import Outcome, write_entities, write_records

ROUTE = "/api/v1/dept/records"
OPENAPI_ROUTE = "/api/v1/openapi.json"
MAX_RECORDS = 10_000
#: Registration data belongs to the market regulator's domain.
ENTITY_DOMAIN = domain_by_name("市场监管").number
#: A concurrent request may insert one of our keys between our lookup and our insert.
_WRITE_ATTEMPTS = 3


def _api_key(request: web.Request) -> str:
    authorization = request.headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-Api-Key", "").strip()


def _scope_error(department: DepartmentInfo, values: RecordValues | EntityValues) -> str | None:
    allowed = "、".join(domain_by_number(n).name for n in sorted(department.domains))
    if isinstance(values, EntityValues):
        if ENTITY_DOMAIN in department.domains:
            return None
        return "主体登记信息只能由负责市场监管领域的单位报送"
    if values.domain in department.domains:
        return None
    return f"本单位无权写入“{domain_by_number(values.domain).name}”领域（可写入：{allowed}）"


def _check_records(
    kind: IntakeKind, records: list[Any], department: DepartmentInfo, today: date
) -> tuple[list[dict[str, Any]], list[tuple[int, Any]]]:
    """One result per record, and the (index, values) of the records that may be written."""
    guard = DuplicateGuard()
    known = set(HEADERS[kind])
    results: list[dict[str, Any]] = []
    accepted: list[tuple[int, Any]] = []
    for index, record in enumerate(records):
        result: dict[str, Any] = {"index": index}
        results.append(result)
        if not isinstance(record, dict):
            result.update(status="rejected", reason="记录应为 JSON 对象（表头 → 值）")
            continue
        checked = check_row(kind, record, today)
        warnings = [redact(w) for w in checked.warnings]
        unknown = [name for name in record if name not in known]
        if unknown:
            warnings.append("已忽略无法识别的字段：" + "、".join(unknown))
        if warnings:
            result["warnings"] = warnings
        reason = (
            "；".join(checked.errors) if checked.values is None else _scope_error(department, checked.values)
        )
        if reason is None:
            earlier = guard.earlier(checked.values.key, f"index {index} 的记录")
            reason = duplicate_reason(kind, earlier) if earlier is not None else None
        if reason is not None:
            result.update(status="rejected", reason=redact(reason))
            continue
        accepted.append((index, checked.values))
    return results, accepted


async def _write(
    request: web.Request, kind: IntakeKind, values: list[Any], department: DepartmentInfo
) -> list[Outcome]:
    engine = request.app[ENGINE]
    for attempt in range(_WRITE_ATTEMPTS):
        now = datetime.now(UTC)
        try:
            async with engine.begin() as connection:
                if kind is IntakeKind.ENTITIES:
                    return await write_entities(connection, values, request.app[HASH_SECRET], now)
                return await write_records(connection, values, now, f"dept:{department.name}")
        except IntegrityError:
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def post_records(request: web.Request) -> web.Response:
    key = _api_key(request)
    if not key:
        return json_error(
            "unauthorized", status=401, message="缺少 API 密钥：请在请求头中提供 Authorization: Bearer <密钥>"
        )
    async with request.app[ENGINE].connect() as connection:
        department = await department_for_key(connection, key)
    if department is None:
        return json_error("invalid_key", status=401, message="API 密钥无效或已停用")
    try:
        body = await read_json(request, malformed=("malformed_json", "请求体不是合法的 JSON"))
    except JsonBodyError as error:
        return error.response()
    if not isinstance(body, dict):
        return json_error(
            "malformed_body", status=400, message='请求体应为 JSON 对象：{"kind": ..., "records": [...]}'
        )
    kind = resolve_kind(body["kind"]) if isinstance(body.get("kind"), str) else None
    if kind is None:
        names = "、".join(k.value for k in IntakeKind)
        return json_error(
            "unknown_kind", status=400, message=f"kind 应为 {names} 之一（也接受对应的中文名称）"
        )
    records = body.get("records")
    if not isinstance(records, list) or not records:
        return json_error("malformed_body", status=400, message="records 应为非空数组")
    if len(records) > MAX_RECORDS:
        return json_error(
            "too_many_records",
            status=413,
            message=f"每批最多 {MAX_RECORDS} 条记录，本批 {len(records)} 条，请分批报送",
        )

    # Checking 10,000 records takes a few hundred milliseconds: off the loop, chat turns keep flowing.
    results, accepted = await asyncio.to_thread(
        _check_records, kind, records, department, china_today(datetime.now(UTC))
    )
    if accepted:
        outcomes = await _write(request, kind, [values for _, values in accepted], department)
        for (index, _), outcome in zip(accepted, outcomes, strict=True):
            results[index]["status"] = outcome.value
    summary = {status: 0 for status in ("imported", "updated", "unchanged", "rejected")}
    for result in results:
        summary[result["status"]] += 1
    return json_reply({"results": results, "summary": summary})


async def get_openapi(_request: web.Request) -> web.Response:
    return json_reply(openapi_document())


def setup(app: web.Application) -> None:
    app.router.add_post(ROUTE, post_records)
    app.router.add_get(OPENAPI_ROUTE, get_openapi)
