"""The service's signing keys and CA, kept in the data directory.

Created on first start so a fresh deployment signs at once; private keys are written with
mode 0600 and never leave this module except as signing material. Each key set, named by its
key id, is an Ed25519 key for the content signature plus an ECDSA P-256 key and certificate for
the PDF signature (see `core.certs` for why two). Rotation adds a set and keeps every earlier
one published, so reports signed years ago still verify.

Files: ca.key/ca.pem, and per key id: content-<kid>.key/.pub, pdf-<kid>.key/.pem; `current`.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.certs import cert_pem, make_ca, make_leaf, new_ecdsa_key
from core.keyring import PublishedKey, PublishedKeys
from core.pdf_signing import PdfSigningIdentity
from core.signing import key_id

KEYS_DIR = "keys"
_CA_KEY = "ca.key"
_CA_CERT = "ca.pem"
_CURRENT = "current"
_LOCK = ".lock"
_K = TypeVar("_K", Ed25519PrivateKey, EllipticCurvePrivateKey)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _private_pem(key: Ed25519PrivateKey | EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _load_private(pem: bytes, kind: type[_K]) -> _K:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, kind):
        raise ValueError(f"expected a {kind.__name__}")
    return key


@dataclass(frozen=True)
class SigningMaterial:
    """The current key set as picklable bytes, for render workers in other processes."""

    content_key_pem: bytes
    pdf_key_pem: bytes
    cert_pem: bytes
    ca_cert_pem: bytes

    def content_key(self) -> Ed25519PrivateKey:
        return _load_private(self.content_key_pem, Ed25519PrivateKey)

    def identity(self) -> PdfSigningIdentity:
        return PdfSigningIdentity(
            key=_load_private(self.pdf_key_pem, EllipticCurvePrivateKey),
            certificate=x509.load_pem_x509_certificate(self.cert_pem),
            ca_certificate=x509.load_pem_x509_certificate(self.ca_cert_pem),
        )


class KeyStore:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / KEYS_DIR

    def _ca(self) -> tuple[EllipticCurvePrivateKey, x509.Certificate]:
        return (
            _load_private((self.dir / _CA_KEY).read_bytes(), EllipticCurvePrivateKey),
            x509.load_pem_x509_certificate((self.dir / _CA_CERT).read_bytes()),
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Several service processes may start at once on a fresh data directory: one creates."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        with (self.dir / _LOCK).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def ensure(self, now: datetime | None = None) -> None:
        """Create the CA and a first signing key unless they exist."""
        now = now or datetime.now(UTC)
        with self._locked():
            if not (self.dir / _CA_CERT).exists():
                ca_key = new_ecdsa_key()
                _write_private(self.dir / _CA_KEY, _private_pem(ca_key))
                _write_public(self.dir / _CA_CERT, cert_pem(make_ca(ca_key, now)).encode("ascii"))
            if not (self.dir / _CURRENT).exists():
                self._rotate(now)

    def rotate(self, now: datetime | None = None) -> str:
        """Make a new current key; earlier keys stay on disk and stay published."""
        with self._locked():
            return self._rotate(now or datetime.now(UTC))

    def _rotate(self, now: datetime) -> str:
        ca_key, ca_cert = self._ca()
        content_key = Ed25519PrivateKey.generate()
        pdf_key = new_ecdsa_key()
        kid = key_id(content_key.public_key())
        _write_private(self.dir / f"content-{kid}.key", _private_pem(content_key))
        _write_public(self.dir / f"content-{kid}.pub", _public_pem(content_key.public_key()))
        _write_private(self.dir / f"pdf-{kid}.key", _private_pem(pdf_key))
        leaf = make_leaf(ca_key, ca_cert, pdf_key.public_key(), kid, now)
        _write_public(self.dir / f"pdf-{kid}.pem", cert_pem(leaf).encode("ascii"))
        _write_public(self.dir / _CURRENT, kid.encode("ascii"))
        return kid

    def current_key_id(self) -> str:
        return (self.dir / _CURRENT).read_text("ascii").strip()

    def signing_material(self) -> SigningMaterial:
        kid = self.current_key_id()
        return SigningMaterial(
            content_key_pem=(self.dir / f"content-{kid}.key").read_bytes(),
            pdf_key_pem=(self.dir / f"pdf-{kid}.key").read_bytes(),
            cert_pem=(self.dir / f"pdf-{kid}.pem").read_bytes(),
            ca_cert_pem=(self.dir / _CA_CERT).read_bytes(),
        )

    def published(self) -> PublishedKeys:
        current = self.current_key_id()
        keys = []
        for path in sorted(self.dir.glob("content-*.pub")):
            public = serialization.load_pem_public_key(path.read_bytes())
            if not isinstance(public, Ed25519PublicKey):
                raise ValueError(f"{path} is not an Ed25519 public key")
            kid = key_id(public)
            cert = x509.load_pem_x509_certificate((self.dir / f"pdf-{kid}.pem").read_bytes())
            keys.append(
                PublishedKey(
                    key_id=kid,
                    public_key=public,
                    certificate=cert,
                    created_at=cert.not_valid_before_utc.isoformat(),
                    current=kid == current,
                )
            )
        keys.sort(key=lambda k: (k.created_at, k.key_id))
        return PublishedKeys(ca_certificate=self._ca()[1], keys=tuple(keys))
