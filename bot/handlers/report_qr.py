"""`GET /r/{report_no}/qr.svg?code=…`: the verification QR code as an image for chat clients.

The chat's report card shows it for a verifier to scan from the holder's phone; like the PDF
route it answers only with the right verification code, so numbers cannot be enumerated.
"""

from __future__ import annotations

import qrcode
from aiohttp import web
from qrcode.image.svg import SvgPathImage

from bot.appkeys import SETTINGS
from bot.reports import REPORTS
from core.render import verify_url
from core.report_identity import normalize_report_no


async def qr(request: web.Request) -> web.Response:
    report_no = normalize_report_no(request.match_info["report_no"])
    row = await request.app[REPORTS].find(report_no, request.query.get("code", ""))
    if row is None:
        return web.json_response({"error": {"code": "not_found", "message": "未找到该报告。"}}, status=404)
    url = verify_url(request.app[SETTINGS].base_url, row.report_no, row.verify_code)
    svg = qrcode.make(url, image_factory=SvgPathImage, box_size=10, border=2).to_string(encoding="unicode")
    return web.Response(
        text=svg, content_type="image/svg+xml", headers={"Cache-Control": "private, no-store"}
    )


def setup(app: web.Application) -> None:
    app.router.add_get(r"/r/{report_no:[A-Za-z0-9]+}/qr.svg", qr)
