"""Canonical JSON is stable, and any change to signed content fails verification."""

from __future__ import annotations

import json
from datetime import date

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.signing import canonical_json, key_id, parse_envelope, sign_content, verify_content

CONTENT = {"report_no": "SX202511200000017", "entity": {"name": "泽州县金鼎矿业有限公司"}, "n": [1, 2]}


def test_canonical_json_sorted_compact_utf8_iso_dates() -> None:
    value = {"b": 1, "a": {"d": date(2024, 2, 29), "c": "晋"}}
    assert canonical_json(value) == '{"a":{"c":"晋","d":"2024-02-29"},"b":1}'.encode()


def test_sign_and_verify_with_key_id() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_content(key, CONTENT)
    assert signed.key_id == key_id(key.public_key()) and len(signed.key_id) == 16
    keys = {signed.key_id: key.public_key()}
    assert verify_content(keys, signed.key_id, signed.signature, signed.content)
    assert not verify_content({}, signed.key_id, signed.signature, signed.content)
    other = Ed25519PrivateKey.generate().public_key()
    assert not verify_content({signed.key_id: other}, signed.key_id, signed.signature, signed.content)


#: Of the 239 bytes from "content" on, flipping the lowest bit leaves 176 readable envelopes (the
#: rest break the JSON or the UTF-8): each of those must fail the signature check.
VERIFIED_FLIPS = 176


def test_every_changed_byte_of_the_envelope_fails() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_content(key, CONTENT)
    keys = {signed.key_id: key.public_key()}
    raw = signed.envelope_json()
    assert verify_content(keys, **_fields(parse_envelope(raw)))
    start = raw.index(b'"content"')
    verified = unreadable = 0
    for position in range(start, len(raw)):
        changed = bytearray(raw)
        changed[position] ^= 0x01
        try:
            envelope = parse_envelope(bytes(changed))
        except (ValueError, UnicodeDecodeError):
            unreadable += 1
            continue
        assert json.loads(bytes(changed)) != json.loads(raw), position
        assert not verify_content(keys, **_fields(envelope)), position
        verified += 1
    # Most flips still give a readable envelope: those are the ones the signature has to catch.
    assert (verified, unreadable) == (VERIFIED_FLIPS, len(raw) - start - VERIFIED_FLIPS)


def _fields(envelope) -> dict:
    return {"kid": envelope.key_id, "signature": envelope.signature, "content": envelope.content}
