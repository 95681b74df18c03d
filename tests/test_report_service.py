"""Issuing through the real service, and everything a holder or verifier does with the result."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import aiohttp
import pytest

from bot.app import create_app
from bot.appkeys import ENGINE, SESSIONS
from bot.config import Settings
from bot.reports import REPORTS
from core.domains import domain_by_name
from core.keyring import parse_published_keys
from core.offline_verify import Verification, verify_file
from core.periods import Period
from core.records import RecordKind
from core.report import FalseCommitmentError
from core.report_identity import is_valid_report_no, make_report_no
from core.uscc import make_uscc
from tests.report_support import USCC, pdf_text, record, store_entity, store_records

DOMAINS = [domain_by_name("应急管理（安全生产）"), domain_by_name("生态环境")]
UNKNOWN_NO = make_report_no(date(2024, 1, 1), 1)
NOT_A_REPORT = "文件不是有效的报告签名数据（不是本平台出具的报告 JSON，或内容已损坏）。"
VERIFY_KEYS = {
    "report_no",
    "valid",
    "entity",
    "period",
    "domains",
    "issued_at",
    "sha256",
    "key_id",
    "signature",
    "content",
}


@pytest.fixture
async def client(aiohttp_client, settings: Settings):
    app = create_app(settings)
    client = await aiohttp_client(app)
    await store_entity(app[ENGINE])
    await store_records(
        app[SESSIONS],
        [
            record(RecordKind.PENALTY, 9, "泽应急罚〔2024〕7号", date(2024, 3, 5)),
            record(RecordKind.PENALTY, 5, "晋市环罚〔2021〕3号", date(2021, 3, 5)),
        ],
    )
    return client


async def offline(data: bytes, keys) -> Verification:
    """pyHanko's synchronous validation runs its own event loop, so keep it off the test's loop."""
    return await asyncio.to_thread(verify_file, data, keys)


async def _issue(client):
    return await client.app[REPORTS].issue(USCC, Period(date(2024, 1, 1), date(2024, 12, 31)), DOMAINS)


async def test_issued_report_is_stored_and_downloads_identically(client, settings: Settings) -> None:
    issued = await _issue(client)
    row = issued.row
    assert is_valid_report_no(row.report_no)
    text = "".join(pdf_text(issued.pdf))
    assert row.report_no in text and row.verify_code in text and "泽应急罚〔2024〕7号" in text
    assert "晋市环罚〔2021〕3号" not in text  # outside the period
    first = await client.get(f"/r/{row.report_no}.pdf", params={"code": row.verify_code})
    second = await client.get(f"/r/{row.report_no}.pdf", params={"code": row.verify_code.lower()})
    assert first.status == second.status == 200
    assert await first.read() == await second.read() == issued.pdf
    stored = list((settings.data_dir / "reports").rglob("*.pdf"))
    assert [p.read_bytes() for p in stored] == [issued.pdf]
    again = await _issue(client)
    assert again.row.report_no != row.report_no and again.row.verify_code != row.verify_code


async def test_one_request_id_issues_one_report_even_when_two_calls_race(client, settings: Settings) -> None:
    service = client.app[REPORTS]
    period = (USCC, Period(date(2024, 1, 1), date(2024, 12, 31)), DOMAINS)
    first, second = await asyncio.gather(
        service.issue(*period, request_id="confirm-42"), service.issue(*period, request_id="confirm-42")
    )
    again = await service.issue(*period, request_id="confirm-42")
    assert first.row.report_no == second.row.report_no == again.row.report_no
    assert first.pdf == second.pdf == again.pdf
    assert len(list((settings.data_dir / "reports").rglob("*.pdf"))) == 1
    other = await service.issue(*period, request_id="confirm-43")
    assert other.row.report_no != first.row.report_no


async def test_verification_json_page_and_not_found(client) -> None:
    row = (await _issue(client)).row
    url = f"/v/{row.report_no}"
    response = await client.get(url, params={"code": row.verify_code}, headers={"Accept": "application/json"})
    body = await response.json()
    assert set(body) == VERIFY_KEYS
    assert body["valid"] is True
    assert body["entity"] == {"uscc": USCC, "name": "泽州县金鼎矿业有限公司"}
    assert body["period"] == {"start": "2024-01-01", "end": "2024-12-31"}
    assert body["domains"] == ["生态环境", "应急管理（安全生产）"]
    assert body["sha256"] == row.pdf_sha256 and body["key_id"] == row.key_id

    page = await client.get(url, params={"code": row.verify_code})
    html = await page.text()
    assert page.status == 200 and "报告真实有效" in html and "泽州县金鼎矿业有限公司" in html
    assert "查询到违法违规记录1条" in html and "未查询到违法违规记录" in html

    answers = []
    for number, code in [(row.report_no, "ACDEFGHJ"), (UNKNOWN_NO, row.verify_code)]:
        for accept in ("application/json", "text/html"):
            wrong = await client.get(f"/v/{number}", params={"code": code}, headers={"Accept": accept})
            answers.append((accept, wrong.status, (await wrong.text()).replace(number, "")))
    assert answers[0] == answers[2] and answers[1] == answers[3]
    assert {status for _, status, _ in answers} == {404}
    missing = await client.get(f"/r/{row.report_no}.pdf", params={"code": "ACDEFGHJ"})
    assert missing.status == 404


async def test_links_and_qr_image(client) -> None:
    issued = await _issue(client)
    links = client.app[REPORTS].links(issued.row)
    assert links.verify_url.endswith(f"/v/{issued.row.report_no}?code={issued.row.verify_code}")
    qr_path = links.qr_url.split("//", 1)[1].split("/", 1)[1]
    qr = await client.get("/" + qr_path)
    assert qr.status == 200 and qr.content_type == "image/svg+xml" and "<svg" in await qr.text()
    wrong = await client.get(f"/v/{issued.row.report_no}/qr.svg", params={"code": "ACDEFGHJ"})
    assert wrong.status == 404
    page = await (
        await client.get(f"/v/{issued.row.report_no}", params={"code": issued.row.verify_code})
    ).text()
    assert f"/r/{issued.row.report_no}.pdf?code={issued.row.verify_code}" in page


async def test_upload_check_is_byte_for_byte(client) -> None:
    issued = await _issue(client)
    report_no = issued.row.report_no

    async def check(number: str, data: bytes) -> dict:
        form = aiohttp.FormData()
        form.add_field("file", data, filename="r.pdf", content_type="application/pdf")
        response = await client.post(f"/v/{number}/check", data=form)
        assert response.status == 200
        return await response.json()

    assert (await check(report_no, issued.pdf))["match"] is True
    changed = bytearray(issued.pdf)
    changed[len(changed) // 2] ^= 0x01
    assert (await check(report_no, bytes(changed)))["match"] is False
    unknown = await check(UNKNOWN_NO, issued.pdf)
    assert unknown["match"] is False
    assert (await client.post(f"/v/{report_no}/check", data=b"x")).status == 400


async def test_offline_verification_and_tampering(client) -> None:
    issued = await _issue(client)
    keys = parse_published_keys(await (await client.get("/.well-known/creditbot-keys.json")).read())
    good = await offline(issued.pdf, keys)
    assert good.ok, good.problems
    assert good.content["report_no"] == issued.row.report_no

    for position in (200, len(issued.pdf) // 2, len(issued.pdf) - 30):
        changed = bytearray(issued.pdf)
        changed[position] ^= 0x01
        assert not (await offline(bytes(changed), keys)).ok, position
    appended = await offline(issued.pdf + b"\n% appended after signing\n", keys)
    assert not appended.ok and any("覆盖" in p for p in appended.problems)

    json_response = await client.get(
        f"/v/{issued.row.report_no}",
        params={"code": issued.row.verify_code},
        headers={"Accept": "application/json"},
    )
    raw = await json_response.read()
    assert (await offline(raw, keys)).ok
    tampered = raw.replace("泽应急罚〔2024〕7号".encode(), "泽应急罚〔2024〕8号".encode())
    assert tampered != raw
    assert not (await offline(tampered, keys)).ok
    page = json.loads(raw)
    page["entity"]["name"] = "另一家有限公司"
    relabelled = await offline(json.dumps(page, ensure_ascii=False).encode(), keys)
    assert not relabelled.ok and "entity" in relabelled.problems[0]
    for garbage in (b"not json at all", b'{"report_no": "SX"}'):
        refused = await offline(garbage, keys)
        assert not refused.ok
        # The parser's own English wording never reaches the clerk.
        assert refused.problems == (NOT_A_REPORT,)


async def test_key_rotation_keeps_old_reports_verifiable(client, settings: Settings) -> None:
    service = client.app[REPORTS]
    old = await _issue(client)
    old_kid = old.row.key_id
    new_kid = service.keys.rotate()
    new = await _issue(client)
    assert new.row.key_id == new_kid != old_kid
    doc = await (await client.get("/.well-known/creditbot-keys.json")).json()
    status = {k["key_id"]: k["status"] for k in doc["keys"]}
    assert status == {old_kid: "retired", new_kid: "current"}
    keys = parse_published_keys(json.dumps(doc).encode())
    assert (await offline(old.pdf, keys)).ok
    assert (await offline(new.pdf, keys)).ok
    for key_file in (settings.data_dir / "keys").glob("*.key"):
        assert key_file.stat().st_mode & 0o777 == 0o600
    old_json = await client.get(
        f"/v/{old.row.report_no}",
        params={"code": old.row.verify_code},
        headers={"Accept": "application/json"},
    )
    assert (await old_json.json())["valid"] is True


async def test_false_commitment_entity_is_refused(client) -> None:
    uscc = make_uscc("91140525MA0K8U2R8")
    await store_entity(client.app[ENGINE], uscc, "虚假承诺商贸有限公司", false_commitment=True)
    with pytest.raises(FalseCommitmentError, match="虚假承诺"):
        await client.app[REPORTS].issue(uscc, Period(date(2024, 1, 1), date(2024, 12, 31)), DOMAINS)


async def test_verification_is_rate_limited_per_client(client) -> None:
    statuses = []
    for _ in range(40):
        response = await client.get("/v/SX20240101000001X", params={"code": "ACDEFGHJ"})
        statuses.append(response.status)
    assert statuses[0] == 404 and 429 in statuses
    assert (await client.get("/healthz")).status == 200


async def test_a_stored_report_altered_on_disk_is_reported_invalid(client, settings: Settings) -> None:
    issued = await _issue(client)
    row = issued.row
    stored = settings.data_dir / "reports" / row.pdf_path
    stored.write_bytes(stored.read_bytes().replace(b"%%EOF", b"%%EOF\n", 1))
    url = f"/v/{row.report_no}"
    body = await (
        await client.get(url, params={"code": row.verify_code}, headers={"Accept": "application/json"})
    ).json()
    assert body["valid"] is False
    page = await (await client.get(url, params={"code": row.verify_code})).text()
    assert "签名校验未通过" in page and "报告真实有效" not in page


async def test_a_report_whose_file_was_lost_answers_404_in_chinese_not_500(
    client, settings: Settings
) -> None:
    row = (await _issue(client)).row
    (settings.data_dir / "reports" / row.pdf_path).unlink()
    url = f"/r/{row.report_no}.pdf"
    as_json = await client.get(url, params={"code": row.verify_code}, headers={"Accept": "application/json"})
    assert as_json.status == 404
    assert (await as_json.json())["error"]["code"] == "file_missing"
    page = await client.get(url, params={"code": row.verify_code}, headers={"Accept": "text/html"})
    assert page.status == 404
    assert "该报告的文件暂时无法下载，平台已记录此问题。" in await page.text()
    # The verification page still answers, and says the stored file is not intact.
    verified = await client.get(
        f"/v/{row.report_no}", params={"code": row.verify_code}, headers={"Accept": "application/json"}
    )
    assert verified.status == 200 and (await verified.json())["valid"] is False
