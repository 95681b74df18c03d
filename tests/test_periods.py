from datetime import date

import pytest

from core.periods import (
    QUICK_CHOICES,
    Period,
    PeriodError,
    all_time,
    find_period,
    parse_period,
    validate_period,
)
from core.records import DATA_START

TODAY = date(2026, 11, 26)


def _p(start: str, end: str) -> Period:
    return Period(date.fromisoformat(start), date.fromisoformat(end))


PHRASES = [
    # recent years: [today − N years + 1 day, today]
    ("近一年", _p("2025-11-27", "2026-11-26")),
    ("近1年", _p("2025-11-27", "2026-11-26")),
    ("最近一年", _p("2025-11-27", "2026-11-26")),
    ("过去一年", _p("2025-11-27", "2026-11-26")),
    ("近一年来", _p("2025-11-27", "2026-11-26")),
    ("一年内", _p("2025-11-27", "2026-11-26")),
    ("近两年", _p("2024-11-27", "2026-11-26")),
    ("近三年", _p("2023-11-27", "2026-11-26")),
    ("近3年", _p("2023-11-27", "2026-11-26")),
    ("近３年", _p("2023-11-27", "2026-11-26")),
    ("最近三年以来", _p("2023-11-27", "2026-11-26")),
    ("近十年", _p("2016-11-27", "2026-11-26")),
    # recent months
    ("近半年", _p("2026-05-27", "2026-11-26")),
    ("近6个月", _p("2026-05-27", "2026-11-26")),
    ("近六个月", _p("2026-05-27", "2026-11-26")),
    ("近3个月", _p("2026-08-27", "2026-11-26")),
    ("近十二个月", _p("2025-11-27", "2026-11-26")),
    ("过去12个月", _p("2025-11-27", "2026-11-26")),
    ("近30天", _p("2026-10-28", "2026-11-26")),
    # named years
    ("今年", _p("2026-01-01", "2026-11-26")),
    ("今年以来", _p("2026-01-01", "2026-11-26")),
    ("本年度", _p("2026-01-01", "2026-11-26")),
    ("去年", _p("2025-01-01", "2025-12-31")),
    ("去年全年", _p("2025-01-01", "2025-12-31")),
    ("上一年度", _p("2025-01-01", "2025-12-31")),
    ("前年", _p("2024-01-01", "2024-12-31")),
    ("2024年", _p("2024-01-01", "2024-12-31")),
    ("2024年全年", _p("2024-01-01", "2024-12-31")),
    ("2024年度", _p("2024-01-01", "2024-12-31")),
    ("２０２４年", _p("2024-01-01", "2024-12-31")),
    # The current year said by number means the same as 今年 …
    ("2026年", _p("2026-01-01", "2026-11-26")),
    # … unless the whole year is asked for; validate_period then reports it.
    ("2026年全年", _p("2026-01-01", "2026-12-31")),
    ("2024年3月", _p("2024-03-01", "2024-03-31")),
    ("2024年2月", _p("2024-02-01", "2024-02-29")),
    ("2024-06", _p("2024-06-01", "2024-06-30")),
    # halves and quarters
    ("上半年", _p("2026-01-01", "2026-06-30")),
    ("下半年", _p("2026-07-01", "2026-12-31")),
    ("今年上半年", _p("2026-01-01", "2026-06-30")),
    ("去年下半年", _p("2025-07-01", "2025-12-31")),
    ("2024年上半年", _p("2024-01-01", "2024-06-30")),
    ("2024年第一季度", _p("2024-01-01", "2024-03-31")),
    ("去年四季度", _p("2025-10-01", "2025-12-31")),
    # month ranges: first day of the start month to the last day of the end month
    ("2023年3月至2024年6月", _p("2023-03-01", "2024-06-30")),
    ("2023年3月到2024年6月", _p("2023-03-01", "2024-06-30")),
    ("2023年3月-2024年6月", _p("2023-03-01", "2024-06-30")),
    ("2023年3月~2024年6月", _p("2023-03-01", "2024-06-30")),
    ("2023年3月～2024年6月", _p("2023-03-01", "2024-06-30")),
    ("2023年3月—2024年6月", _p("2023-03-01", "2024-06-30")),
    ("2023年3月——2024年6月", _p("2023-03-01", "2024-06-30")),
    ("2023年3月 至 2024年6月", _p("2023-03-01", "2024-06-30")),
    ("2023年三月至2024年六月", _p("2023-03-01", "2024-06-30")),
    ("从2023年3月到2024年6月", _p("2023-03-01", "2024-06-30")),
    ("2023.3-2024.6", _p("2023-03-01", "2024-06-30")),
    ("2023/03-2024/06", _p("2023-03-01", "2024-06-30")),
    ("2023-03至2024-02", _p("2023-03-01", "2024-02-29")),
    ("2023年3月至6月", _p("2023-03-01", "2023-06-30")),
    ("2023-2024", _p("2023-01-01", "2024-12-31")),
    ("2023年至2024年", _p("2023-01-01", "2024-12-31")),
    # day ranges
    ("2023-03-01至2024-06-30", _p("2023-03-01", "2024-06-30")),
    ("2023.03.01-2024.06.30", _p("2023-03-01", "2024-06-30")),
    ("2023/3/1~2024/6/30", _p("2023-03-01", "2024-06-30")),
    ("2023年3月1日至2024年6月30日", _p("2023-03-01", "2024-06-30")),
    ("2023年3月1号到2024年6月30号", _p("2023-03-01", "2024-06-30")),
    ("2024年3月1日至6月15日", _p("2024-03-01", "2024-06-15")),
    # up to today
    ("从2022年8月1日至今", _p("2022-08-01", "2026-11-26")),
    ("2022年8月至今", _p("2022-08-01", "2026-11-26")),
    ("2022年8月1日到现在", _p("2022-08-01", "2026-11-26")),
    ("自2024年1月1日起至今", _p("2024-01-01", "2026-11-26")),
    ("2023年以来", _p("2023-01-01", "2026-11-26")),
    ("2024年5月以来", _p("2024-05-01", "2026-11-26")),
    ("从2024年5月起", _p("2024-05-01", "2026-11-26")),
    ("2023-03-01至今", _p("2023-03-01", "2026-11-26")),
    # all collected time
    ("全部时间", _p("2022-08-01", "2026-11-26")),
    ("所有时间", _p("2022-08-01", "2026-11-26")),
    ("有记录以来", _p("2022-08-01", "2026-11-26")),
]


