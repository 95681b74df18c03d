"""Reading and checking a CSV file's rows in a worker process, one batch at a time.

Checking a row costs about as much CPU as storing it, and both are Python-bound, so threads
cannot overlap them under the GIL; a second process can. One worker reads the file in order,
so row numbers and the first-occurrence rule for duplicates stay exact. Records travel back
in plain form (`RecordValues.plain`), which pickles several times faster than the values
themselves. The module imports only what checking needs, so the worker starts quickly.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.commands.csv_input import csv_problem
from core.intake import (
    DuplicateGuard,
    EntityValues,
    IntakeKind,
    PlainRecord,
    RecordValues,
    check_row,
    duplicate_reason,
)
from core.records import china_today


@dataclass
class CheckedBatch:
    """Good rows to store, refused rows (row number, cells, reason), warnings (row number, text)."""

    good: list[PlainRecord | EntityValues] = field(default_factory=list)
    rejected: list[tuple[int, list[str], str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    more: bool = True
    #: Why reading stopped early: the file stopped being CSV at some line. `csv_input.check_file`
    #: has parsed the whole file before the import starts, so only a file changed since can.
    broken: str | None = None


class BatchChecker:
    def __init__(self, path: Path, encoding: str, kind: IntakeKind, header: list[str]) -> None:
        self._handle = path.open(encoding=encoding, newline="")
        self._reader = csv.reader(self._handle)
        next(self._reader)  # the header, checked by the caller
        self.kind = kind
        self.header = header
        self.guard = DuplicateGuard()
        self.today = china_today(datetime.now(UTC))
        self.row_no = 1

    def next_batch(self, size: int) -> CheckedBatch:
        batch = CheckedBatch()
        kind, header, width, today = self.kind, self.header, len(self.header), self.today
        try:
            for row in self._reader:
                self.row_no += 1
                if len(row) != width:
                    if any(cell.strip() for cell in row):
                        reason = f"列数与表头不符：应为{width}列，实为{len(row)}列"
                        batch.rejected.append((self.row_no, row, reason))
                    continue
                checked = check_row(kind, dict(zip(header, row, strict=True)), today)
                batch.warnings.extend((self.row_no, warning) for warning in checked.warnings)
                values = checked.values
                if values is None:
                    if any(cell.strip() for cell in row):
                        batch.rejected.append((self.row_no, row, "；".join(checked.errors)))
                    continue
                earlier = self.guard.earlier(values.key, f"第{self.row_no}行")
                if earlier is not None:
                    batch.rejected.append((self.row_no, row, duplicate_reason(kind, earlier)))
                    continue
                batch.good.append(values.plain() if isinstance(values, RecordValues) else values)
                if len(batch.good) >= size:
                    return batch
        except csv.Error as error:
            batch.broken = (
                f"{csv_problem(error, self._reader.line_num)}，其后的行未处理（导入期间文件被改动）"
            )
        batch.more = False
        self._handle.close()
        return batch


_checker: BatchChecker | None = None


def start(path: Path, encoding: str, kind: IntakeKind, header: list[str]) -> None:
    """Worker initializer: open the file once for all batches."""
    global _checker
    _checker = BatchChecker(path, encoding, kind, header)


def next_batch(size: int) -> CheckedBatch:
    assert _checker is not None, "start() runs first, as the worker's initializer"
    return _checker.next_batch(size)
