"""Report numbers and verification codes.

The number is printed and spoken at service windows, so it carries a check character that
catches a mistyped digit; the code is the secret a holder hands to a verifier, so it is random
and drawn from characters that cannot be confused when read off paper.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date

from core.uscc import ALPHABET

#: Check-character alphabet: the USCC one (no I, O, S, V, Z).
_CHECK_ALPHABET = ALPHABET
#: Verification-code alphabet: no 0/O, 1/I/L, 2/Z, 5/S, 8/B look-alikes.
CODE_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 8
PREFIX = "SX"
MAX_SEQUENCE = 999_999

_NUMBER_RE = re.compile(r"^SX(\d{8})(\d{6})([0-9A-Z])$")


def _check_char(digits: str) -> str:
    """Luhn mod N over the digits: detects every single substitution and adjacent swap."""
    n = len(_CHECK_ALPHABET)
    factor = 2
    total = 0
    for char in reversed(digits):
        addend = factor * int(char)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return _CHECK_ALPHABET[(n - total % n) % n]


def make_report_no(day: date, sequence: int) -> str:
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence out of range: {sequence}")
    digits = f"{day:%Y%m%d}{sequence:06d}"
    return f"{PREFIX}{digits}{_check_char(digits)}"


def normalize_report_no(text: str) -> str:
    return "".join(text.split()).upper()


def is_valid_report_no(text: str) -> bool:
    match = _NUMBER_RE.match(text)
    if not match:
        return False
    digits = match.group(1) + match.group(2)
    return _check_char(digits) == match.group(3)


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """Codes are read off paper: ignore case, spaces and the dash people add in the middle."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")


@dataclass(frozen=True)
class ReportLinks:
    """Where a holder downloads, a verifier checks, and a chat client fetches the QR image."""

    report_no: str
    pdf_url: str
    verify_url: str
    qr_url: str


def verify_url(base_url: str, report_no: str, code: str) -> str:
    """The verification page, as the QR code on the report encodes it."""
    return f"{base_url.rstrip('/')}/v/{report_no}?code={code}"


def report_links(base_url: str, report_no: str, code: str) -> ReportLinks:
    base = base_url.rstrip("/")
    query = f"?code={code}"
    return ReportLinks(
        report_no=report_no,
        pdf_url=f"{base}/r/{report_no}.pdf{query}",
        verify_url=verify_url(base, report_no, code),
        qr_url=f"{base}/v/{report_no}/qr.svg{query}",
    )
