"""The intake rules on single rows: what is accepted, what is refused and why, what only warns."""

from __future__ import annotations

from datetime import date

import pytest

from core.intake import (
    HEADERS,
    REASON_HEADER,
    DuplicateGuard,
    EntityValues,
    IntakeKind,
    RecordValues,
    check_headers,
    check_row,
    masked_row,
    parse_date,
    resolve_kind,
)
from core.records import RecordKind
from core.resident_id import is_valid_resident_id
from tests.intake_rows import ID_NUMBER, PHONE, USCC_A, USCC_AGENCY, row

TODAY = date(2026, 11, 26)


def errors_of(kind: IntakeKind, **changes: str) -> str:
    checked = check_row(kind, row(kind, **changes), TODAY)
    assert checked.values is None
    return "；".join(checked.errors)


@pytest.mark.parametrize("kind", list(IntakeKind))
def test_the_base_row_of_every_kind_is_accepted_without_warnings(kind: IntakeKind) -> None:
    checked = check_row(kind, row(kind), TODAY)
    assert checked.errors == [] and checked.warnings == []
    assert checked.values is not None and checked.values.uscc == USCC_A


@pytest.mark.parametrize(
    "text", ["2024-05-01", "2024/5/1", "2024/05/01", "2024年5月1日", "2024-5-1", " 2024-05-01 00:00:00 "]
)
def test_dates_are_accepted_in_the_three_forms(text: str) -> None:
    assert parse_date(text) == date(2024, 5, 1)


@pytest.mark.parametrize("text", ["2024.05.01", "20240501", "2024-02-30", "2024年13月1日", "五月一日"])
def test_other_date_forms_and_impossible_dates_are_not(text: str) -> None:
    assert parse_date(text) is None


def test_a_penalty_maps_its_columns_and_keeps_the_rest_as_fields() -> None:
    values = check_row(
        IntakeKind.PENALTIES, row(IntakeKind.PENALTIES, 处罚决定日期="2024年5月10日"), TODAY
    ).values
    assert isinstance(values, RecordValues)
    assert values.kind is RecordKind.PENALTY and values.domain == 6
    assert values.decision_date == date(2024, 5, 10)
    assert values.key == ("晋城市市场监督管理局", "晋市监罚〔2024〕12号")
    assert values.source_dept_uscc == USCC_AGENCY
    assert values.fields["违法事实"] == "该公司未按规定期限公示2023年度报告"
    assert "处罚决定日期" not in values.fields and "备注" not in values.fields  # a column / empty


def test_defaults_for_status_procedure_and_repair() -> None:
    values = check_row(
        IntakeKind.PENALTIES, row(IntakeKind.PENALTIES, 程序类型="", 记录状态="", 修复状态=""), TODAY
    ).values
    assert isinstance(values, RecordValues)
    assert (values.status, values.procedure, values.repair_status) == ("有效", "普通程序", "未修复")


def test_an_invalid_uscc_names_the_position() -> None:
    reason = errors_of(IntakeKind.PENALTIES, 统一社会信用代码="91140105MA0L2QXWIN")
    assert reason.startswith("统一社会信用代码无效：") and "第17位" in reason


def test_an_invalid_agency_uscc_is_refused_too() -> None:
    assert "处罚机关统一社会信用代码无效" in errors_of(IntakeKind.PENALTIES, 处罚机关统一社会信用代码="123")


def test_an_unknown_domain_is_refused_and_aliases_are_accepted() -> None:
    assert "领域“天文”不是40个实施领域之一" in errors_of(IntakeKind.PENALTIES, 领域="天文")
    values = check_row(IntakeKind.PENALTIES, row(IntakeKind.PENALTIES, 领域="工商"), TODAY).values
    assert values is not None and values.domain == 6


def test_missing_required_fields_are_listed_together() -> None:
    reason = errors_of(IntakeKind.PENALTIES, 违法事实="", 处罚机关=" ")
    assert "缺少必填项：违法事实、处罚机关" in reason


def test_unparseable_and_future_dates_are_refused() -> None:
    assert "处罚决定日期“2024.05.10”无法识别" in errors_of(IntakeKind.PENALTIES, 处罚决定日期="2024.05.10")
    assert "处罚决定日期 2026-12-01 晚于今天" in errors_of(IntakeKind.PENALTIES, 处罚决定日期="2026-12-01")


def test_publicity_deadlines_may_lie_in_the_future() -> None:
    checked = check_row(IntakeKind.PENALTIES, row(IntakeKind.PENALTIES, 公示截止期="2029/1/1"), TODAY)
    assert checked.values is not None and checked.values.fields["公示截止期"] == "2029-01-01"


