"""Verification of an issued report without the service: a PDF file or its signed JSON.

Needs only the published key set (a saved copy of /.well-known/creditbot-keys.json). A PDF
passes only if its PDF signature covers the whole file, chains to our CA, was made with the
certificate published for the key that signed the embedded content, and that content's Ed25519
signature is valid.

A JSON file is either the bare envelope (alg, content, key_id, signature) or the verification
page's JSON, which repeats content fields at the top. Every top-level field is checked against
the signed content, `valid` must be true, and a field that cannot be checked is refused, with
one exception said out loud: `sha256`, the PDF file's digest, is not in the signed content (the
content is embedded in the PDF before the PDF is signed, so it cannot carry the file's own
digest). A JSON file therefore cannot prove which PDF it belongs to, and the result says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from cryptography.hazmat.primitives import serialization
from pypdf import PdfReader

from core.keyring import PublishedKeys
from core.pdf_signing import PdfSignatureCheck, check_pdf_signature
from core.render import ATTACHMENT_NAME
from core.signing import SignedContent, envelope_from, parse_envelope, verify_content

NOT_A_REPORT = "文件不是有效的报告签名数据（不是本平台出具的报告 JSON，或内容已损坏）。"
UNREADABLE_PDF = "文件不是可读取的 PDF 或已损坏。"
SHA256_NOT_SIGNED = (
    "JSON 中的 sha256（PDF 文件的摘要）不在签名内容之内，JSON 无法证明它，本次未核验；"
    "已核验的是签名内容和与之一致的各字段。要核验 PDF 文件本身，请对 PDF 运行 creditbot verify，"
    "或在核验页面上传 PDF 比对。"
)
_ENVELOPE_FIELDS = frozenset({"alg", "content", "key_id", "signature"})
#: The verification page's JSON (bot.handlers.report_users.verification_json).
_PAGE_FIELDS = frozenset(
    {"report_no", "valid", "entity", "period", "domains", "issued_at", "sha256"} | _ENVELOPE_FIELDS
)


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: tuple[str, ...]
    signed: SignedContent | None
    #: What was checked: "pdf" (the whole file) or "json" (the signed content only).
    kind: str = "pdf"
    #: Limits of a passing verdict that the reader must be told, e.g. an unsigned `sha256`.
    notes: tuple[str, ...] = ()

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


def _page_problems(obj: dict[str, Any], content: dict[str, Any]) -> list[str]:
    """The page's top-level fields must be known, `valid` true, and each agree with the content."""
    unknown = sorted(set(obj) - _PAGE_FIELDS)
    if unknown:
        return [f"JSON 中含有无法核验的字段：{'、'.join(unknown)}。"]
    problems = []
    if obj.get("valid") is not True:
        problems.append(
            "JSON 中的 valid 不是 true（出具方判定报告无效，或该字段缺失、被改动），不能据此认定报告有效。"
        )
    expected = {
        "report_no": content.get("report_no"),
        "entity": {"uscc": content["entity"]["uscc"], "name": content["entity"]["name"]},
        "period": {"start": content["period"]["start"], "end": content["period"]["end"]},
        "domains": [d["name"] for d in content["domains"]],
        "issued_at": content.get("issued_at"),
    }
    wrong = [field for field, value in expected.items() if field in obj and obj[field] != value]
    if wrong:
        problems.append(f"JSON 中的字段与签名内容不一致：{'、'.join(wrong)}。")
    return problems


def verify_json(data: bytes, keys: PublishedKeys) -> Verification:
    try:
        obj = json.loads(data.decode("utf-8"))
        signed = envelope_from(obj)
        problems = _check_envelope(signed, keys)
        is_page = bool(set(obj) - _ENVELOPE_FIELDS)
        if not problems and is_page:
            problems = _page_problems(obj, signed.content)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, RecursionError):
        # The parser's own (English) wording means nothing to a counter clerk; the verdict does.
        # RecursionError: deeply nested input (say 100,000 brackets) exhausts json's recursion.
        return Verification(False, (NOT_A_REPORT,), None, "json")
    notes = (SHA256_NOT_SIGNED,) if "sha256" in obj else ()
    return Verification(not problems, tuple(problems), signed, "json", notes)


def _attachment(pdf: bytes) -> bytes | None:
    try:
        found = PdfReader(BytesIO(pdf)).attachments.get(ATTACHMENT_NAME)
    except Exception:  # pypdf raises many unrelated types (and RecursionError) for malformed input
        return None
    return found[0] if found else None


def _pdf_signature(pdf: bytes, keys: PublishedKeys) -> PdfSignatureCheck:
    try:
        return check_pdf_signature(pdf, [keys.ca_certificate])
    except Exception:  # what pyHanko's reader lets through on hostile nesting or broken tables
        return PdfSignatureCheck(False, (UNREADABLE_PDF,), None)


def verify_pdf(pdf: bytes, keys: PublishedKeys) -> Verification:
    check = _pdf_signature(pdf, keys)
    problems = list(check.problems)
    raw = _attachment(pdf)
    if raw is None:
        problems.append("PDF 中没有内嵌的报告签名数据。")
        return Verification(False, tuple(problems), None)
    try:
        signed = parse_envelope(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
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