@pytest.mark.parametrize(("text", "expected"), PHRASES)
def test_parse_period(text: str, expected: Period) -> None:
    assert parse_period(text, TODAY) == expected


@pytest.mark.parametrize(("text", "expected"), PHRASES)
def test_find_period_in_a_sentence(text: str, expected: Period) -> None:
    sentence = f"你好，帮我开{text}环保的信用报告"
    found = find_period(sentence, TODAY)
    assert found is not None
    period, (start, end) = found
    assert period == expected
    assert sentence[start:end] == text.strip()


@pytest.mark.parametrize(
    ("sentence", "expected", "phrase"),
    [
        ("帮我开近三年环保和安全生产的信用报告", _p("2023-11-27", "2026-11-26"), "近三年"),
        (
            "91350100M000100Y43 2023年3月至2024年6月 税务",
            _p("2023-03-01", "2024-06-30"),
            "2023年3月至2024年6月",
        ),
        ("要2024年全年的，谢谢", _p("2024-01-01", "2024-12-31"), "2024年全年"),
        ("全部领域，近一年", _p("2025-11-27", "2026-11-26"), "近一年"),
        ("从2022年8月1日至今所有领域都要", _p("2022-08-01", "2026-11-26"), "从2022年8月1日至今"),
    ],
)
def test_find_period_returns_the_phrase_span(sentence: str, expected: Period, phrase: str) -> None:
    found = find_period(sentence, TODAY)
    assert found is not None
    period, (start, end) = found
    assert period == expected
    assert sentence[start:end] == phrase


