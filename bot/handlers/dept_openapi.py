"""The OpenAPI 3 description of the department API, built from the same header tables the API checks.

Field lists and required fields come from `core.intake`, so the document cannot drift from
what the endpoint actually accepts.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from core.intake import (
    AMOUNT_RULE,
    CORRECT_DOMAIN,
    ENTITY_REQUIRED,
    HEADERS,
    LAYOUTS,
    LONG_TEXT_HEADERS,
    LONG_TEXT_LIMIT,
    SHORT_TEXT_LIMIT,
    SOURCE_DEPT,
    SOURCE_DEPT_USCC,
    IntakeKind,
)

_ERROR = {"$ref": "#/components/schemas/Error"}
_DESCRIPTION = (
    "数据来源单位报送行政处罚、行政强制、严重失信主体名单、刑事裁判记录及主体登记信息。"
    "按（记录类别，数据来源单位，文书号）新增或更正，更正保留原版本；名单记录以"
    "（名单名称，统一社会信用代码，列入日期）为键。"
    "每个密钥属于一个数据来源单位：写入的记录一律以该单位的名称（开通时登记了统一社会信用代码的，"
    "还有该代码）作为数据来源单位及其统一社会信用代码；记录中留空的自动填入，填写了其他单位的，该条被拒绝。"
    "单位只能写入开通时指定的领域，只能更正本单位报送、且库中所属领域在本单位范围内的记录；"
    f'把已有记录改到另一个领域须在该记录中写明 "{CORRECT_DOMAIN}": true，且新旧领域都须在本单位范围内。'
    "主体登记信息只能由负责市场监管领域的单位报送。每一条写入都记入只能追加的审计日志。"
    f"字段值须为文本（金额也可以是数字）；文本最长 {SHORT_TEXT_LIMIT} 个字符，"
    f"{'、'.join(sorted(LONG_TEXT_HEADERS))}最长 {LONG_TEXT_LIMIT} 个字符；金额{AMOUNT_RULE}。"
)
_KIND_DESCRIPTION = "记录类别；也接受中文名称：主体、行政处罚、行政强制、严重失信主体名单、刑事裁判"


_FILLED_FROM_KEY = "可留空：自动填入本密钥所属单位的；填写的须与之相同"


def _field_schema(kind: IntakeKind, header: str) -> dict[str, Any]:
    amounts = () if kind is IntakeKind.ENTITIES else LAYOUTS[kind].amounts
    if header in amounts:
        return {"type": ["string", "number", "null"], "description": f"单位：万元；{AMOUNT_RULE}"}
    limit = LONG_TEXT_LIMIT if header in LONG_TEXT_HEADERS else SHORT_TEXT_LIMIT
    schema: dict[str, Any] = {"type": ["string", "null"], "maxLength": limit}
    if kind is not IntakeKind.ENTITIES and header in (SOURCE_DEPT, SOURCE_DEPT_USCC):
        schema["description"] = _FILLED_FROM_KEY
    return schema


def _record_schema(kind: IntakeKind) -> dict[str, Any]:
    properties = {header: _field_schema(kind, header) for header in HEADERS[kind]}
    required = list(ENTITY_REQUIRED)
    if kind is not IntakeKind.ENTITIES:
        # The key supplies the unit, so a record may leave it out.
        required = [h for h in LAYOUTS[kind].required if h != SOURCE_DEPT]
        properties[CORRECT_DOMAIN] = {
            "type": "boolean",
            "default": False,
            "description": "把库中已有的这条记录改到本条所写的领域（明确更正，记入审计日志）；"
            "新旧领域都须在本单位可写入的范围内。不写或为 false 时，领域与库中不同的记录被拒绝。",
        }
    return {
        "type": "object",
        "description": f"{kind.value} 的一条记录，键为 CSV 表头（中文），值为文本（null 视为空）；日期可写 "
        "YYYY-MM-DD、YYYY/MM/DD 或 YYYY年M月D日，领域可写规范名称或常用别名。",
        "properties": properties,
        "required": required,
    }


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


@cache
def openapi_document() -> dict[str, Any]:
    kinds = [kind.value for kind in IntakeKind]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "creditbot 数据来源单位报送接口",
            "version": "1.0.0",
            "description": _DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/dept/records": {
                "post": {
                    "summary": "报送一批记录（最多 10,000 条），逐条返回结果",
                    "security": [{"bearerAuth": []}, {"apiKey": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "已逐条处理（被拒绝的记录在 results 中说明原因）",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/BatchResult"}}
                            },
                        },
                        "400": _error_response("请求体不是合法 JSON、kind 无法识别或 records 不是非空数组"),
                        "401": _error_response("缺少 API 密钥，或密钥无效、已停用"),
                        "413": _error_response("一批超过 10,000 条记录"),
                    },
                }
            }
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "creditbot dept add 生成的密钥",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
            "schemas": {
                "Batch": {
                    "type": "object",
                    "required": ["kind", "records"],
                    "properties": {
                        "kind": {
                            "type": "string",
                            "description": _KIND_DESCRIPTION,
                            "examples": kinds,
                        },
                        "records": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 10000,
                            "items": {"oneOf": [{"$ref": f"#/components/schemas/{k}"} for k in kinds]},
                        },
                    },
                },
                **{kind.value: _record_schema(kind) for kind in IntakeKind},
                "RecordResult": {
                    "type": "object",
                    "required": ["index", "status"],
                    "properties": {
                        "index": {"type": "integer", "description": "该记录在 records 中的位置（从 0 开始）"},
                        "status": {
                            "type": "string",
                            "enum": ["imported", "updated", "unchanged", "rejected"],
                        },
                        "reason": {
                            "type": "string",
                            "description": "被拒绝的原因（仅 rejected）：字段规则、以其他单位名义报送、"
                            "超出本单位领域、库中记录不属本单位可更正的范围、未写明更正领域等",
                        },
                        "warnings": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "BatchResult": {
                    "type": "object",
                    "required": ["results", "summary"],
                    "properties": {
                        "results": {"type": "array", "items": {"$ref": "#/components/schemas/RecordResult"}},
                        "summary": {
                            "type": "object",
                            "properties": {
                                name: {"type": "integer"}
                                for name in ("imported", "updated", "unchanged", "rejected")
                            },
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                },
            },
        },
    }
