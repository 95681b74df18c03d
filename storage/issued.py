"""Issued reports and their per-day number sequence: every statement `bot.reports` runs.

The report service decides *when* to read and write (staged file, commit, rename); this module
only knows *how*. An issued row is written once and never changed, so there is an insert and
reads, no update. The chat's own reads of issued reports (a user's recent reports, one by
number) run inside a chat turn and live with the other turn statements in `storage.chat`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import IssuedReport, ReportSequence

_issued = IssuedReport.__table__
_sequence = ReportSequence.__table__
#: Two first issues of a day race to insert the day's row; the loser counts on from the winner.
_SEQUENCE_ATTEMPTS = 5
#: Report numbers per query when the clean-up asks which files have rows.
_PATHS_BATCH = 500

_BUMP = update(_sequence).values(last=_sequence.c.last + 1).returning(_sequence.c.last)


class RequestIdTakenError(Exception):
    """Another call with the same request id committed its report first; that report is the answer."""


async def next_in_sequence(sessions: async_sessionmaker[AsyncSession], day: str) -> int:
    """The day's next serial: an UPDATE … RETURNING takes the row lock on both databases."""
    for _ in range(_SEQUENCE_ATTEMPTS):
        async with sessions() as session:
            value = (await session.exec(_BUMP.where(_sequence.c.day == day))).scalar_one_or_none()
            if value is None:
                session.add(ReportSequence(day=day, last=1))
                value = 1
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                continue
        return value
    raise RuntimeError("could not allocate a report number")


async def save_issued(sessions: async_sessionmaker[AsyncSession], row: IssuedReport) -> None:
    """Commit a new report; raises RequestIdTakenError when its request id is already taken.

    The report number comes from the sequence and so is new, which leaves the request id as the
    only key that can collide.
    """
    async with sessions() as session:
        session.add(row)
        try:
            await session.commit()
        except IntegrityError as error:
            await session.rollback()
            raise RequestIdTakenError(row.request_id) from error


async def issued_for_request(
    sessions: async_sessionmaker[AsyncSession], request_id: str
) -> IssuedReport | None:
    async with sessions() as session:
        return (await session.exec(select(IssuedReport).where(IssuedReport.request_id == request_id))).first()


async def issued_report(sessions: async_sessionmaker[AsyncSession], report_no: str) -> IssuedReport | None:
    async with sessions() as session:
        return await session.get(IssuedReport, report_no)


async def verify_code_of(sessions: async_sessionmaker[AsyncSession], report_no: str) -> str | None:
    """Only the code: a report that exists costs no more to read than one that does not."""
    async with sessions() as session:
        statement = select(_issued.c.verify_code).where(_issued.c.report_no == report_no)
        return (await session.exec(statement)).one_or_none()


async def committed_pdf_paths(sessions: async_sessionmaker[AsyncSession], numbers: Sequence[str]) -> set[str]:
    """The stored PDF paths of those of `numbers` that have a committed row."""
    paths: set[str] = set()
    async with sessions() as session:
        for at in range(0, len(numbers), _PATHS_BATCH):
            chunk = numbers[at : at + _PATHS_BATCH]
            result = await session.exec(select(_issued.c.pdf_path).where(_issued.c.report_no.in_(chunk)))
            paths.update(result.all())
    return paths
