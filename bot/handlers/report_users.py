"""HTTP routes for people and machines that hold a report: keys, verification, upload check, download.

Thin by design: the decisions live in `bot.reports` and `core`. A wrong number and a wrong
code get byte-identical answers, so the routes cannot be used to find out which reports exist.

The routes of report holders are sub-applications, one per prefix (`/v` verification, `/r`
downloads), each with the rate limit as its middleware; they share one limiter, so an address
has one budget across them. The published keys are for anyone and are not limited.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http import HttpProcessingError

from bot.handlers import request_guard
from bot.handlers.errors import error_response
from bot.handlers.json_replies import json_error, json_reply
from bot.ratelimit import RateLimiter
from bot.reports import REPORTS, report_service_context
from core.render import environment, qr_svg
from core.report_identity import normalize_report_no
from storage.models import IssuedReport

#: An issued report is well under a megabyte; 20 MB leaves room for a re-saved or scanned copy.
MAX_UPLOAD = 20 * 1024 * 1024
_READ_SIZE = 256 * 1024
_HASH_BLOCK = 1024 * 1024

log = logging.getLogger(__name__)

NOT_FOUND_MESSAGE = "未找到该报告，或核验码不正确。请核对报告编号和核验码（见报告首页）。"
FILE_MISSING_MESSAGE = (
    "该报告的文件暂时无法下载，平台已记录此问题。报告内容仍可在核验页面核对；如需文件，请联系平台运维人员。"
)
LIMITED_MESSAGE = "查询过于频繁，请稍后再试。"
NO_FILE_MESSAGE = "请以 multipart 表单字段 file 上传 PDF 文件。"
MALFORMED_UPLOAD_MESSAGE = "上传的表单不完整或格式有误，请重新选择 PDF 文件上传。"

LIMITER = web.AppKey("report_rate_limiter", RateLimiter)


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _page(status: int, **context: Any) -> web.Response:
    html = environment().get_template("verify.html").render(**context)
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")


def _not_found(request: web.Request, report_no: str) -> web.Response:
    if _wants_json(request):
        return json_error("not_found", NOT_FOUND_MESSAGE, status=404)
    return _page(404, state="not_found", report_no=report_no, message=NOT_FOUND_MESSAGE)


@web.middleware
async def _rate_limit(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every request under the prefix counts, unknown paths too: probing them is enumeration as well."""
    if not request.config_dict[LIMITER].allow(request.remote or ""):
        return error_response(request, 429, "rate_limited", LIMITED_MESSAGE)
    return await handler(request)


def verification_json(row: IssuedReport, valid: bool) -> dict[str, Any]:
    content = json.loads(row.content_json)
    return {
        "report_no": row.report_no,
        "valid": valid,
        "entity": {"uscc": content["entity"]["uscc"], "name": content["entity"]["name"]},
        "period": {"start": content["period"]["start"], "end": content["period"]["end"]},
        "domains": [d["name"] for d in content["domains"]],
        "issued_at": content["issued_at"],
        "sha256": row.pdf_sha256,
        "key_id": row.key_id,
        "signature": row.signature,
        "content": content,
    }


async def published_keys(request: web.Request) -> web.Response:
    body = request.config_dict[REPORTS].keys.published().to_json()
    return json_reply(body, headers={"Cache-Control": "public, max-age=300"})


async def verify(request: web.Request) -> web.Response:
    report_no = normalize_report_no(request.match_info["report_no"])
    code = request.query.get("code", "")
    if not code and not _wants_json(request):
        return _page(200, state="form", report_no=report_no)
    service = request.config_dict[REPORTS]
    row = await service.find(report_no, code)
    if row is None:
        return _not_found(request, report_no)
    # Reads the key files and hashes the whole PDF: file I/O stays off the loop.
    body = verification_json(row, await asyncio.to_thread(service.is_intact, row))
    if _wants_json(request):
        return json_reply(body)
    return _page(200, state="found", report_no=report_no, r=body, links=service.links(row))


async def qr_code(request: web.Request) -> web.Response:
    """The QR image a chat client shows next to a report; it encodes the verification URL."""
    report_no = normalize_report_no(request.match_info["report_no"])
    service = request.config_dict[REPORTS]
    row = await service.find(report_no, request.query.get("code", ""))
    if row is None:
        return _not_found(request, report_no)
    svg = qr_svg(service.links(row).verify_url)
    return web.Response(
        text=svg, content_type="image/svg+xml", headers={"Cache-Control": "private, max-age=86400"}
    )


