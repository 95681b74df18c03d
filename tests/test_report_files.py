"""Report files across crashes (staged, published, orphaned) and lookups that cost the same."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.keys import KeyStore
from bot.reports import Leftovers, ReportService
from core.domains import domain_by_name
from core.periods import Period
from core.report_identity import make_report_no
from storage.db import session_factory
from storage.processes import ServiceProcesses
from tests.report_support import USCC, store_entity

DOMAINS = [domain_by_name("税务")]


@pytest.fixture
async def service(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[ReportService]:
    sessions = session_factory(engine)
    await store_entity(engine)
    keys = KeyStore(tmp_path)
    keys.ensure()
    processes = ServiceProcesses(sessions)
    await processes.register()
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield ReportService(sessions, keys, executor, tmp_path, "http://creditbot.test", processes=processes)
    await processes.stop()


async def _issue(service: ReportService):
    return await service.issue(USCC, Period(date(2024, 1, 1), date(2024, 12, 31)), DOMAINS)


def _files(service: ReportService) -> list[str]:
    root = service.reports_dir
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_start_up_removes_what_no_row_claims_and_finishes_what_one_does(service: ReportService) -> None:
    kept = (await _issue(service)).row
    interrupted = await _issue(service)  # committed, then "killed" before the rename
    folder = service.reports_dir / Path(kept.pdf_path).parent
    dead, alive = uuid.uuid4().hex, ServiceProcesses(service.sessions)
    await alive.register()
    final = service.reports_dir / interrupted.row.pdf_path
    final.rename(folder / f"{interrupted.row.report_no}.{dead}.pdf.tmp")
    # A reader of the committed row in that window still gets the issued bytes.
    assert service.pdf_bytes(interrupted.row) == interrupted.pdf
    assert service.is_intact(interrupted.row)
    never = make_report_no(date(2024, 1, 2), 7)
    (folder / f"{never}.{dead}.pdf.tmp").write_bytes(b"%PDF-1.7 staged, never committed")
    (folder / f"{never}.pdf").write_bytes(b"%PDF-1.7 final name, no row")
    in_flight = folder / f"{make_report_no(date(2024, 1, 2), 8)}.{alive.current_id}.pdf.tmp"
    in_flight.write_bytes(b"%PDF-1.7 another live process is about to commit")

    assert await service.remove_leftovers() == Leftovers(removed_staged=1, removed_orphans=1, published=1)
    month = str(Path(kept.pdf_path).parent)
    assert _files(service) == sorted([kept.pdf_path, interrupted.row.pdf_path, f"{month}/{in_flight.name}"])
    assert final.read_bytes() == interrupted.pdf
    await alive.stop()


async def test_an_issue_leaves_only_its_final_file(service: ReportService) -> None:
    issued = await _issue(service)
    assert _files(service) == [issued.row.pdf_path]
    assert issued.row.pdf_path.endswith(f"/{issued.row.report_no}.pdf")


async def test_a_wrong_code_and_an_unknown_number_do_the_same_comparison(service: ReportService) -> None:
    row = (await _issue(service)).row
    compared: list[tuple[bytes, bytes]] = []
    real = service.compare_codes

    def counting(stored: bytes, given: bytes) -> bool:
        compared.append((stored, given))
        return real(stored, given)

    service.compare_codes = counting
    wrong = "ACDEFGHJ" if row.verify_code != "ACDEFGHJ" else "KMNPQRTU"
    assert await service.find(row.report_no, wrong) is None
    assert await service.find(make_report_no(date(2024, 1, 1), 999), row.verify_code) is None
    assert await service.find(row.report_no[:-1] + "#", row.verify_code) is None  # malformed
    assert len(compared) == 3
    assert [len(stored) for stored, _ in compared] == [8, 8, 8]
    assert compared[0][0] == row.verify_code.encode() and compared[1][0] == compared[2][0] != compared[0][0]
    found = await service.find(row.report_no, row.verify_code.lower())
    assert found is not None and found.report_no == row.report_no and len(compared) == 4