@pytest.mark.parametrize(
    "text",
    [
        "帮我开环保的信用报告",
        "全部领域",
        "所有领域都要",
        "电话13800138000",
        "代码91350100M000100Y43",
        "价格1999.99元",
        "",
    ],
)
def test_find_period_finds_nothing(text: str) -> None:
    assert find_period(text, TODAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("全部", _p("2022-08-01", "2026-11-26")),
        ("全部的", _p("2022-08-01", "2026-11-26")),
        ("所有", _p("2022-08-01", "2026-11-26")),
        ("就要近三年的吧", _p("2023-11-27", "2026-11-26")),
        ("请帮我查近一年的。", _p("2025-11-27", "2026-11-26")),
        ("去年，谢谢！", _p("2025-01-01", "2025-12-31")),
        ("时间范围：2023年3月至2024年6月", _p("2023-03-01", "2024-06-30")),
    ],
)
def test_parse_period_allows_polite_filler(text: str, expected: Period) -> None:
    assert parse_period(text, TODAY) == expected


@pytest.mark.parametrize("text", ["近三年环保", "环保", "你好", "", "2024年3月1日", "2024"])
def test_parse_period_rejects_other_text(text: str) -> None:
    assert parse_period(text, TODAY) is None


@pytest.mark.parametrize(("label", "phrase"), QUICK_CHOICES)
def test_quick_choices_parse(label: str, phrase: str) -> None:
    period = parse_period(phrase, TODAY)
    assert period is not None
    validate_period(period, TODAY)


def test_quick_choices_are_the_agreed_buttons() -> None:
    assert QUICK_CHOICES == [
        ("近一年", "近一年"),
        ("近三年", "近三年"),
        ("今年", "今年"),
        ("去年", "去年"),
        ("全部（2022年8月1日起，最长5年）", "全部"),
    ]
    assert parse_period("全部", TODAY) == Period(DATA_START, TODAY)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 26), _p("2022-08-01", "2026-11-26")),
        # Five years after data collection began, 全部 is the last five years (近五年).
        (date(2027, 8, 1), _p("2022-08-02", "2027-08-01")),
        (date(2029, 2, 28), _p("2024-02-29", "2029-02-28")),
    ],
)
def test_all_means_everything_collected_within_five_years(today: date, expected: Period) -> None:
    assert all_time(today) == expected
    assert parse_period("全部", today) == expected


@pytest.mark.parametrize("today", [date(2027, 8, 1), date(2029, 2, 28)])
def test_all_is_the_last_five_years_once_collection_is_older(today: date) -> None:
    assert all_time(today) == parse_period("近五年", today)


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        # A leap day minus a year has no 29th; the period still spans exactly one year.
        (date(2028, 2, 29), "近一年", _p("2027-03-01", "2028-02-29")),
        (date(2028, 2, 29), "近四年", _p("2024-03-01", "2028-02-29")),
        (date(2025, 2, 28), "近一年", _p("2024-02-29", "2025-02-28")),
        (date(2026, 3, 31), "近1个月", _p("2026-03-01", "2026-03-31")),
        (date(2026, 8, 31), "近六个月", _p("2026-03-01", "2026-08-31")),
        (date(2026, 1, 15), "近3个月", _p("2025-10-16", "2026-01-15")),
        (date(2026, 1, 1), "今年", _p("2026-01-01", "2026-01-01")),
    ],
)
def test_relative_periods_around_month_ends(today: date, text: str, expected: Period) -> None:
    assert parse_period(text, today) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2023年2月30日至2024年1月1日", "2023年2月没有30日，请检查日期。"),
        ("2023年13月至2024年1月", "“13月”不是有效的月份，月份应在1至12之间。"),
        ("2023年13月", "“13月”不是有效的月份，月份应在1至12之间。"),
        ("近0年", "时间长度至少为1，例如“近一年”。"),
    ],
)
def test_impossible_dates_are_reported(text: str, message: str) -> None:
    with pytest.raises(PeriodError) as caught:
        find_period(text, TODAY)
    assert caught.value.message == message