def test_several_problems_of_one_row_are_reported_at_once() -> None:
    reason = errors_of(IntakeKind.PENALTIES, 领域="天文", 处罚决定日期="昨天", 记录状态="作废")
    assert "领域“天文”" in reason and "处罚决定日期“昨天”" in reason and "记录状态“作废”" in reason


def test_repair_rules() -> None:
    assert "须填写修复日期" in errors_of(IntakeKind.PENALTIES, 修复状态="已修复")
    assert "未修复，但填写了修复日期" in errors_of(IntakeKind.PENALTIES, 修复日期="2025-01-01")
    assert "修复日期早于处罚决定日期" in errors_of(
        IntakeKind.PENALTIES, 修复状态="已修复", 修复日期="2024-01-01"
    )
    values = check_row(
        IntakeKind.PENALTIES, row(IntakeKind.PENALTIES, 修复状态="已修复", 修复日期="2025-01-01"), TODAY
    ).values
    assert isinstance(values, RecordValues) and values.repair_date == date(2025, 1, 1)


def test_end_dates_cannot_precede_decisions() -> None:
    assert "解除日期早于决定日期" in errors_of(IntakeKind.ENFORCEMENTS, 解除日期="2024-02-01")
    assert "移出日期早于列入日期" in errors_of(IntakeKind.LISTS, 移出日期="2023-01-01")


def test_a_kind_outside_the_domains_data_scope_is_accepted_with_a_warning() -> None:
    checked = check_row(IntakeKind.ENFORCEMENTS, row(IntakeKind.ENFORCEMENTS, 领域="生态环境"), TODAY)
    assert checked.values is not None
    assert checked.warnings == ["领域“生态环境”的数据范围不含行政强制，已接收，请核对领域"]


def test_a_list_name_foreign_to_the_domain_warns() -> None:
    checked = check_row(IntakeKind.LISTS, row(IntakeKind.LISTS, 名单名称="失信被执行人名单"), TODAY)
    assert (
        checked.values is not None
        and "不是“应急管理（安全生产）”领域的严重失信主体名单" in checked.warnings[0]
    )


def test_a_list_entry_is_keyed_by_list_entity_and_listing_date() -> None:
    values = check_row(IntakeKind.LISTS, row(IntakeKind.LISTS, 列入日期="2023/6/1"), TODAY).values
    assert isinstance(values, RecordValues)
    assert values.doc_no == f"安全生产严重失信主体名单|{USCC_A}|2023-06-01"
    assert values.end_date is None


def test_entities_check_id_number_phone_and_type_without_echoing_them() -> None:
    values = check_row(
        IntakeKind.ENTITIES, row(IntakeKind.ENTITIES, 联系电话="+86 138-1234-5678"), TODAY
    ).values
    assert isinstance(values, EntityValues) and values.phone == PHONE and values.id_number == ID_NUMBER
    bad_id = ID_NUMBER[:-1] + "7"
    reason = errors_of(
        IntakeKind.ENTITIES, 法定代表人证件号码=bad_id, 联系电话="0356-1234567", 主体类型="公司"
    )
    assert "法定代表人证件号码不是有效的18位居民身份证号码" in reason
    assert "联系电话应为11位手机号码" in reason and "主体类型“公司”" in reason
    assert bad_id not in reason and "1234567" not in reason


def test_resident_id_check_digit() -> None:
    assert is_valid_resident_id(ID_NUMBER) and is_valid_resident_id("11010519491231002x")
    assert not is_valid_resident_id("110105194912310021") and not is_valid_resident_id("1101051949")


def test_duplicates_keep_the_first_occurrence() -> None:
    guard = DuplicateGuard()
    assert guard.earlier(("a", "1"), "第2行") is None
    assert guard.earlier(("a", "2"), "第3行") is None
    assert guard.earlier(("a", "1"), "第4行") == "第2行"


def test_headers_must_match_exactly_except_the_reason_column() -> None:
    headers = list(HEADERS[IntakeKind.JUDGMENTS])
    assert check_headers(IntakeKind.JUDGMENTS, headers) == []
    assert check_headers(IntakeKind.JUDGMENTS, ["\ufeff" + headers[0], *headers[1:], REASON_HEADER]) == []
    problems = check_headers(IntakeKind.JUDGMENTS, [*headers[:-1], "领域名称"])
    assert problems == ["缺少列：领域", "无法识别的列：领域名称"]


