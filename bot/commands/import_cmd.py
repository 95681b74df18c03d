"""`creditbot import KIND FILE`: a department's CSV file into the record store.

The file is first read through once (`csv_input.check_file`): its encoding is found and its
CSV structure checked to the end, so a file that breaks off as CSV lands nothing. Then every
row is checked (`core.intake`) in a worker process (`row_checker`) while this process stores
the previous batch; good rows are written in batches of ten thousand, each batch in its own
transaction with its audit row, so a large file streams through in constant memory and an
interruption keeps what already landed. Refused rows are listed with their row number (the
header is row 1, as a spreadsheet shows it) and written, masked, to FILE.rejected.csv with a
拒绝原因 column, ready to be corrected and imported again; cells that a spreadsheet would run
as a formula are written with a leading apostrophe.

The import is the platform operator's: it may write records of any data-source unit, and its
audit rows say so (`operator:<login>`).

Output contract: the last line is `imported N, updated M, rejected K`. Rows identical to what
is stored count in none of the three (a line above says how many there were); exit status 0
when nothing was refused, 1 when some rows were, 2 when the file cannot be used at all.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncEngine
from tqdm import tqdm

from bot.commands import row_checker
from bot.commands.csv_input import UnusableFileError, check_file
from bot.config import Settings
from core.intake import (
    REASON_HEADER,
    IntakeKind,
    check_headers,
    masked_row,
    resolve_kind,
)
from core.personal_data import redact
from storage.db import create_engine, upgrade
from storage.intake import Outcome, Writer, audit_import_batch, write_entities, write_plain_records
from storage.secrets import load_or_create_secret

BATCH_ROWS = 10_000
#: Beyond this many refusals (or warnings) the screen only gets a count; the file has them all.
SHOWN_MESSAGES = 200

EXIT_OK, EXIT_REJECTED, EXIT_UNUSABLE = 0, 1, 2
#: What a spreadsheet may run as a formula when a cell starts with it (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Said in every batch's audit row: the operator is trusted with every unit.
OPERATOR_NOTE = "平台运营方导入：可写入任何数据来源单位"


def inert_cell(cell: str) -> str:
    """The cell as written to FILE.rejected.csv: a leading apostrophe keeps a formula from running."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def operator_login() -> str:
    """Who runs the import, for the audit trail; the machine may not know (a container, say)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def rejected_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejected.csv")


class RejectedFile:
    """FILE.rejected.csv, created on the first refusal; UTF-8 with BOM so Excel shows the Chinese."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self._keep = [i for i, name in enumerate(header) if name != REASON_HEADER]
        self._header = [header[i] for i in self._keep]
        self._handle: TextIO | None = None
        self._writer: Any = None

    def add(self, row: list[str], reason: str) -> None:
        if self._writer is None:
            self._handle = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow([*self._header, REASON_HEADER])
        cells = [row[i] if i < len(row) else "" for i in self._keep]
        self._writer.writerow([inert_cell(cell) for cell in (*masked_row(self._header, cells), reason)])

    def close(self) -> bool:
        """Whether anything was written; a stale file from an earlier run is removed otherwise."""
        if self._handle is None:
            self.path.unlink(missing_ok=True)
            return False
        self._handle.close()
        return True


@dataclass
class Tally:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    shown: dict[str, int] = field(default_factory=lambda: {"rejected": 0, "warning": 0})

    def add(self, outcomes: list[Outcome]) -> None:
        self.imported += outcomes.count(Outcome.IMPORTED)
        self.updated += outcomes.count(Outcome.UPDATED)
        self.unchanged += outcomes.count(Outcome.UNCHANGED)

    @property
    def last_line(self) -> str:
        return f"imported {self.imported}, updated {self.updated}, rejected {self.rejected}"


