"""Every assembly rule of the policy, checked in the text of a really rendered PDF."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import BytesIO

import pytest
from pypdf import PdfReader

from core.domains import DOMAINS, domain_by_name
from core.periods import Period
from core.records import EntityInfo, Procedure, RecordKind, RecordStatus, RepairStatus
from core.render import ATTACHMENT_NAME, html_to_pdf, render_html
from core.report import (
    FalseCommitmentError,
    Report,
    assemble_report,
    check_entity,
    report_content,
)
from tests.report_support import USCC, pdf_text, record

ISSUED = datetime(2025, 11, 20, 2, 30, tzinfo=UTC)  # 2025-11-20 10:30 in Beijing
ENTITY = EntityInfo(
    uscc=USCC,
    name="泽州县金鼎矿业有限公司",
    entity_type="企业",
    legal_rep="李卫东",
    address="山西省晋城市泽州县南村镇",
    registered_on=date(2012, 5, 8),
    registration_authority="泽州县市场监督管理局",
)
SAFETY = domain_by_name("应急管理（安全生产）")
ENVIRONMENT = domain_by_name("生态环境")
COURT = domain_by_name("法院执行")
POLICE = domain_by_name("公安")
TAX = domain_by_name("税务")

RECORDS = [
    record(RecordKind.PENALTY, 9, "泽应急罚〔2024〕1号", date(2024, 3, 5), procedure=Procedure.ORDINARY),
    record(RecordKind.PENALTY, 9, "泽应急简罚〔2024〕2号", date(2024, 4, 6), procedure=Procedure.SUMMARY),
    record(RecordKind.PENALTY, 9, "泽应急罚〔2024〕3号", date(2024, 5, 7), status=RecordStatus.REVOKED),
    record(RecordKind.PENALTY, 9, "泽应急罚〔2024〕4号", date(2024, 5, 8), status=RecordStatus.NOT_PENALIZED),
    record(RecordKind.PENALTY, 9, "泽应急罚〔2024〕5号", date(2024, 5, 9), status=RecordStatus.DELETED),
    record(RecordKind.PENALTY, 9, "泽应急罚〔2022〕6号", date(2022, 12, 31)),  # before the period
    record(RecordKind.PENALTY, 9, "泽应急罚〔2025〕7号", date(2025, 7, 1)),  # after the period
    record(
        RecordKind.PENALTY,
        5,
        "晋市环罚〔2023〕8号",
        date(2023, 6, 1),
        repair_status=RepairStatus.REPAIRED,
        repair_date=date(2024, 2, 29),
    ),
    record(RecordKind.ENFORCEMENT, 9, "泽应急强〔2023〕9号", date(2023, 8, 1), objection_pending=True),
    record(RecordKind.JUDGMENT, 20, "（2023）晋0525刑初10号", date(2023, 9, 9)),
    # list entries: listed before the period and removed inside it → shown with its 移出日期
    record(RecordKind.LIST, 38, "LIST-A", date(2021, 5, 1), end_date=date(2023, 3, 15)),
    # listed before the period, removed before it started → absent
    record(RecordKind.LIST, 38, "LIST-B", date(2021, 5, 1), end_date=date(2022, 12, 31)),
    # listed after the period → absent
    record(RecordKind.LIST, 38, "LIST-C", date(2025, 2, 1)),
    # listed before the period and never removed → shown
    record(RecordKind.LIST, 38, "LIST-D", date(2020, 1, 1)),
    # a domain the report does not ask for
    record(RecordKind.PENALTY, 6, "晋市监罚〔2024〕11号", date(2024, 1, 1)),
]


def _build(
    start: date, end: date, domains=(SAFETY, ENVIRONMENT, COURT, POLICE, TAX), records=RECORDS
) -> Report:
    return assemble_report(
        ENTITY, records, Period(start, end), list(domains), report_no="SX202511200000017", issued_at=ISSUED
    )


def _render(report: Report) -> bytes:
    return html_to_pdf(render_html(report, code="K7HP3WXA", base_url="https://xy.example.cn"), b'{"t":1}')


@pytest.fixture(scope="module")
def main_report() -> tuple[Report, bytes, str]:
    report = _build(date(2023, 1, 1), date(2024, 12, 31))
    pdf = _render(report)
    return report, pdf, "".join(pdf_text(pdf))


def test_four_kinds_and_summary_procedure_penalties_appear(main_report) -> None:
    _, _, text = main_report
    for doc_no in (
        "泽应急罚〔2024〕1号",
        "泽应急简罚〔2024〕2号",
        "泽应急强〔2023〕9号",
        "（2023）晋0525刑初10号",
    ):
        assert doc_no in text
    assert "简易程序" in text
    for heading in ("（一）行政处罚", "（二）行政强制", "（三）严重失信主体名单", "（四）刑事裁判"):
        assert heading in text


def test_only_valid_records_count(main_report) -> None:
    report, _, text = main_report
    for doc_no in ("泽应急罚〔2024〕3号", "泽应急罚〔2024〕4号", "泽应急罚〔2024〕5号"):
        assert doc_no not in text
    safety = next(s for s in report.sections if s.name == SAFETY.name)
    assert safety.count(RecordKind.PENALTY) == 2 and safety.count(RecordKind.ENFORCEMENT) == 1


def test_decision_dates_outside_the_period_and_other_domains_are_left_out(main_report) -> None:
    _, _, text = main_report
    assert "泽应急罚〔2022〕6号" not in text and "泽应急罚〔2025〕7号" not in text
    assert "晋市监罚〔2024〕11号" not in text


def test_list_entries_by_overlap_with_removal_date_shown(main_report) -> None:
    report, _, text = main_report
    listed = [item.doc_no for item in report.items_of(RecordKind.LIST)]
    assert listed == ["LIST-D", "LIST-A"]
    assert "2023-03-15" in text  # LIST-A's 移出日期
    assert "LIST-B" not in text and "LIST-C" not in text


def test_repaired_and_objection_marks(main_report) -> None:
    _, _, text = main_report
    assert "有效已修复2024-02-29" in text
    assert "异议处理中" in text


def test_summary_rows_and_no_record_result(main_report) -> None:
    report, _, text = main_report
    assert [s.name for s in report.sections] == [
        "生态环境",
        "应急管理（安全生产）",
        "税务",
        "公安",
        "法院执行",
    ]
    assert "税务000—未查询到违法违规记录" in text  # one summary row: counts then result
    assert "应急管理（安全生产）210—查询到违法违规记录3条" in text
    assert "公安00—1查询到违法违规记录1条" in text
    assert "法院执行——20查询到违法违规记录2条" in text


def test_commitments_usage_equal_effect_and_disclaimer(main_report) -> None:
    _, _, text = main_report
    assert "泽州县金鼎矿业有限公司承诺" in text
    assert "生态环境领域的行政强制、严重失信主体名单、刑事裁判" in text
    assert "本报告所列40个实施领域以外的其他领域" in text
    assert "专项信用报告电子版与纸质版具有同等效力" in text
    assert "替代有无违法违规记录证明使用" in text
    assert "不构成对信用主体的任何担保" in text


def test_identity_block_code_and_page_footer_on_every_page(main_report) -> None:
    _, pdf, text = main_report
    assert "报告编号：SX202511200000017" in text and "K7HP3WXA" in text
    assert "2025年11月20日10:30:00" in text  # Beijing time
    assert "统一社会信用代码" in text and USCC in text and "泽州县市场监督管理局" in text
    pages = pdf_text(pdf)
    for number, page in enumerate(pages, start=1):
        assert f"报告编号：SX202511200000017第{number}页共{len(pages)}页" in page


def test_pdf_metadata_and_attachment(main_report) -> None:
    _, pdf, _ = main_report
    reader = PdfReader(BytesIO(pdf))
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "专项信用报告 SX202511200000017"
    assert "泽州县金鼎矿业有限公司" in (meta.subject or "")
    assert meta.creator == "creditbot 专项信用报告服务"
    assert reader.attachments[ATTACHMENT_NAME] == [b'{"t":1}']


def test_period_before_data_start_is_kept_but_never_claims_no_record() -> None:
    report = _build(date(2021, 1, 1), date(2024, 12, 31), domains=(TAX, COURT))
    text = "".join(pdf_text(_render(report)))
    assert report.period.start == date(2021, 1, 1)
    assert "本报告期间为2021年1月1日至2024年12月31日" in text
    assert "不在平台数据归集范围内" in text and "2021年1月1日至2022年7月31日" in text
    tax = report.sections[0]
    assert tax.result == "2022年8月1日至2024年12月31日未查询到违法违规记录"
    assert "税务000—2022年8月1日至2024年12月31日未查询到违法违规记录" in text
    # LIST-B was listed in 2021 and removed on 2022-12-31: inside the period, so it shows.
    assert "LIST-B" in text


def test_empty_report_says_no_record_in_every_domain() -> None:
    report = _build(date(2024, 1, 1), date(2024, 12, 31), domains=DOMAINS, records=[])
    pages = pdf_text(_render(report))
    text = "".join(pages)
    assert text.count("未查询到违法违规记录") >= 40
    assert "所选领域在报告期间内未查询到违法违规记录" in text
    assert len(pages) >= 2


def test_long_detail_tables_repeat_their_header_on_every_page() -> None:
    many = [
        record(RecordKind.PENALTY, 9, f"泽应急罚〔2024〕{100 + i}号", date(2024, 1, 1 + i % 28))
        for i in range(60)
    ]
    report = _build(date(2024, 1, 1), date(2024, 12, 31), domains=(SAFETY,), records=many)
    pages = pdf_text(_render(report))
    with_rows = [p for p in pages if "泽应急罚〔2024〕1" in p]
    assert len(with_rows) >= 2
    for page in with_rows:
        assert "序号领域决定书文号决定日期违法行为类型处罚类别及内容处罚机关状态" in page


def test_false_commitment_entity_gets_an_explanation_not_a_report() -> None:
    liar = EntityInfo(
        uscc=USCC, name="某某商贸有限公司", entity_type="企业", legal_rep="张三", false_commitment=True
    )
    with pytest.raises(FalseCommitmentError) as caught:
        check_entity(liar)
    assert "虚假承诺" in str(caught.value) and "不再适用" in str(caught.value)


def test_signed_content_states_what_the_pdf_states(main_report) -> None:
    report, _, _ = main_report
    content = report_content(report)
    assert content["report_no"] == "SX202511200000017"
    assert content["issued_at"] == "2025-11-20T10:30:00+08:00"
    safety = next(d for d in content["domains"] if d["name"] == SAFETY.name)
    assert safety["counts"] == {"penalty": 2, "enforcement": 1, "list": 0}
    environment = next(d for d in content["domains"] if d["name"] == ENVIRONMENT.name)
    assert environment["records"][0]["repaired"] is True
    assert environment["records"][0]["repair_date"] == "2024-02-29"
