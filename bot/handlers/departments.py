"""`POST /api/v1/dept/records`: departments send records as JSON, with their own API key.

The records are checked by the same rules as the CSV import (`core.intake`), plus the rules
only the API can apply (`core.intake.UnitScope`): a key writes as its own data-source unit
(a body naming another unit is refused, an empty one filled in), only in the domains it was
opened for, and changes only stored rows whose stored domain it holds; moving a record to
another domain takes an explicit `"更正领域": true`. The stored-row rules are applied inside
the write transaction (`storage.intake`). Every record gets its own result, so one bad record
never costs the others. Entities (the register) come from the market regulator, so only a
department holding 市场监管 may send them. Every write is audited with the key's department.

The API is the sub-application `/api/v1`; its records route sits in the nested `/dept`
sub-application, whose middleware (`_department`) authenticates every request with the key,
so the OpenAPI document stays public.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from bot.appkeys import ENGINE, HASH_SECRET
from bot.handlers import request_guard
from bot.handlers.auth import request_token, resolved
from bot.handlers.dept_openapi import openapi_document
from bot.handlers.json_body import JsonBodyError, read_json
from bot.handlers.json_replies import json_error, json_reply
from core.intake import (
    CORRECT_DOMAIN,
    HEADERS,
    DuplicateGuard,
    IntakeKind,
    RecordValues,
    UnitScope,
    check_row,
    duplicate_reason,
    resolve_kind,
)
from core.personal_data import redact
from core.records import china_today
from storage.departments import DepartmentInfo, department_for_key
from storage.intake import Writer, write_retrying

PREFIX = "/api/v1"
MAX_RECORDS = 10_000
#: 10,000 records of some 25 fields each, in Chinese, come to roughly 10-15 MB of JSON.
BATCH_LIMIT = 32 * 1024 * 1024
#: The department whose key authenticated the request (set by `_department`).
DEPARTMENT = web.RequestKey("department", DepartmentInfo)


def _api_key(request: web.Request) -> str:
    """`Authorization: Bearer <key>`, or else the `X-Api-Key` header."""
    return request_token(request) or request.headers.get("X-Api-Key", "").strip()


@web.middleware
async def _department(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every department route needs a valid, active key; the handler gets its department."""
    if not resolved(request):
        return await handler(request)
    key = _api_key(request)
    if not key:
        return json_error(
            "unauthorized", status=401, message="缺少 API 密钥：请在请求头中提供 Authorization: Bearer <密钥>"
        )
    async with request.config_dict[ENGINE].connect() as connection:
        department = await department_for_key(connection, key)
    if department is None:
        return json_error("invalid_key", status=401, message="API 密钥无效或已停用")
    request[DEPARTMENT] = department
    return await handler(request)


def _check_one(
    kind: IntakeKind, record: dict[str, Any], scope: UnitScope, today: date, result: dict[str, Any]
) -> tuple[Any, str | None]:
    """The values of one record and why it is refused, if it is; warnings go into `result`."""
    problems: list[str] = []
    correcting = False
    row = record
    known: tuple[str, ...] = HEADERS[kind]
    if kind is not IntakeKind.ENTITIES:
        known = (*known, CORRECT_DOMAIN)
        correcting = record.get(CORRECT_DOMAIN, False)
        if not isinstance(correcting, bool):
            problems.append(f"{CORRECT_DOMAIN}应为 true 或 false")
        row, claim_error = scope.claim(record)
        if claim_error:
            problems.insert(0, claim_error)
    checked = check_row(kind, row, today)
    warnings = [redact(w) for w in checked.warnings]
    unknown = [name for name in record if name not in known]
    if unknown:
        warnings.append("已忽略无法识别的字段：" + "、".join(unknown))
    if warnings:
        result["warnings"] = warnings
    problems.extend(checked.errors)
    if problems:
        return None, "；".join(problems)
    values = checked.values
    if isinstance(values, RecordValues):
        values.correct_domain = correcting
    return values, scope.scope_error(values)


def _check_records(
    kind: IntakeKind, records: list[Any], department: DepartmentInfo, today: date
) -> tuple[list[dict[str, Any]], list[tuple[int, Any]]]:
    """One result per record, and the (index, values) of the records that may be written."""
    guard = DuplicateGuard()
    scope = department.scope
    results: list[dict[str, Any]] = []
    accepted: list[tuple[int, Any]] = []
    for index, record in enumerate(records):
        result: dict[str, Any] = {"index": index}
        results.append(result)
        if not isinstance(record, dict):
            result.update(status="rejected", reason="记录应为 JSON 对象（表头 → 值）")
            continue
        values, reason = _check_one(kind, record, scope, today, result)
        if reason is None:
            earlier = guard.earlier(values.key, f"index {index} 的记录")
            reason = duplicate_reason(kind, earlier) if earlier is not None else None
        if reason is not None:
            result.update(status="rejected", reason=redact(reason))
            continue
        accepted.append((index, values))
    return results, accepted


def _writer(department: DepartmentInfo) -> Writer:
    return Writer(
        channel="api",
        actor=department.name,
        replaced_by=f"dept:{department.name}",
        department_id=department.id,
        scope=department.scope,
    )


async def post_records(request: web.Request) -> web.Response:
    department = request[DEPARTMENT]
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
        batch = [values for _, values in accepted]
        engine, secret = request.config_dict[ENGINE], request.config_dict[HASH_SECRET]
        written = await write_retrying(engine, kind, batch, secret, _writer(department))
        for position, ((index, _), outcome) in enumerate(zip(accepted, written.outcomes, strict=True)):
            results[index]["status"] = outcome.value
            if position in written.refused:
                results[index]["reason"] = redact(written.refused[position])
    summary = {status: 0 for status in ("imported", "updated", "unchanged", "rejected")}
    for result in results:
        summary[result["status"]] += 1
    return json_reply({"results": results, "summary": summary})


async def get_openapi(_request: web.Request) -> web.Response:
    return json_reply(openapi_document())


def setup(app: web.Application) -> None:
    api = web.Application()
    api.router.add_get("/openapi.json", get_openapi)
    dept = web.Application(middlewares=[_department])
    request_guard.limit_body(dept, dept.router.add_post("/records", post_records), BATCH_LIMIT)
    api.add_subapp("/dept", dept)
    app.add_subapp(PREFIX, api)
