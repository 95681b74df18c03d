"""The OpenAPI 3 description of the department API, built from the same header tables the API checks.

Field lists and required fields come from `core.intake`, so the document cannot drift from
what the endpoint actually accepts.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from core.intake import ENTITY_REQUIRED, HEADERS, LAYOUTS, IntakeKind

_ERROR = {"$ref": "#/components/schemas/Error"}
_DESCRIPTION = (
    "数据来源单位报送行政处罚、行政强制、严重失信主体名单、刑事裁判记录及主体登记信息。"
    "按（记录类别，数据来源单位，文书号）新增或更正，更正保留原版本；名单记录以"
    "（名单名称，统一社会信用代码，列入日期）为键。单位只能写入开通时指定的领域；"
    "主体登记信息只能由负责市场监管领域的单位报送。"
)
_KIND_DESCRIPTION = "记录类别；也接受中文名称：主体、行政处罚、行政强制、严重失信主体名单、刑事裁判"


def _record_schema(kind: IntakeKind) -> dict[str, Any]:
    required = ENTITY_REQUIRED if kind is IntakeKind.ENTITIES else LAYOUTS[kind].required
    return {
        "type": "object",
        "description": f"{kind.value} 的一条记录，键为 CSV 表头（中文），值为文本；日期可写 "
        "YYYY-MM-DD、YYYY/MM/DD 或 YYYY年M月D日，领域可写规范名称或常用别名。",
        "properties": {header: {"type": ["string", "number", "null"]} for header in HEADERS[kind]},
        "required": list(required),
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
                        "reason": {"type": "string", "description": "被拒绝的原因（仅 rejected）"},
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
