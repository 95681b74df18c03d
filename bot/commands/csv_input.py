"""Opening a department's CSV file: which encoding it is in, and whether it can be used at all.

Departments export from Excel and old government systems, so files come in UTF-8 (often with
a BOM) or in GBK. The whole file is read once before the first row is imported, decoded and
split into CSV rows: a byte that fits neither encoding, or a line that is not CSV (a cell over
the csv module's field size limit, say), found halfway through would otherwise leave half a
file in the store. Rows that are CSV but break the intake rules are a different matter: they
are refused one by one while the others are imported.
"""

from __future__ import annotations

import csv
from collections import deque
from pathlib import Path

#: GB18030 is a superset of GBK (and of GB2312), so one decoder covers all three.
ENCODINGS = ("utf-8-sig", "gb18030")


class UnusableFileError(Exception):
    """A file that cannot be imported at all; `message` tells the department what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def csv_problem(error: csv.Error, line: int) -> str:
    """Where and why a file stops being CSV, in words a department can act on."""
    if "field larger than field limit" in str(error):
        why = f"有单元格超过 {csv.field_size_limit():,} 个字符"
    else:
        why = f"格式错误：{error}"
    return f"第{line}行无法按 CSV 解析（{why}）"


def _csv_problem(path: Path, encoding: str) -> str | None:
    """Decode and split the whole file; the first structural problem, if any.

    Raises UnicodeDecodeError when the file is not in `encoding` before that problem.
    """
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        try:
            deque(reader, maxlen=0)  # consume in C: rows are only parsed here, not kept
        except csv.Error as error:
            return csv_problem(error, reader.line_num)
    return None


def check_file(path: Path) -> str:
    """The first of UTF-8 and GB18030 in which the whole file decodes and parses as CSV.

    A GBK file fails its UTF-8 reading on the header already (Chinese column names), long
    before any CSV problem could show, so the first structural problem met is the file's own.
    """
    if not path.is_file():
        raise UnusableFileError(f"找不到文件：{path}")
    if path.stat().st_size == 0:
        raise UnusableFileError(f"文件是空的：{path}")
    for encoding in ENCODINGS:
        try:
            problem = _csv_problem(path, encoding)
        except UnicodeDecodeError:
            continue
        if problem is not None:
            raise UnusableFileError(f"{problem}。整个文件均未导入，请修正后重新导入")
        return encoding
    raise UnusableFileError(
        "无法识别文件编码：请将文件另存为 UTF-8 或 GBK 编码的 CSV（如果是 Excel 文件，请先“另存为 CSV”）"
    )