def test_rejected_rows_are_masked() -> None:
    header = list(HEADERS[IntakeKind.ENTITIES])
    values = row(IntakeKind.ENTITIES, 注册地址=f"联系人电话{PHONE}")
    masked = dict(zip(header, masked_row(header, [values[h] for h in header]), strict=True))
    assert masked["法定代表人证件号码"] == "**************1236"
    assert masked["联系电话"] == "138****5678"
    assert PHONE not in masked["注册地址"]


def test_kind_names_in_english_and_chinese() -> None:
    assert resolve_kind("penalties") is IntakeKind.PENALTIES
    assert resolve_kind("严重失信主体名单") is IntakeKind.LISTS
    assert resolve_kind("刑事裁判（犯罪记录）") is IntakeKind.JUDGMENTS
    assert resolve_kind("fines") is None


@pytest.mark.parametrize("kind", [k for k in IntakeKind if k is not IntakeKind.ENTITIES])
def test_the_plain_form_of_a_record_round_trips(kind: IntakeKind) -> None:
    changes = {"修复状态": "已修复", "修复日期": "2025-01-01"} if kind is IntakeKind.PENALTIES else {}
    values = check_row(kind, row(kind, **changes), TODAY).values
    assert isinstance(values, RecordValues)
    assert RecordValues.from_plain(values.plain()) == values


def record_errors(kind: IntakeKind, **changes: object) -> list[str]:
    """The errors of a row whose values may be of any JSON type, as the API receives them."""
    checked = check_row(kind, {**row(kind), **changes}, TODAY)
    assert checked.values is None
    return checked.errors


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (20240512, "数字"),
        (1.5, "数字"),
        (True, "布尔值"),
        (["晋市监罚〔2024〕12号"], "数组"),
        ({"号": 12}, "对象"),
    ],
)
def test_a_value_that_is_not_text_is_refused_not_stringified(value: object, name: str) -> None:
    # Reported once, for its type: not also as a missing required field.
    assert record_errors(IntakeKind.PENALTIES, 行政处罚决定书文号=value) == [
        f"行政处罚决定书文号应为文本，不能是{name}"
    ]
    assert record_errors(IntakeKind.ENTITIES, 主体名称=value) == [f"主体名称应为文本，不能是{name}"]


def test_null_is_an_empty_value() -> None:
    assert record_errors(IntakeKind.PENALTIES, 违法事实=None) == ["缺少必填项：违法事实"]
    checked = check_row(IntakeKind.PENALTIES, {**row(IntakeKind.PENALTIES), "备注": None}, TODAY)
    assert checked.values is not None


def test_over_long_values_are_refused_with_their_limit() -> None:
    assert record_errors(IntakeKind.PENALTIES, 违法事实="违" * 1_000_000) == [
        "违法事实过长：最多5000个字符，实为1000000个字符"
    ]
    assert record_errors(IntakeKind.PENALTIES, 行政处罚决定书文号="号" * 201, 处罚机关="局" * 201) == [
        "行政处罚决定书文号过长：最多200个字符，实为201个字符",
        "处罚机关过长：最多200个字符，实为201个字符",
    ]
    at_limits = row(IntakeKind.PENALTIES, 违法事实="违" * 5000, 行政处罚决定书文号="号" * 200)
    assert check_row(IntakeKind.PENALTIES, at_limits, TODAY).values is not None


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (1e30, "1e+30"),
        (float("inf"), "inf"),  # what a JSON parser makes of 1e400
        ("1e30", "1e30"),
        ("1234567890123", "1234567890123"),
        ("0.1234567", "0.1234567"),
        ("-5", "-5"),
        (10**20, "100000000000000000000"),
    ],
)
def test_amounts_out_of_range_or_form_are_refused(amount: object, shown: str) -> None:
    assert record_errors(IntakeKind.PENALTIES, **{"罚款金额（万元）": amount}) == [
        f"罚款金额（万元）“{shown}”应为不小于0的数字（单位：万元），整数部分最多12位，小数部分最多6位"
    ]


@pytest.mark.parametrize(
    ("amount", "stored"), [("123456789012.123456", "123456789012.123456"), (0.5, "0.5"), (3, "3")]
)
def test_amounts_within_range_are_kept_as_text(amount: object, stored: str) -> None:
    values = check_row(
        IntakeKind.PENALTIES, {**row(IntakeKind.PENALTIES), "罚款金额（万元）": amount}, TODAY
    ).values
    assert isinstance(values, RecordValues) and values.fields["罚款金额（万元）"] == stored
