"""Folding what people type: the one place that decides how full-width forms and spaces are read.

Chinese keyboards and phones produce full-width digits, letters and brackets (１２３, ＡＢＣ,
（）); NFKC folds them to their ASCII forms. Matchers that report where in a message they found
something fold one character at a time, so positions stay those of the original text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

#: The catalogue writes 应急管理（安全生产） with full-width brackets, which NFKC would turn into ASCII.
FULL_WIDTH_BRACKETS = {"(": "（", ")": "）"}


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def compact(text: str) -> str:
    """Folded, without any whitespace, upper-case: how codes and ID numbers are compared."""
    return "".join(fold(text).split()).upper()


def fold_keeping_positions(text: str, restore: Mapping[str, str] | None = None) -> str:
    """`fold` one character for one (a character NFKC would expand is kept as it is);
    `restore` maps folded characters back where the caller's vocabulary wants the original."""
    restore = restore or {}
    out = []
    for char in text:
        folded = unicodedata.normalize("NFKC", char)
        out.append(restore.get(folded, folded) if len(folded) == 1 else char)
    return "".join(out)
