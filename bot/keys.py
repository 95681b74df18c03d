"""The service's signing keys and CA, kept in the data directory.

Created on first start so a fresh deployment signs at once; private keys are written with
mode 0600 and never leave this module except as the signing identity. Rotation adds a key and
keeps every earlier one published, so reports signed years ago still verify.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.certs import cert_pem, make_ca, make_leaf
from core.keyring import PublishedKey, PublishedKeys
from core.pdf_signing import PdfSigningIdentity
from core.signing import key_id

KEYS_DIR = "keys"
_CA_KEY = "ca.key"
_CA_CERT = "ca.pem"
_CURRENT = "current"
_LOCK = ".lock"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_private(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


@dataclass(frozen=True)
class SigningMaterial:
    """The current key as picklable bytes, for render workers in other processes."""

    key_pem: bytes
    cert_pem: bytes
    ca_cert_pem: bytes

    def identity(self) -> PdfSigningIdentity:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return PdfSigningIdentity(
            key=key,
            certificate=x509.load_pem_x509_certificate(self.cert_pem),
            ca_certificate=x509.load_pem_x509_certificate(self.ca_cert_pem),
        )


class KeyStore:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / KEYS_DIR

    def _ca(self) -> tuple[Ed25519PrivateKey, x509.Certificate]:
        return (
            _load_private(self.dir / _CA_KEY),
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
                ca_key = Ed25519PrivateKey.generate()
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
        key = Ed25519PrivateKey.generate()
        kid = key_id(key.public_key())
        _write_private(self.dir / f"signing-{kid}.key", _private_pem(key))
        leaf = make_leaf(ca_key, ca_cert, key.public_key(), now)
        _write_public(self.dir / f"signing-{kid}.pem", cert_pem(leaf).encode("ascii"))
        _write_public(self.dir / _CURRENT, kid.encode("ascii"))
        return kid

    def current_key_id(self) -> str:
        return (self.dir / _CURRENT).read_text("ascii").strip()

    def signing_material(self) -> SigningMaterial:
        kid = self.current_key_id()
        return SigningMaterial(
            key_pem=(self.dir / f"signing-{kid}.key").read_bytes(),
            cert_pem=(self.dir / f"signing-{kid}.pem").read_bytes(),
            ca_cert_pem=(self.dir / _CA_CERT).read_bytes(),
        )

    def published(self) -> PublishedKeys:
        current = self.current_key_id()
        keys = []
        for path in sorted(self.dir.glob("signing-*.pem")):
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            public = cert.public_key()
            keys.append(
                PublishedKey(
                    key_id=key_id(public),  # type: ignore[arg-type]
                    public_key=public,  # type: ignore[arg-type]
                    certificate=cert,
                    created_at=cert.not_valid_before_utc.isoformat(),
                    current=key_id(public) == current,  # type: ignore[arg-type]
                )
            )
        keys.sort(key=lambda k: (k.created_at, k.key_id))
        return PublishedKeys(ca_certificate=self._ca()[1], keys=tuple(keys))
