"""Canonical JSON and Ed25519 signatures over a report's content.

Canonical form (sorted keys, UTF-8, no whitespace, ISO dates) makes the signature a property
of the content rather than of one serialiser, so anyone can re-serialise and verify.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "Ed25519"


def _iso(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_iso).encode(
        "utf-8"
    )


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """Short, stable name for a public key so a signature says which published key checks it."""
    return hashlib.sha256(public_key_bytes(key)).hexdigest()[:16]


@dataclass(frozen=True)
class SignedContent:
    content: dict[str, Any]
    key_id: str
    signature: str  # base64 of the 64-byte Ed25519 signature

    def envelope(self) -> dict[str, Any]:
        return {
            "alg": ALGORITHM,
            "content": self.content,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    def envelope_json(self) -> bytes:
        return canonical_json(self.envelope())


def sign_content(private_key: Ed25519PrivateKey, content: dict[str, Any]) -> SignedContent:
    # Round-trip through canonical JSON so the stored content is exactly what was signed.
    payload = canonical_json(content)
    signature = private_key.sign(payload)
    return SignedContent(
        content=json.loads(payload),
        key_id=key_id(private_key.public_key()),
        signature=base64.b64encode(signature).decode("ascii"),
    )


def verify_content(
    public_keys: Mapping[str, Ed25519PublicKey], kid: str, signature: str, content: Any
) -> bool:
    key = public_keys.get(kid)
    if key is None:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, canonical_json(content))
    except (InvalidSignature, ValueError):
        return False
    return True


def parse_envelope(data: bytes) -> SignedContent:
    """Read an envelope (or the verification page's JSON, which carries the same three fields)."""
    return envelope_from(json.loads(data.decode("utf-8")))


def envelope_from(obj: Any) -> SignedContent:
    """The envelope in an already parsed JSON value; ValueError when it is none."""
    if not isinstance(obj, dict) or not all(k in obj for k in ("content", "key_id", "signature")):
        raise ValueError("not a signed report envelope")
    if obj.get("alg", ALGORITHM) != ALGORITHM:
        raise ValueError(f"unsupported algorithm: {obj.get('alg')}")
    return SignedContent(content=obj["content"], key_id=obj["key_id"], signature=obj["signature"])
