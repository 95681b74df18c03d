"""The published key set: what a verifier needs, and nothing secret.

The same document is served at /.well-known/creditbot-keys.json and read by offline
verification, so a saved copy of it is enough to verify a report without the service.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from core.certs import cert_pem, load_cert_pem
from core.signing import ALGORITHM, key_id, public_key_bytes


@dataclass(frozen=True)
class PublishedKey:
    key_id: str
    public_key: Ed25519PublicKey
    certificate: x509.Certificate
    created_at: str
    current: bool


@dataclass(frozen=True)
class PublishedKeys:
    ca_certificate: x509.Certificate
    keys: tuple[PublishedKey, ...]

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {k.key_id: k.public_key for k in self.keys}

    def to_json(self) -> dict[str, Any]:
        return {
            "issuer": "creditbot",
            "ca_certificate": cert_pem(self.ca_certificate),
            "keys": [
                {
                    "key_id": k.key_id,
                    "alg": ALGORITHM,
                    "public_key": base64.b64encode(public_key_bytes(k.public_key)).decode("ascii"),
                    "certificate": cert_pem(k.certificate),
                    "created_at": k.created_at,
                    "status": "current" if k.current else "retired",
                }
                for k in self.keys
            ],
        }


def parse_published_keys(data: bytes) -> PublishedKeys:
    """Parse and self-check a key set: a key id that does not match its key is rejected."""
    obj = json.loads(data.decode("utf-8"))
    keys = []
    for entry in obj["keys"]:
        if entry.get("alg") != ALGORITHM:
            continue
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(entry["public_key"]))
        if key_id(public) != entry["key_id"]:
            raise ValueError(f"key id {entry['key_id']} does not match its public key")
        keys.append(
            PublishedKey(
                key_id=entry["key_id"],
                public_key=public,
                certificate=load_cert_pem(entry["certificate"]),
                created_at=entry.get("created_at", ""),
                current=entry.get("status") == "current",
            )
        )
    return PublishedKeys(ca_certificate=load_cert_pem(obj["ca_certificate"]), keys=tuple(keys))
