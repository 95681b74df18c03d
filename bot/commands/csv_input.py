"""Opening a department's CSV file: which encoding it is in, and whether it can be used at all.

Departments export from Excel and old government systems, so files come in UTF-8 (often with
a BOM) or in GBK. The whole file is checked before the first row is imported: finding a byte
that fits neither encoding halfway through would leave half a file in the store.
"""

from __future__ import annotations

import codecs
from pathlib import Path

#: GB18030 is a superset of GBK (and of GB2312), so one decoder covers all three.
ENCODINGS = ("utf-8-sig", "gb18030")
_CHUNK = 1 << 20


class UnusableFileError(Exception):
    """A file that cannot be imported at all; `message` tells the department what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """The first of UTF-8 and GB18030 in which the whole file decodes."""
    if not path.is_file():
        raise UnusableFileError(f"找不到文件：{path}")
    if path.stat().st_size == 0:
        raise UnusableFileError(f"文件是空的：{path}")
    for encoding in ENCODINGS:
        if _decodes(path, encoding):
            return encoding
    raise UnusableFileError(
        "无法识别文件编码：请将文件另存为 UTF-8 或 GBK 编码的 CSV（如果是 Excel 文件，请先“另存为 CSV”）"
    )