class CsvImport:
    """One run of the import over one file."""

    def __init__(self, kind: IntakeKind, path: Path, engine: AsyncEngine, secret: bytes, out: TextIO) -> None:
        self.kind = kind
        self.path = path
        self.engine = engine
        self.secret = secret
        self.out = out
        self.tally = Tally()
        self.bar: tqdm | None = None
        login = operator_login()
        self.writer = Writer(channel="csv", actor=f"operator:{login}", replaced_by=f"import:{path.name}")
        self.login = login

    def say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.out)
        else:
            print(line, file=self.out)

    def limited(self, category: str, line: str) -> None:
        if self.tally.shown[category] < SHOWN_MESSAGES:
            self.say(line)
        self.tally.shown[category] += 1

    def reject(self, rejected: RejectedFile, row_no: int, row: list[str], reason: str) -> None:
        reason = redact(reason)
        self.tally.rejected += 1
        self.limited("rejected", f"第{row_no}行：{reason}")
        rejected.add(row, reason)

    async def _write(self, batch: list[Any], rejected: int) -> None:
        if not batch:
            return
        now = datetime.now(UTC)
        async with self.engine.begin() as connection:
            if self.kind is IntakeKind.ENTITIES:
                written = await write_entities(connection, batch, self.secret, now, self.writer)
                units: list[str] = []
            else:
                written = await write_plain_records(connection, batch, now, self.writer)
                units = sorted({plain[1] for plain in batch})
            outcomes = written.outcomes
            summary = {
                "file": self.path.name,
                "operator": self.login,
                "kind": self.kind.value,
                "imported": outcomes.count(Outcome.IMPORTED),
                "updated": outcomes.count(Outcome.UPDATED),
                "unchanged": outcomes.count(Outcome.UNCHANGED),
                "rejected": rejected,
                "units": units,
                "note": OPERATOR_NOTE,
            }
            await audit_import_batch(connection, self.writer, now, summary)
        self.tally.add(outcomes)
        if self.bar is not None:
            self.bar.update(len(batch))

    def _read_header(self, encoding: str) -> list[str]:
        with self.path.open(encoding=encoding, newline="") as handle:
            header = [name.strip().lstrip("\ufeff") for name in next(csv.reader(handle), [])]
        if not any(header):
            raise UnusableFileError("文件没有表头")
        problems = check_headers(self.kind, header)
        if problems:
            raise UnusableFileError(f"表头与“{self.kind.value}”的格式不符：" + "；".join(problems))
        return header

    async def run(self, progress: bool) -> int:
        encoding = check_file(self.path)
        header = self._read_header(encoding)
        rejected = RejectedFile(rejected_path(self.path), header)
        self.bar = tqdm(unit="行", desc="导入", file=sys.stderr) if progress else None
        try:
            broken = await self._rows(encoding, header, rejected)
        finally:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            wrote_rejects = rejected.close()
        if broken:
            print(f"文件无法继续导入：{broken}", file=sys.stderr)
        self._summary(wrote_rejects)
        if broken:
            return EXIT_UNUSABLE
        return EXIT_REJECTED if self.tally.rejected else EXIT_OK

    async def _rows(self, encoding: str, header: list[str], rejected: RejectedFile) -> str | None:
        """Store each batch while the worker process checks the next; returns why the file broke off."""
        loop = asyncio.get_running_loop()
        initargs = (self.path, encoding, self.kind, header)
        with ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=row_checker.start,
            initargs=initargs,
        ) as worker:
            upcoming = loop.run_in_executor(worker, row_checker.next_batch, BATCH_ROWS)
            while True:
                batch = await upcoming
                if batch.more:
                    upcoming = loop.run_in_executor(worker, row_checker.next_batch, BATCH_ROWS)
                for row_no, row, reason in batch.rejected:
                    self.reject(rejected, row_no, row, reason)
                for row_no, warning in batch.warnings:
                    self.tally.warnings += 1
                    self.limited("warning", f"第{row_no}行：警告：{redact(warning)}")
                await self._write(batch.good, len(batch.rejected))
                if not batch.more:
                    return batch.broken

    def _summary(self, wrote_rejects: bool) -> None:
        tally = self.tally
        for category, label in (("rejected", "被拒绝的行"), ("warning", "警告")):
            hidden = tally.shown[category] - SHOWN_MESSAGES
            if hidden > 0:
                self.say(f"另有{hidden}条{label}未在此显示")
        if tally.unchanged:
            self.say(f"未变化 {tally.unchanged} 行：与库中记录完全相同，未作改动")
        if wrote_rejects:
            self.say(f"被拒绝的行及原因已写入 {rejected_path(self.path)}（证件号码和手机号已打码）")
        self.say(tally.last_line)


async def import_file(kind: IntakeKind, path: Path, settings: Settings, out: TextIO, progress: bool) -> int:
    engine = create_engine(settings.effective_database_url)
    try:
        await upgrade(engine)
        secret = load_or_create_secret(settings.data_dir)
        return await CsvImport(kind, path, engine, secret, out).run(progress)
    finally:
        await engine.dispose()


def run(args: argparse.Namespace) -> int:
    kind = resolve_kind(args.kind)
    if kind is None:
        names = "、".join(k.value for k in IntakeKind)
        print(f"无法识别的数据类别“{args.kind}”，应为 {names} 之一", file=sys.stderr)
        return EXIT_UNUSABLE
    progress = sys.stderr.isatty() and sys.stdout.isatty()
    try:
        return asyncio.run(import_file(kind, Path(args.file), Settings.from_env(), sys.stdout, progress))
    except UnusableFileError as error:
        print(f"文件无法导入：{error.message}", file=sys.stderr)
        print("imported 0, updated 0, rejected 0")
        return EXIT_UNUSABLE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="导入数据来源单位报送的 CSV 文件（UTF-8 或 GBK）",
        description="KIND：entities（主体）、penalties（行政处罚）、enforcements（行政强制）、"
        "lists（严重失信主体名单）、judgments（刑事裁判）",
    )
    parser.add_argument(
        "kind", metavar="KIND", help="entities / penalties / enforcements / lists / judgments"
    )
    parser.add_argument("file", metavar="FILE", help="CSV 文件路径")
    parser.set_defaults(func=run)
