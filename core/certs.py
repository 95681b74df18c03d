"""The service's own certificate authority and the certificates of its PDF-signing keys.

PDF readers show a signature only through an X.509 chain, so each signing key set gets a
certificate from a CA that the service publishes next to its public keys. The PDF layer uses
ECDSA P-256: Adobe Acrobat and poppler (Evince, Okular, pdfsig) verify ECDSA and RSA PDF
signatures but report Ed25519 ones as corrupt, so Ed25519 stays with the content signature.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ec import (
    SECP256R1,
    EllipticCurvePrivateKey,
    EllipticCurvePublicKey,
    generate_private_key,
)
from cryptography.x509.oid import NameOID

ORGANIZATION = "creditbot 专项信用报告服务"
CA_YEARS = 30
LEAF_YEARS = 20


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "山西省"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def new_ecdsa_key() -> EllipticCurvePrivateKey:
    return generate_private_key(SECP256R1())


def make_ca(ca_key: EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = _name("creditbot 报告签发根证书")
    public = ca_key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def make_leaf(
    ca_key: EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    public: EllipticCurvePublicKey,
    kid: str,
    now: datetime,
) -> x509.Certificate:
    """A PDF-signing certificate named after the content key id it travels with."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name(f"creditbot 报告签名密钥 {kid}"))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * LEAF_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_cert_pem(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))