async def _upload_digest(request: web.Request) -> str | None:
    """SHA-256 of the form field `file` (None if the form has none), reading at most MAX_UPLOAD bytes.

    The body limit also holds for a chunked upload, which declares no length up front: every
    part is read here rather than skipped, so every byte is counted. Hashing runs in a worker
    thread a megabyte at a time (hashlib releases the GIL), so a 20 MB upload does not hold
    up the chat or /healthz.
    """
    reader = await request.multipart()
    digest: Any = None
    received = 0
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise ValueError("nested multipart")
        target = hashlib.sha256() if part.name == "file" and digest is None else None
        block = bytearray()
        while chunk := await part.read_chunk(_READ_SIZE):
            received += len(chunk)
            if received > MAX_UPLOAD:
                raise web.HTTPRequestEntityTooLarge(MAX_UPLOAD, received)
            if target is not None:
                block += chunk
                if len(block) >= _HASH_BLOCK:
                    full, block = block, bytearray()
                    await asyncio.to_thread(target.update, full)
        if target is not None:
            await asyncio.to_thread(target.update, block)
            digest = target
    return None if digest is None else digest.hexdigest()


async def check_upload(request: web.Request) -> web.Response:
    """Byte-for-byte comparison with the issued file; 'no match' looks the same for unknown numbers."""
    report_no = normalize_report_no(request.match_info["report_no"])
    if not request.content_type.startswith("multipart/"):
        return json_error("bad_request", NO_FILE_MESSAGE)
    try:
        sha256 = await _upload_digest(request)
    except (ValueError, HttpProcessingError):
        # No boundary, a truncated body, broken part headers: the form never arrived whole.
        return json_error("malformed_upload", MALFORMED_UPLOAD_MESSAGE)
    if sha256 is None:
        return json_error("bad_request", NO_FILE_MESSAGE)
    row = await request.config_dict[REPORTS].get(report_no)
    match = row is not None and row.pdf_sha256 == sha256
    message = "上传文件与出具的报告完全一致。" if match else "上传文件与出具的报告不一致，或报告不存在。"
    if "text/html" in request.headers.get("Accept", ""):
        return _page(200, state="check", report_no=report_no, match=match, message=message)
    return json_reply({"report_no": report_no, "match": match, "message": message})


async def download(request: web.Request) -> web.StreamResponse:
    report_no = normalize_report_no(request.match_info["report_no"])
    service = request.config_dict[REPORTS]
    row = await service.find(report_no, request.query.get("code", ""))
    if row is None:
        return _not_found(request, report_no)
    try:
        pdf = await asyncio.to_thread(service.pdf_bytes, row)
    except FileNotFoundError:
        # The row says it was issued, the disk has lost it: the operator must know, the holder
        # gets a clear answer (the verification page still shows the signed content).
        log.error("issued report file missing", extra={"report_no": row.report_no})
        if _wants_json(request):
            return json_error("file_missing", FILE_MISSING_MESSAGE, status=404)
        return _page(404, state="not_found", report_no=report_no, message=FILE_MISSING_MESSAGE)
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{row.report_no}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


def _limited(limiter: RateLimiter) -> web.Application:
    app = web.Application(middlewares=[_rate_limit])
    app[LIMITER] = limiter
    return app


def setup(app: web.Application, per_minute: int = 30, burst: int = 20) -> None:
    app.cleanup_ctx.append(report_service_context)
    app.router.add_get("/.well-known/creditbot-keys.json", published_keys)
    limiter = RateLimiter(per_minute=per_minute, burst=burst)
    verification = _limited(limiter)
    verification.router.add_get("/{report_no}", verify)
    check = verification.router.add_post("/{report_no}/check", check_upload)
    request_guard.limit_body(verification, check, MAX_UPLOAD)
    verification.router.add_get("/{report_no}/qr.svg", qr_code)
    app.add_subapp("/v", verification)
    downloads = _limited(limiter)
    downloads.router.add_get(r"/{report_no:[A-Za-z0-9]+}.pdf", download)
    app.add_subapp("/r", downloads)
