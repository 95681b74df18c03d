"""The PDF signature as PDF readers and our offline check see it."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pypdf import PdfReader

from bot.keys import KeyStore
from core.domains import domain_by_name
from core.offline_verify import verify_pdf
from core.pdf_signing import check_pdf_signature, sign_pdf
from core.periods import Period
from core.records import EntityInfo
from core.render import ATTACHMENT_NAME, html_to_pdf, render_html
from core.report import assemble_report, report_content
from core.signing import sign_content
from tests.report_support import USCC


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, KeyStore]:
    store = KeyStore(tmp_path_factory.mktemp("data"))
    store.ensure()
    material = store.signing_material()
    entity = EntityInfo(uscc=USCC, name="泽州县金鼎矿业有限公司", entity_type="企业", legal_rep="李卫东")
    report = assemble_report(
        entity,
        [],
        Period(date(2024, 1, 1), date(2024, 12, 31)),
        [domain_by_name("税务")],
        report_no="SX202511200000017",
        issued_at=datetime(2025, 11, 20, tzinfo=UTC),
    )
    envelope = sign_content(material.content_key(), report_content(report)).envelope_json()
    html = render_html(report, code="K7HP3WXA", base_url="https://xy.example.cn")
    return sign_pdf(html_to_pdf(html, envelope), material.identity()), store


def test_poppler_reports_the_signature_valid_over_the_whole_file(signed, tmp_path: Path) -> None:
    pdf, _ = signed
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", "-nocert", str(path)], capture_output=True, text=True, check=False).stdout
    assert "Total document signed" in out
    assert "Signature Validation: Signature is Valid." in out
    assert "creditbot 报告签名密钥" in out


def test_an_incremental_update_after_signing_is_rejected(signed) -> None:
    pdf, store = signed
    keys = store.published()
    assert verify_pdf(pdf, keys).ok
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    info = writer.root  # an innocent-looking change: a new catalog entry in a new revision
    info[generic.NameObject("/Lang")] = generic.TextStringObject("en")
    writer.update_root()
    out = BytesIO()
    writer.write(out)
    updated = out.getvalue()
    assert updated.startswith(pdf)
    result = verify_pdf(updated, keys)
    assert not result.ok
    assert any("未覆盖整个文件" in p for p in result.problems)


def test_a_foreign_ca_is_not_trusted(signed, tmp_path: Path) -> None:
    pdf, _ = signed
    other = KeyStore(tmp_path)
    other.ensure()
    check = check_pdf_signature(pdf, [other.published().ca_certificate])
    assert not check.ok and any("根证书" in p for p in check.problems)


def test_signing_keeps_metadata_and_the_signed_attachment(signed) -> None:
    pdf, store = signed
    reader = PdfReader(BytesIO(pdf))
    assert reader.metadata is not None
    assert reader.metadata.title == "专项信用报告 SX202511200000017"
    assert reader.metadata.creator == "creditbot 专项信用报告服务"
    assert "泽州县金鼎矿业有限公司" in (reader.metadata.subject or "")
    envelope = json.loads(reader.attachments[ATTACHMENT_NAME][0])
    assert envelope["key_id"] == store.current_key_id()
    assert envelope["content"]["report_no"] == "SX202511200000017"
