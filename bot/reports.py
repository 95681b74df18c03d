"""Issuing and fetching reports: the one path the chat, the counter CLI and the web all use.

An issued report is immutable: its content JSON, signature, key id, PDF hash and PDF bytes
are written once, and every later download serves exactly those bytes.

Files and rows: the PDF is first written, fsynced, under a *staged* name that names the
process writing it (`SX….<process id>.pdf.tmp`); then the `issued_report` row is committed;
then the staged file is renamed to its final name (`SX….pdf`). So a final name always has a
committed row, and a staged name may or may not: only the database tells, which is why the
start-up clean-up asks it (`remove_leftovers`). Renaming *after* the commit, not before, is
what lets that clean-up run while other processes issue: a final file it finds without a row
is an orphan for certain (no process makes a final name before its commit), and a staged file
whose owner process is still alive is left alone. The price is a short window after the
commit in which the bytes still sit under the staged name; `pdf_bytes` looks there too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.appkeys import SESSIONS, SETTINGS
from bot.keys import KeyStore
from bot.render_pool import create_pool, render_signed_pdf, start_workers
from core.domains import Domain
from core.periods import Period
from core.records import china_today
from core.report import ReportError, assemble_report, check_entity, report_content
from core.report_identity import (
    CODE_LENGTH,
    ReportLinks,
    is_valid_report_no,
    make_report_no,
    new_verification_code,
    normalize_code,
    report_links,
)
from core.signing import canonical_json, sign_content, verify_content
from storage.issued import (
    RequestIdTakenError,
    committed_pdf_paths,
    issued_for_request,
    issued_report,
    next_in_sequence,
    save_issued,
    verify_code_of,
)
from storage.models import IssuedReport
from storage.processes import LOCAL_PROCESS, ProcessRegistry, ServiceProcesses
from storage.queries import entity_info, find_entity, records_for_report

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger(__name__)

REPORTS_DIR = "reports"
FINAL_SUFFIX = ".pdf"
STAGED_SUFFIX = ".pdf.tmp"
#: What a code is compared with when the number names no report: a miss then costs what a
#: wrong code costs. Any fixed string of a real code's length does; it can never open anything.
_NO_CODE = "3" * CODE_LENGTH


class EntityNotFoundError(ReportError):
    pass


@dataclass(frozen=True)
class Issued:
    row: IssuedReport
    pdf: bytes


@dataclass(frozen=True)
class Leftovers:
    """What the start-up clean-up did with files an interrupted issue left behind."""

    removed_staged: int = 0
    removed_orphans: int = 0
    published: int = 0


class ReportService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keys: KeyStore,
        executor: Executor,
        data_dir: Path,
        base_url: str,
        *,
        processes: ProcessRegistry = LOCAL_PROCESS,
        on_staged: Callable[[Path], None] | None = None,
    ) -> None:
        """`processes` names this process in staged file names; `on_staged` (tests) runs once a
        staged PDF is durable and before its row is committed: the moment a crash test kills."""
        self.sessions = sessions
        self.keys = keys
        self.executor = executor
        self.reports_dir = data_dir / REPORTS_DIR
        self.base_url = base_url
        self.processes = processes
        self.on_staged = on_staged
        #: The code comparison `find` makes on every path; a test counts its calls.
        self.compare_codes: Callable[[bytes, bytes], bool] = hmac.compare_digest
        self._warming: asyncio.Task[None] | None = None

    def start_warming(self, workers: int) -> None:
        """Start and warm the render workers in the background (the pool spawns lazily)."""
        self._warming = asyncio.create_task(start_workers(self.executor, workers))
        self._warming.add_done_callback(_log_warm_failure)

    async def ready(self) -> None:
        """Wait until the render workers are warm, e.g. before timing them; BrokenProcessPool
        when they could not start (readiness says so instead of claiming to be ready)."""
        if self._warming is not None:
            await asyncio.shield(self._warming)

    def stop_warming(self) -> None:
        if self._warming is not None:
            self._warming.cancel()

    async def _next_report_no(self, day: date) -> str:
        """One sequence a day (China time): the number says the day it was issued."""
        return make_report_no(day, await next_in_sequence(self.sessions, f"{day:%Y%m%d}"))

    async def issue(
        self,
        uscc: str,
        period: Period,
        domains: Sequence[Domain],
        *,
        user_id: str | None = None,
        channel: str = "",
        request_id: str | None = None,
    ) -> Issued:
        """Assemble, sign, render and store; ReportError carries the Chinese reason for a refusal.

        `period` was validated where it was asked for (`core.periods.validate_period`: a valid
        period stays valid as days pass). The entity is checked here, at issue time: its
        false-commitment mark may have been set since the dialog looked.

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
            numbers = sorted({d.number for d in domains})
            records = await records_for_report(session, uscc, numbers, period.start, period.end)
        report_no = await self._next_report_no(china_today(now))
        code = new_verification_code()
        report = assemble_report(info, records, period, domains, report_no=report_no, issued_at=now)
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
        final = self._final_path(report_no, report.issued_at)
        staged = await asyncio.to_thread(self._stage_pdf, final, pdf)
        if self.on_staged is not None:
            self.on_staged(staged)
        row = IssuedReport(
            report_no=report_no,
            verify_code=code,
            uscc=uscc,
            entity_name=info.name,
            period_start=period.start,
            period_end=period.end,
            domains=numbers,
            issued_at=report.issued_at,
            content_json=canonical_json(signed.content).decode("utf-8"),
            signature=signed.signature,
            key_id=signed.key_id,
            pdf_sha256=hashlib.sha256(pdf).hexdigest(),
            pdf_path=str(final.relative_to(self.reports_dir)),
            user_id=user_id,
            channel=channel,
            request_id=request_id,
        )
        try:
            await save_issued(self.sessions, row)
        except RequestIdTakenError:
            # The racing call with the same request id won, and its report is the answer.
            staged.unlink()
            winner = await self._by_request(request_id) if request_id is not None else None
            if winner is None:
                raise
            return winner
        # Any other failure leaves the staged file: whether the commit happened is then unknown,
        # and the next start's clean-up asks the database.
        await asyncio.to_thread(_publish, staged, final, pdf)
        log.info("report issued", extra={"report_no": report_no, "records": len(report.items)})
        return Issued(row, pdf)

    async def _by_request(self, request_id: str) -> Issued | None:
        row = await issued_for_request(self.sessions, request_id)
        return Issued(row, self.pdf_bytes(row)) if row is not None else None

    def _final_path(self, report_no: str, issued_at: datetime) -> Path:
        return self.reports_dir / f"{issued_at:%Y}" / f"{issued_at:%m}" / f"{report_no}{FINAL_SUFFIX}"

    def _stage_pdf(self, final: Path, pdf: bytes) -> Path:
        """Write the PDF under this process's staged name and make it durable before the commit."""
        final.parent.mkdir(parents=True, exist_ok=True)
        staged = final.with_name(f"{_report_no_of(final)}.{self.processes.current_id}{STAGED_SUFFIX}")
        _write_new(staged, pdf)
        _fsync_dir(final.parent)
        return staged

    async def remove_leftovers(self) -> Leftovers:
        """Start-up: staged files and final PDFs that no committed row claims are removed.

        A staged file whose row *was* committed (crash after the commit, before the rename)
        is renamed to its final name instead; one whose owner process is alive is in flight
        and left alone.
        """
        staged, finals = await asyncio.to_thread(self._scan)
        numbers = sorted({_report_no_of(p) for p in staged} | {_report_no_of(p) for p in finals})
        committed = await committed_pdf_paths(self.sessions, numbers)
        now = datetime.now(UTC)
        alive = {owner: await self.processes.is_alive(owner, now) for owner in {_owner_of(p) for p in staged}}
        done = await asyncio.to_thread(self._settle, staged, finals, committed, alive)
        log.info(
            "report files checked",
            extra={
                "removed_staged": done.removed_staged,
                "removed_orphans": done.removed_orphans,
                "published": done.published,
            },
        )
        return done

    def _scan(self) -> tuple[list[Path], list[Path]]:
        staged, finals = [], []
        if self.reports_dir.is_dir():
            for path in self.reports_dir.rglob("*"):
                if path.name.endswith(STAGED_SUFFIX):
                    staged.append(path)
                elif path.name.endswith(FINAL_SUFFIX):
                    finals.append(path)
        return staged, finals

    def _settle(
        self, staged: list[Path], finals: list[Path], committed: set[str], alive: dict[str, bool]
    ) -> Leftovers:
        removed_staged = removed_orphans = published = 0
        for path in staged:
            if alive[_owner_of(path)]:
                continue
            final = path.parent / f"{_report_no_of(path)}{FINAL_SUFFIX}"
            if str(final.relative_to(self.reports_dir)) in committed and not final.exists():
                path.rename(final)
                _fsync_dir(final.parent)
                published += 1
            else:
                path.unlink()
                removed_staged += 1
        for path in finals:
            if str(path.relative_to(self.reports_dir)) not in committed:
                path.unlink()
                removed_orphans += 1
        return Leftovers(removed_staged, removed_orphans, published)

    async def find(self, report_no: str, code: str) -> IssuedReport | None:
        """The report only when number and code both match; callers answer both misses alike.

        Every path does the same work before answering "no": one code comparison, against the
        stored code or, when the number names no report, against `_NO_CODE`; and the query
        fetches only the code, so a row that exists costs no more to read than one that does
        not (the full row is read only once the code matched). A malformed number (bad check
        character) still skips the database: its check character is public arithmetic, so
        the shorter path tells a caller only what the caller could compute, never whether a
        report exists, and garbage costs the database nothing.
        """
        stored = await self._stored_code(report_no)
        matches = self.compare_codes((stored or _NO_CODE).encode(), normalize_code(code).encode())
        if stored is None or not matches:
            return None
        return await self.get(report_no)

    async def _stored_code(self, report_no: str) -> str | None:
        if not is_valid_report_no(report_no):
            return None
        return await verify_code_of(self.sessions, report_no)

    async def get(self, report_no: str) -> IssuedReport | None:
        """Malformed numbers (bad check character) never reach the database."""
        if not is_valid_report_no(report_no):
            return None
        return await issued_report(self.sessions, report_no)

    def links(self, row: IssuedReport) -> ReportLinks:
        return report_links(self.base_url, row.report_no, row.verify_code)

    def pdf_bytes(self, row: IssuedReport) -> bytes:
        """The issued bytes, also in the moment between a row's commit and its file's rename."""
        final = self.reports_dir / row.pdf_path
        try:
            return final.read_bytes()
        except FileNotFoundError:
            pass
        for staged in final.parent.glob(f"{_report_no_of(final)}.*{STAGED_SUFFIX}"):
            try:
                return staged.read_bytes()
            except FileNotFoundError:
                continue  # renamed meanwhile: the final name has it now
        return final.read_bytes()

    def is_intact(self, row: IssuedReport) -> bool:
        """Signature still valid for the stored content and the stored PDF is the issued one."""
        content = json.loads(row.content_json)
        signature_ok = verify_content(self.keys.published().public_keys(), row.key_id, row.signature, content)
        try:
            pdf_ok = hashlib.sha256(self.pdf_bytes(row)).hexdigest() == row.pdf_sha256
        except FileNotFoundError:
            pdf_ok = False
        return signature_ok and pdf_ok


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` with `data`, durably; O_EXCL: an issued file is never written over."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _publish(staged: Path, final: Path, pdf: bytes) -> None:
    """Give a committed report's file its final name (durably)."""
    try:
        staged.rename(final)
    except FileNotFoundError:
        # Another process's clean-up took this one for dead (no heartbeat for three intervals)
        # and published the file itself, or removed it: the row is committed, so make sure the
        # final name holds the bytes, which this process still has.
        log.warning("staged report file vanished before its rename", extra={"path": str(final)})
        with contextlib.suppress(FileExistsError):
            _write_new(final, pdf)
    _fsync_dir(final.parent)


def _fsync_dir(folder: Path) -> None:
    """A new or renamed directory entry survives a power cut only once the directory is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _report_no_of(path: Path) -> str:
    return path.name.split(".", 1)[0]


def _owner_of(staged: Path) -> str:
    return staged.name.removesuffix(STAGED_SUFFIX).partition(".")[2]


REPORTS = web.AppKey("reports", ReportService)


async def report_service_context(app: web.Application) -> AsyncIterator[None]:
    """Keys on first start, this process registered, leftovers cleaned; render workers warm up.

    Start-up does not wait for the warm-up (about a second per worker), so the service answers
    at once, yet the workers are warm well before anyone has finished a report dialog. It does
    wait for the clean-up, so no file of an interrupted issue outlives a restart.
    """
    settings = app[SETTINGS]
    keys = KeyStore(settings.data_dir)
    keys.ensure()
    processes = ServiceProcesses(app[SESSIONS])
    await processes.register()
    pool = create_pool(settings.render_workers)
    service = ReportService(
        app[SESSIONS], keys, pool, settings.data_dir, settings.base_url, processes=processes
    )
    await service.remove_leftovers()
    service.start_warming(settings.render_workers)
    app[REPORTS] = service
    yield
    service.stop_warming()
    # Do not block the loop on a worker still warming up or rendering: it exits when done.
    pool.shutdown(wait=False, cancel_futures=True)
    await processes.stop()


def _log_warm_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("render workers failed to start", exc_info=error)
