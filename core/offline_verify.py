"""Verification of an issued report without the service: a PDF file or its signed JSON.

Needs only the published key set (a saved copy of /.well-known/creditbot-keys.json). A PDF
passes only if its PDF signature covers the whole file, chains to our CA, was made with the
certificate published for the key that signed the embedded content, and that content's Ed25519
signature is valid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from cryptography.hazmat.primitives import serialization
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from core.keyring import PublishedKeys
from core.pdf_signing import check_pdf_signature
from core.render import ATTACHMENT_NAME
from core.signing import SignedContent, parse_envelope, verify_content


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: tuple[str, ...]
    signed: SignedContent | None

    @property
    def content(self) -> dict[str, Any] | None:
        return self.signed.content if self.signed else None


def _check_envelope(signed: SignedContent, keys: PublishedKeys) -> list[str]:
    public_keys = keys.public_keys()
    if signed.key_id not in public_keys:
        return [f"签名密钥 {signed.key_id} 不在本服务公布的密钥中。"]
    if not verify_content(public_keys, signed.key_id, signed.signature, signed.content):
        return ["报告数据的签名无效：内容已被修改。"]
    return []


def _summary_mismatches(obj: dict[str, Any], content: dict[str, Any]) -> list[str]:
    """The verification page's JSON repeats content fields at the top; they must agree with it."""
    expected = {
        "report_no": content.get("report_no"),
        "entity": {"uscc": content["entity"]["uscc"], "name": content["entity"]["name"]},
        "period": {"start": content["period"]["start"], "end": content["period"]["end"]},
        "domains": [d["name"] for d in content["domains"]],
        "issued_at": content.get("issued_at"),
    }
    wrong = [field for field, value in expected.items() if field in obj and obj[field] != value]
    return [f"JSON 中的字段与签名内容不一致：{'、'.join(wrong)}。"] if wrong else []


def verify_json(data: bytes, keys: PublishedKeys) -> Verification:
    try:
        signed = parse_envelope(data)
        problems = _check_envelope(signed, keys)
        if not problems:
            problems = _summary_mismatches(json.loads(data), signed.content)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        # The parser's own (English) wording means nothing to a counter clerk; the verdict does.
        reason = "文件不是有效的报告签名数据（不是本平台出具的报告 JSON，或内容已损坏）。"
        return Verification(False, (reason,), None)
    return Verification(not problems, tuple(problems), signed)


def _attachment(pdf: bytes) -> bytes | None:
    try:
        found = PdfReader(BytesIO(pdf)).attachments.get(ATTACHMENT_NAME)
    except (PyPdfError, ValueError, KeyError, TypeError):
        return None
    return found[0] if found else None


def verify_pdf(pdf: bytes, keys: PublishedKeys) -> Verification:
    check = check_pdf_signature(pdf, [keys.ca_certificate])
    problems = list(check.problems)
    raw = _attachment(pdf)
    if raw is None:
        problems.append("PDF 中没有内嵌的报告签名数据。")
        return Verification(False, tuple(problems), None)
    try:
        signed = parse_envelope(raw)
    except (ValueError, UnicodeDecodeError):
        problems.append("PDF 内嵌的报告签名数据已损坏。")
        return Verification(False, tuple(problems), None)
    problems.extend(_check_envelope(signed, keys))
    published = {k.key_id: k for k in keys.keys}.get(signed.key_id)
    if check.signer_public_key is not None and published is not None:
        expected = published.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if expected != check.signer_public_key:
            problems.append("PDF 签名证书与报告数据的签名密钥不属于同一密钥组。")
    return Verification(not problems, tuple(problems), signed)


def verify_file(data: bytes, keys: PublishedKeys) -> Verification:
    """Dispatch on content rather than file name: a renamed file is still checked properly."""
    if data.lstrip()[:5] == b"%PDF-":
        return verify_pdf(data, keys)
    return verify_json(data, keys)
