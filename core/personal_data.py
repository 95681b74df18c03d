"""Personal data handling: keyed hashes and masks, so ID numbers and phones never travel in clear."""

from __future__ import annotations

import hashlib
import hmac
import re

from core.text import compact


def normalize_id_number(id_number: str) -> str:
    """ID numbers arrive with full-width digits, spaces and a lower-case x check character."""
    return compact(id_number)


def keyed_hash(secret: bytes, value: str) -> str:
    """HMAC-SHA256: without the service secret nobody can brute-force the small ID space."""
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


def id_number_hash(secret: bytes, id_number: str) -> str:
    return keyed_hash(secret, "id:" + normalize_id_number(id_number))


def id_tail_hash(secret: bytes, id_number_or_tail: str) -> str:
    """Hash of the last six characters, which the identity dialog asks for."""
    return keyed_hash(secret, "tail6:" + normalize_id_number(id_number_or_tail)[-6:])


def mask_phone(phone: str) -> str:
    """138****1234: enough for the owner to recognise the number, useless to anyone else."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_id_number(last4: str) -> str:
    return "**************" + last4


_ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx](?![0-9A-Za-z])")
_PHONE_PATTERN = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def redact(text: str) -> str:
    """Mask anything that looks like a resident ID number or a mobile number (for logs)."""
    text = _ID_PATTERN.sub(lambda m: mask_id_number(m.group(0)[-4:]), text)
    return _PHONE_PATTERN.sub(lambda m: mask_phone(m.group(0)), text)
