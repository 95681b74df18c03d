"""PAdES signature over the whole PDF, and its validation.

The signature makes any PDF reader show the report as signed by the service, and lets
`creditbot verify` reject a file with even one changed byte or anything appended after signing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from io import BytesIO

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

FIELD_NAME = "CreditbotReportSignature"

log = logging.getLogger(__name__)


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class PdfSigningIdentity:
    """Everything needed to sign: the leaf key, its certificate and the chain up to our CA."""

    key: EllipticCurvePrivateKey
    certificate: x509.Certificate
    ca_certificate: x509.Certificate

    def signer(self) -> signers.SimpleSigner:
        der_key = self.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return signers.SimpleSigner(
            signing_cert=_asn1_cert(self.certificate),
            signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
            cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(self.ca_certificate)]),
        )


def sign_pdf(pdf: bytes, identity: PdfSigningIdentity) -> bytes:
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason="专项信用报告签发",
        location="山西省",
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    out = BytesIO()
    signers.sign_pdf(writer, meta, signer=identity.signer(), output=out)
    return out.getvalue()


@dataclass(frozen=True)
class PdfSignatureCheck:
    ok: bool
    problems: tuple[str, ...]
    signer_public_key: bytes | None


def check_pdf_signature(pdf: bytes, trust_roots: list[x509.Certificate]) -> PdfSignatureCheck:
    """Intact, trusted, and covering every byte of the file; problems are in Chinese."""
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        embedded = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        log.info("unreadable PDF: %s", exc)
        return PdfSignatureCheck(False, ("文件不是可读取的 PDF 或已损坏。",), None)
    if len(embedded) != 1:
        return PdfSignatureCheck(False, (f"PDF 应含一个签名，实际为 {len(embedded)} 个。",), None)
    sig = embedded[0]
    context = ValidationContext(trust_roots=[_asn1_cert(c) for c in trust_roots], allow_fetching=False)
    try:
        status = validate_pdf_signature(sig, signer_validation_context=context)
    except Exception as exc:  # pyHanko raises many unrelated types for malformed input
        log.info("PDF signature validation failed: %s", exc)
        return PdfSignatureCheck(False, ("PDF 签名无法验证，文件可能已被篡改。",), None)
    problems = []
    if not status.intact or not status.valid:
        problems.append("PDF 签名与文件内容不符，文件已被篡改。")
    if not status.trusted:
        problems.append("PDF 签名证书不是由本服务的根证书签发。")
    if status.coverage is not SignatureCoverageLevel.ENTIRE_FILE:
        problems.append("PDF 签名未覆盖整个文件（签名后文件被追加或修改）。")
    signer_key = status.signing_cert.public_key.dump() if status.signing_cert else None
    return PdfSignatureCheck(not problems, tuple(problems), signer_key)