def test_label() -> None:
    assert _p("2023-03-01", "2024-06-30").label() == "2023-03-01 至 2024-06-30"


def test_periods_are_returned_as_stated_not_clamped() -> None:
    assert parse_period("2023年3月至2027年6月", TODAY) == _p("2023-03-01", "2027-06-30")
    assert parse_period("2024年6月至2023年3月", TODAY) == _p("2024-06-01", "2023-03-31")


@pytest.mark.parametrize(
    ("period", "message"),
    [
        (
            _p("2024-06-01", "2023-03-31"),
            "开始日期（2024-06-01）晚于结束日期（2023-03-31），请检查时间的先后顺序。",
        ),
        (
            _p("2026-07-01", "2026-12-31"),
            "结束日期不能晚于今天（2026-11-26），您给出的结束日期是2026-12-31。",
        ),
        (
            _p("2027-01-01", "2027-12-31"),
            "开始日期（2027-01-01）还没有到，报告只能涵盖今天（2026-11-26）及以前的时间。",
        ),
        (
            _p("2030-01-01", "2030-12-31"),
            "开始日期（2030-01-01）还没有到，报告只能涵盖今天（2026-11-26）及以前的时间。",
        ),
        (
            _p("2020-01-01", "2022-07-31"),
            "平台自2022年8月1日起归集违法违规记录，所选期间（2020-01-01 至 2022-07-31）全部早于该日期，"
            "无法出具报告，请选择包含2022年8月1日以后的期间。",
        ),
        (
            _p("2020-12-31", "2026-11-26"),
            "报告期间最长为5年，所选期间（2020-12-31 至 2026-11-26）超过了5年，"
            "请选择从2021-11-27或更晚开始的期间。",
        ),
        (
            _p("2021-11-26", "2026-11-26"),
            "报告期间最长为5年，所选期间（2021-11-26 至 2026-11-26）超过了5年，"
            "请选择从2021-11-27或更晚开始的期间。",
        ),
    ],
)
def test_validate_period_errors(period: Period, message: str) -> None:
    with pytest.raises(PeriodError) as caught:
        validate_period(period, TODAY)
    assert caught.value.message == message
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "period",
    [
        _p("2026-11-26", "2026-11-26"),
        _p("2022-08-01", "2026-11-26"),
        # Starts before data collection (the report says so) and spans exactly five years.
        _p("2021-11-27", "2026-11-26"),
        _p("2020-01-01", "2022-08-01"),
    ],
)
def test_validate_period_accepts_and_returns_the_period(period: Period) -> None:
    assert validate_period(period, TODAY) is period


def test_end_after_today_message_uses_the_exact_wording() -> None:
    period = parse_period("下半年", TODAY)
    assert period is not None
    with pytest.raises(PeriodError, match=r"^结束日期不能晚于今天（2026-11-26）"):
        validate_period(period, TODAY)


@pytest.mark.parametrize(
    ("period", "uncovered", "covered_start"),
    [
        (_p("2022-07-31", "2023-01-01"), True, date(2022, 8, 1)),
        (_p("2021-01-01", "2022-12-31"), True, date(2022, 8, 1)),
        (_p("2022-08-01", "2023-01-01"), False, date(2022, 8, 1)),
        (_p("2024-01-01", "2024-12-31"), False, date(2024, 1, 1)),
    ],
)
def test_time_before_data_collection_is_marked(period: Period, uncovered: bool, covered_start: date) -> None:
    assert (period.partly_uncovered, period.covered_start) == (uncovered, covered_start)
