"""The chat's view of the report service: issue for a user, and the links a report reply carries."""

from __future__ import annotations

from typing import Any

from bot.reports import ReportService
from core.domains import domain_by_number
from core.periods import Period
from core.report_identity import ReportLinks

CHANNEL = "chat"


class ServiceIssuer:
    def __init__(self, service: ReportService) -> None:
        self.service = service

    async def issue(
        self, user: str, uscc: str, period: Period, domains: list[int], request_id: str
    ) -> ReportLinks:
        issued = await self.service.issue(
            uscc,
            period,
            [domain_by_number(n) for n in domains],
            user_id=user,
            channel=CHANNEL,
            request_id=request_id,
        )
        return self.links(issued.row)

    def links(self, row: Any) -> ReportLinks:
        return self.service.links(row)
