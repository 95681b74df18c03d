"""居民身份证号码 checks per GB 11643-1999.

The identity dialog asks for the last six characters of the legal representative's ID number,
so a mistyped number at intake would lock the real owner out; the check digit catches most
slips before the number is hashed and can no longer be looked at.
"""

from __future__ import annotations

import re

from core.personal_data import normalize_id_number

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK = "10X98765432"
_SHAPE = re.compile(r"\d{17}[\dX]")


def check_digit(first17: str) -> str:
    total = sum(int(char) * weight for char, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def make_resident_id(first17: str) -> str:
    return first17 + check_digit(first17)


def is_valid_resident_id(text: str) -> bool:
    """18 characters, 17 digits and a matching check character (digit or X)."""
    number = normalize_id_number(text)
    return bool(_SHAPE.fullmatch(number)) and check_digit(number[:17]) == number[17]
