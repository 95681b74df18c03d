"""`creditbot import KIND FILE`: a department's CSV file into the record store.

Every row is checked (`core.intake`); good rows are written in batches of ten thousand, each
batch in its own transaction, so a large file streams through in constant memory and an
interruption keeps what already landed. Refused rows are listed with their row number (the
header is row 1, as a spreadsheet shows it) and written, masked, to FILE.rejected.csv with a
拒绝原因 column, ready to be corrected and imported again.

Output contract: the last line is `imported N, updated M, rejected K`. Rows identical to what
is stored count in none of the three (a line above says how many there were); exit status 0
when nothing was refused, 1 when some rows were, 2 when the file cannot be used at all.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncEngine
from tqdm import tqdm

from bot.commands.csv_input import UnusableFileError, detect_encoding
from bot.config import Settings
from core.intake import (
    REASON_HEADER,
    DuplicateGuard,
    EntityValues,
    IntakeKind,
    RecordValues,
    check_headers,
    check_row,
    duplicate_reason,
    masked_row,
    resolve_kind,
)
from core.personal_data import redact
from storage.db import create_engine, upgrade
from storage.intake import Outcome, write_entities, write_records
from storage.secrets import load_or_create_secret

BATCH_ROWS = 10_000
#: Beyond this many refusals (or warnings) the screen only gets a count; the file has them all.
SHOWN_MESSAGES = 200

EXIT_OK, EXIT_REJECTED, EXIT_UNUSABLE = 0, 1, 2


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
        self._writer.writerow([*masked_row(self._header, cells), reason])

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

    async def _write(self, batch: list[RecordValues | EntityValues]) -> None:
        if not batch:
            return
        now = datetime.now(UTC)
        async with self.engine.begin() as connection:
            if self.kind is IntakeKind.ENTITIES:
                outcomes = await write_entities(connection, batch, self.secret, now)  # type: ignore[arg-type]
            else:
                replaced_by = f"import:{self.path.name}"
                outcomes = await write_records(connection, batch, now, replaced_by)  # type: ignore[arg-type]
        self.tally.add(outcomes)
        if self.bar is not None:
            self.bar.update(len(batch))

    async def run(self, progress: bool) -> int:
        encoding = detect_encoding(self.path)
        with self.path.open(encoding=encoding, newline="") as handle:
            reader = csv.reader(handle)
            header = [name.strip().lstrip("\ufeff") for name in next(reader, [])]
            if not any(header):
                raise UnusableFileError("文件没有表头")
            problems = check_headers(self.kind, header)
            if problems:
                raise UnusableFileError(f"表头与“{self.kind.value}”的格式不符：" + "；".join(problems))
            rejected = RejectedFile(rejected_path(self.path), header)
            self.bar = tqdm(unit="行", desc="导入", file=sys.stderr) if progress else None
            broken = None
            try:
                await self._rows(reader, header, rejected)
            except csv.Error as error:
                broken = (
                    f"文件无法继续导入：第{reader.line_num}行附近无法按 CSV 解析（{error}），其后的行未处理"
                )
            finally:
                if self.bar is not None:
                    self.bar.close()
                    self.bar = None
                wrote_rejects = rejected.close()
        if broken:
            print(broken, file=sys.stderr)
        self._summary(wrote_rejects)
        if broken:
            return EXIT_UNUSABLE
        return EXIT_REJECTED if self.tally.rejected else EXIT_OK

    async def _rows(self, reader: Iterator[list[str]], header: list[str], rejected: RejectedFile) -> None:
        """Check the next batch in a worker thread while the previous one is being written.

        SQLite's own work on each row runs in the driver's thread outside the GIL, so that part
        of the writing overlaps the checking of the next batch.
        """
        checker = _BatchChecker(self, reader, header, rejected)
        pending: asyncio.Task[None] | None = None
        try:
            more = True
            while more:
                batch, more = await asyncio.to_thread(checker.next_batch)
                if pending is not None:
                    await pending
                    pending = None
                if batch:
                    pending = asyncio.create_task(self._write(batch))
        finally:
            if pending is not None:
                await pending

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


class _BatchChecker:
    """Reads and checks rows up to the next full batch, keeping row numbers and duplicates across batches."""

    def __init__(
        self, run: CsvImport, reader: Iterator[list[str]], header: list[str], rejected: RejectedFile
    ) -> None:
        self.run = run
        self.reader = reader
        self.header = header
        self.rejected = rejected
        self.guard = DuplicateGuard()
        self.today = date.today()
        self.row_no = 1

    def next_batch(self) -> tuple[list[RecordValues | EntityValues], bool]:
        """The next batch of good rows, and whether the file may hold more."""
        run, kind, header, width = self.run, self.run.kind, self.header, len(self.header)
        batch: list[RecordValues | EntityValues] = []
        for row in self.reader:
            self.row_no += 1
            if len(row) != width:
                if any(cell.strip() for cell in row):
                    run.reject(
                        self.rejected, self.row_no, row, f"列数与表头不符：应为{width}列，实为{len(row)}列"
                    )
                continue
            checked = check_row(kind, dict(zip(header, row, strict=True)), self.today)
            for warning in checked.warnings:
                run.tally.warnings += 1
                run.limited("warning", f"第{self.row_no}行：警告：{redact(warning)}")
            if checked.values is None:
                if any(cell.strip() for cell in row):
                    run.reject(self.rejected, self.row_no, row, "；".join(checked.errors))
                continue
            earlier = self.guard.earlier(checked.values.key, f"第{self.row_no}行")
            if earlier is not None:
                run.reject(self.rejected, self.row_no, row, duplicate_reason(kind, earlier))
                continue
            batch.append(checked.values)
            if len(batch) >= BATCH_ROWS:
                return batch, True
        return batch, False


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
