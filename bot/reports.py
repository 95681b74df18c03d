"""Issuing and fetching reports: the one path the chat, the counter CLI and the web all use.

An issued report is immutable: its content JSON, signature, key id, PDF hash and PDF bytes
are written once, and every later download serves exactly those bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from aiohttp import web
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.appkeys import SESSIONS, SETTINGS
from bot.keys import KeyStore
from bot.render_pool import create_pool, render_signed_pdf, start_workers
from core.domains import Domain
from core.records import china_today
from core.render import verify_url
from core.report import ReportError, assemble_report, check_entity, check_period, report_content
from core.report_identity import is_valid_report_no, make_report_no, new_verification_code, normalize_code
from core.signing import canonical_json, sign_content, verify_content
from storage.models import IssuedReport, ReportSequence
from storage.queries import entity_info, find_entity, records_for_report

log = logging.getLogger(__name__)

REPORTS_DIR = "reports"


class EntityNotFoundError(ReportError):
    pass


@dataclass(frozen=True)
class ReportLinks:
    """Where a holder downloads, a verifier checks, and a chat client fetches the QR image."""

    pdf_url: str
    verify_url: str
    qr_url: str


@dataclass(frozen=True)
class Issued:
    row: IssuedReport
    pdf: bytes


class ReportService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keys: KeyStore,
        executor: Executor,
        data_dir: Path,
        base_url: str,
    ) -> None:
        self.sessions = sessions
        self.keys = keys
        self.executor = executor
        self.reports_dir = data_dir / REPORTS_DIR
        self.base_url = base_url
        self._warming: asyncio.Task[None] | None = None

    def start_warming(self, workers: int) -> None:
        """Start and warm the render workers in the background (the pool spawns lazily)."""
        self._warming = asyncio.create_task(_warm(self.executor, workers))

    async def ready(self) -> None:
        """Wait until the render workers are warm, e.g. before timing them."""
        if self._warming is not None:
            await asyncio.shield(self._warming)

    def stop_warming(self) -> None:
        if self._warming is not None:
            self._warming.cancel()

    async def _next_report_no(self, day: date) -> str:
        """Per-day sequence: an UPDATE … RETURNING takes the row lock on both databases."""
        key = f"{day:%Y%m%d}"
        table = ReportSequence.__table__
        for _ in range(5):
            async with self.sessions() as session:
                result = await session.exec(
                    update(table)
                    .where(table.c.day == key)
                    .values(last=table.c.last + 1)
                    .returning(table.c.last)
                )
                value = result.scalar_one_or_none()
                if value is None:
                    session.add(ReportSequence(day=key, last=1))
                    value = 1
                try:
                    await session.commit()
                except IntegrityError:
                    await session.rollback()
                    continue
            return make_report_no(day, value)
        raise RuntimeError("could not allocate a report number")

    async def issue(
        self,
        uscc: str,
        start: date,
        end: date,
        domains: Sequence[Domain],
        *,
        user_id: str | None = None,
        channel: str = "",
        request_id: str | None = None,
    ) -> Issued:
        """Assemble, sign, render and store; ReportError carries the Chinese reason for a refusal.

        With a `request_id`, the call is idempotent: a retry (after a crash, or from a second
        process racing the first) gets the report that id already produced.
        """
        if request_id is not None and (earlier := await self._by_request(request_id)) is not None:
            return earlier
        now = datetime.now(UTC)
        async with self.sessions() as session:
            entity = await find_entity(session, uscc)
            if entity is None:
                raise EntityNotFoundError(f"未找到统一社会信用代码为 {uscc} 的经营主体。")
            info = entity_info(entity)
            check_entity(info)
            check_period(start, end, china_today(now))
            numbers = sorted({d.number for d in domains})
            records = await records_for_report(session, uscc, numbers, start, end)
        report_no = await self._next_report_no(china_today(now))
        code = new_verification_code()
        report = assemble_report(info, records, start, end, domains, report_no=report_no, issued_at=now)
        # One read of the key files: a rotation meanwhile cannot split content and PDF signers.
        material = self.keys.signing_material()
        signed = sign_content(material.content_key(), report_content(report))
        loop = asyncio.get_running_loop()
        pdf = await loop.run_in_executor(
            self.executor,
            render_signed_pdf,
            report,
            code,
            self.base_url,
            signed.envelope_json(),
            material,
        )
        path = self._store_pdf(report_no, report.issued_at, pdf)
        row = IssuedReport(
            report_no=report_no,
            verify_code=code,
            uscc=uscc,
            entity_name=info.name,
            period_start=start,
            period_end=end,
            domains=numbers,
            issued_at=report.issued_at,
            content_json=canonical_json(signed.content).decode("utf-8"),
            signature=signed.signature,
            key_id=signed.key_id,
            pdf_sha256=hashlib.sha256(pdf).hexdigest(),
            pdf_path=str(path.relative_to(self.reports_dir)),
            user_id=user_id,
            channel=channel,
            request_id=request_id,
        )
        async with self.sessions() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                # Only the request id can collide: the racing call won, and its report is the answer.
                await session.rollback()
                path.unlink()
                winner = await self._by_request(request_id) if request_id is not None else None
                if winner is None:
                    raise
                return winner
        log.info("report issued", extra={"report_no": report_no, "records": len(report.items)})
        return Issued(row, pdf)

    async def _by_request(self, request_id: str) -> Issued | None:
        async with self.sessions() as session:
            result = await session.exec(select(IssuedReport).where(IssuedReport.request_id == request_id))
            row = result.first()
        return Issued(row, self.pdf_bytes(row)) if row is not None else None

    def _store_pdf(self, report_no: str, issued_at: datetime, pdf: bytes) -> Path:
        folder = self.reports_dir / f"{issued_at:%Y}" / f"{issued_at:%m}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{report_no}.pdf"
        # O_EXCL: an issued file is never replaced.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pdf)
        return path

    async def find(self, report_no: str, code: str) -> IssuedReport | None:
        """The report only when number and code both match; callers answer both misses alike."""
        row = await self.get(report_no)
        if row is None or not hmac.compare_digest(row.verify_code.encode(), normalize_code(code).encode()):
            return None
        return row

    async def get(self, report_no: str) -> IssuedReport | None:
        """Malformed numbers (bad check character) never reach the database."""
        if not is_valid_report_no(report_no):
            return None
        async with self.sessions() as session:
            return await session.get(IssuedReport, report_no)

    def links(self, row: IssuedReport) -> ReportLinks:
        query = f"?code={row.verify_code}"
        return ReportLinks(
            pdf_url=f"{self.base_url}/r/{row.report_no}.pdf{query}",
            verify_url=verify_url(self.base_url, row.report_no, row.verify_code),
            qr_url=f"{self.base_url}/v/{row.report_no}/qr.svg{query}",
        )

    def pdf_bytes(self, row: IssuedReport) -> bytes:
        return (self.reports_dir / row.pdf_path).read_bytes()

    def is_intact(self, row: IssuedReport) -> bool:
        """Signature still valid for the stored content and the stored PDF is the issued one."""
        content = json.loads(row.content_json)
        signature_ok = verify_content(self.keys.published().public_keys(), row.key_id, row.signature, content)
        try:
            pdf_ok = hashlib.sha256(self.pdf_bytes(row)).hexdigest() == row.pdf_sha256
        except FileNotFoundError:
            pdf_ok = False
        return signature_ok and pdf_ok


REPORTS = web.AppKey("reports", ReportService)


async def report_service_context(app: web.Application) -> AsyncIterator[None]:
    """Keys on first start; render workers start and warm up in the background right away.

    Start-up does not wait for the warm-up (about a second per worker), so the service answers
    at once, yet the workers are warm well before anyone has finished a report dialog.
    """
    settings = app[SETTINGS]
    keys = KeyStore(settings.data_dir)
    keys.ensure()
    pool = create_pool(settings.render_workers)
    service = ReportService(app[SESSIONS], keys, pool, settings.data_dir, settings.base_url)
    service.start_warming(settings.render_workers)
    app[REPORTS] = service
    yield
    service.stop_warming()
    # Do not block the loop on a worker still warming up or rendering: it exits when done.
    pool.shutdown(wait=False, cancel_futures=True)


async def _warm(pool: Executor, workers: int) -> None:
    try:
        await start_workers(pool, workers)
    except BrokenProcessPool:
        log.exception("render workers failed to start")
