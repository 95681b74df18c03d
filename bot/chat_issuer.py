"""The chat's view of the report service: issue for a user, and the links a report reply carries."""

from __future__ import annotations

from datetime import date

from bot.dialogs.base import ReportLinks
from bot.reports import ReportService
from core.domains import domain_by_number
from core.render import verify_url

CHANNEL = "chat"


class ServiceIssuer:
    def __init__(self, service: ReportService, base_url: str) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")

    async def issue(self, user: str, uscc: str, start: date, end: date, domains: list[int]) -> ReportLinks:
        issued = await self.service.issue(
            uscc, start, end, [domain_by_number(n) for n in domains], user_id=user, channel=CHANNEL
        )
        return self.links(issued.row.report_no, issued.row.verify_code)

    def links(self, report_no: str, verify_code: str) -> ReportLinks:
        """Absolute URLs: the mini-program and the QR code need them; the code gates every one."""
        base = self.base_url
        return ReportLinks(
            report_no=report_no,
            pdf_url=f"{base}/r/{report_no}.pdf?code={verify_code}",
            verify_url=verify_url(base, report_no, verify_code),
            qr_url=f"{base}/r/{report_no}/qr.svg?code={verify_code}",
        )
