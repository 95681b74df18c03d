"""Report periods (报告涵盖的时间) from the plain Chinese people type in the chat.

The seed lets a business choose the time its report covers. People say 近三年, 去年,
2023年3月至2024年6月 or 从2022年8月至今, usually inside a longer request, so `find_period`
returns the span it understood and the caller can strip it before looking for domains.
Periods are returned as stated, never clamped; `validate_period` explains what is wrong.

This is the one `Period` and the one set of rules for it: the chat and the counter CLI validate
what they were given here, once, and the validated `Period` travels on to the report.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from core.records import DATA_START, cn_date
from core.text import fold_keeping_positions

#: The national notice (发改财金〔2025〕565号) lets the owner choose a period of at most five years.
MAX_YEARS = 5


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def label(self) -> str:
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"

    @property
    def covered_start(self) -> date:
        """The first day for which the platform holds complete data."""
        return max(self.start, DATA_START)

    @property
    def partly_uncovered(self) -> bool:
        """Records are only collected from DATA_START on; the report must say so for earlier time."""
        return self.start < DATA_START


class PeriodError(ValueError):
    """A period the user stated but that cannot be used; `message` is shown to them as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: Buttons the chat offers; the phrase is what a tap sends, so it must parse.
QUICK_CHOICES: list[tuple[str, str]] = [
    ("近一年", "近一年"),
    ("近三年", "近三年"),
    ("今年", "今年"),
    ("去年", "去年"),
    (f"全部（{cn_date(DATA_START)}起，最长{MAX_YEARS}年）", "全部"),
]

# --- vocabulary -------------------------------------------------------------------------

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = r"(?:[一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九])"
_NUMBER = rf"(?:(?<!\d)\d{{1,2}}(?!\d)|{_CN_NUMBER})"
_YEAR = r"(?<![\dA-Za-z])(?:19|20)\d{2}(?!\d)"
#: Chinese forms tolerate any 1–2 digit month or day so that 2023年13月 is reported, not skipped.
_CN_MONTH = rf"(?:\d{{1,2}}(?!\d)|{_CN_NUMBER})"
_NUM_MONTH = r"(?:1[0-2]|0?[1-9])(?!\d)"
_NUM_DAY = r"(?:3[01]|[12]\d|0?[1-9])(?!\d)"
_SEP = r"\s*(?:至|到|直到|一直到|—+|–|-|~|〜)\s*"
_NOW = r"(?:今天|今日|现在|目前|当前|今)"
_THIS_YEAR = r"(?:今年|本年度?)"
_LAST_YEAR = r"(?:去年|上一?年度?)"
_YEAR_BEFORE_LAST = r"前年"
_ALL_TIME = (
    r"(?:(?:全部|所有|全)的?(?:时间|期间|时段|日期|年份)段?|不限时间|时间不限"
    r"|(?:从|自)?有(?:数据|记录)(?:以来|开始|起))"
)
#: A whole reply that only says "everything", e.g. tapping the 全部 button.
_ALL_REPLY = re.compile(r"(?:全部|所有|全都要|都要|不限|全部都要|所有的|全部的)")
_FILLER = re.compile(
    r"请|麻烦|帮我|帮忙|我要|我想要|我想|想要|需要|就是|就|选|用|开|查询|查|要|报告|信用报告"
    r"|时间段|时间范围|时间|期间|范围|的|吧|呢|啊|呀|哦|嗯|好的|好|可以|行|谢谢|了|那|一下"
    r"|[\s。，,！!？?、~～.;；:：]"
)


def _date(p: str, *, year_optional: bool = False) -> str:
    """A date at year, month or day precision; `p` keeps group names unique per side of a range."""
    year = rf"(?P<{p}y>{_YEAR})"
    chinese = (
        rf"\s*年度?(?:\s*(?P<{p}cm>{_CN_MONTH})\s*月份?"
        rf"(?:\s*(?P<{p}cd>\d{{1,2}})(?!\d)\s*[日号]?)?)?"
    )
    numeric = rf"(?P<{p}s>[-./])(?P<{p}nm>{_NUM_MONTH})(?:(?P={p}s)(?P<{p}nd>{_NUM_DAY}))?"
    dated = rf"{year}(?:{chinese}|{numeric})?"
    if not year_optional:
        return dated
    month_only = rf"(?P<{p}om>{_CN_MONTH})\s*月份?(?:\s*(?P<{p}od>\d{{1,2}})(?!\d)\s*[日号]?)?"
    return rf"(?:{dated}|{month_only})"


_RANGE = re.compile(
    rf"(?:从|自)?\s*{_date('a')}\s*(?:起|开始)?{_SEP}"
    rf"(?:(?P<now>{_NOW})(?!年)|{_date('b', year_optional=True)})\s*(?:止|为止)?"
)
_SINCE = re.compile(rf"(?P<from>从|自)?\s*{_date('a')}\s*(?:(?:以来|迄今|至今)|(?:起|开始)(?:至今|以来)?)")
_SINGLE = re.compile(rf"{_date('a')}(?P<full>全年|整年|一整年)?")
_RELATIVE = re.compile(
    rf"(?:(?:最近|近|过去|以往|前)的?\s*(?P<n>{_NUMBER}|半)\s*(?P<unit>个?月|年|天|日)"
    rf"(?:来|以来|内|之内|以内|期间)?"
    rf"|(?P<n2>{_NUMBER}|半)\s*(?P<unit2>个?月|年|天)(?:内|之内|以内))"
)
_YEAR_WORD = re.compile(
    rf"(?P<this>{_THIS_YEAR}(?P<thisfull>全年|一整年)?(?:以来)?)"
    rf"|(?P<last>{_LAST_YEAR}(?:全年|一整年)?)|(?P<before>{_YEAR_BEFORE_LAST}(?:全年|一整年)?)"
)
_HALF = re.compile(
    rf"(?:(?P<this>{_THIS_YEAR})|(?P<last>{_LAST_YEAR})|(?P<before>{_YEAR_BEFORE_LAST})"
    rf"|(?P<y>{_YEAR})\s*年)?(?P<half>上|下)半年"
)
_QUARTER = re.compile(
    rf"(?:(?P<this>{_THIS_YEAR})|(?P<last>{_LAST_YEAR})|(?P<before>{_YEAR_BEFORE_LAST})"
    rf"|(?P<y>{_YEAR})\s*年)?第?(?P<q>[1-4一二三四])季度"
)
_ALL = re.compile(_ALL_TIME)


# --- dates ------------------------------------------------------------------------------


def _cn_int(text: str) -> int:
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[text]


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _month_end(year: int, month: int) -> date:
    return date(year, month, _last_day(year, month))


def _months_before(day: date, months: int) -> date:
    """The same day `months` earlier, or that month's last day (3-31 minus one month is 2-28)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, _last_day(year, month + 1)))


def _check_month(month: int) -> None:
    if not 1 <= month <= 12:
        raise PeriodError(f"“{month}月”不是有效的月份，月份应在1至12之间。")


def _make_date(year: int, month: int, day: int) -> date:
    _check_month(month)
    if not 1 <= day <= _last_day(year, month):
        raise PeriodError(f"{year}年{month}月没有{day}日，请检查日期。")
    return date(year, month, day)


@dataclass(frozen=True)
class _Stated:
    """One side of a range as written: the year, and the month and day when given."""

    year: int
    month: int | None
    day: int | None

    def first(self) -> date:
        return _make_date(self.year, self.month or 1, self.day or 1)

    def last(self) -> date:
        month = self.month or 12
        _check_month(month)
        return _make_date(self.year, month, self.day or _last_day(self.year, month))


def _stated(match: re.Match[str], p: str) -> _Stated:
    month = match[f"{p}cm"] or match[f"{p}nm"]
    day = match[f"{p}cd"] or match[f"{p}nd"]
    return _Stated(int(match[f"{p}y"]), _optional_int(month), _optional_int(day))


def _stated_end(match: re.Match[str], start: _Stated) -> _Stated:
    """The end of a range, which may leave out its year: 2023年3月至6月."""
    if match["bom"]:
        return _Stated(start.year, _cn_int(match["bom"]), _optional_int(match["bod"]))
    return _stated(match, "b")


def _optional_int(text: str | None) -> int | None:
    return None if text is None else _cn_int(text)


# --- phrase builders --------------------------------------------------------------------
# Each turns a regex match into a Period, or None when the match is not really a period.

_Builder = Callable[[re.Match[str], date], Period | None]


def _from_range(match: re.Match[str], today: date) -> Period:
    start = _stated(match, "a")
    if match["now"]:
        return Period(start.first(), today)
    return Period(start.first(), _stated_end(match, start).last())


def _from_since(match: re.Match[str], today: date) -> Period:
    return Period(_stated(match, "a").first(), today)


def _from_single(match: re.Match[str], today: date) -> Period | None:
    stated = _stated(match, "a")
    if stated.day is not None or (stated.month is None and "年" not in match[0]):
        # A lone day is not a period, and a bare 2024 without 年 is too likely something else.
        return None
    start, end = stated.first(), stated.last()
    if start <= today <= end and not match["full"]:
        # 2026年 said in 2026 means 今年: up to today, like the policy's own examples.
        return Period(start, today)
    return Period(start, end)


def _from_relative(match: re.Match[str], today: date) -> Period:
    amount = match["n"] or match["n2"]
    unit = match["unit"] or match["unit2"]
    if amount == "半":
        months = 6 if unit == "年" else 0
        if not months:
            raise PeriodError("请说明具体的时间长度，例如“近六个月”。")
        return Period(_months_before(today, months) + timedelta(days=1), today)
    count = _cn_int(amount)
    if count < 1:
        raise PeriodError("时间长度至少为1，例如“近一年”。")
    if unit in ("天", "日"):
        return Period(today - timedelta(days=count - 1), today)
    months = count * 12 if unit == "年" else count
    return Period(_months_before(today, months) + timedelta(days=1), today)


def _named_year(match: re.Match[str], today: date) -> int:
    if match["last"]:
        return today.year - 1
    if match["before"]:
        return today.year - 2
    if match.groupdict().get("y"):
        return int(match["y"])
    return today.year


def _from_year_word(match: re.Match[str], today: date) -> Period:
    if match["this"] and not match["thisfull"]:
        return Period(date(today.year, 1, 1), today)
    year = _named_year(match, today)
    return Period(date(year, 1, 1), date(year, 12, 31))


def _from_half(match: re.Match[str], today: date) -> Period:
    year = _named_year(match, today)
    if match["half"] == "上":
        return Period(date(year, 1, 1), date(year, 6, 30))
    return Period(date(year, 7, 1), date(year, 12, 31))


def _from_quarter(match: re.Match[str], today: date) -> Period:
    year = _named_year(match, today)
    quarter = _cn_int(match["q"])
    return Period(date(year, quarter * 3 - 2, 1), _month_end(year, quarter * 3))


def _from_all(match: re.Match[str], today: date) -> Period:
    return all_time(today)


def earliest_start(end: date) -> date:
    """The first day a period ending on `end` may cover: five years back, as 近五年 counts them."""
    return _months_before(end, MAX_YEARS * 12) + timedelta(days=1)


def all_time(today: date) -> Period:
    """ "全部": everything the platform holds, but no more than the five years a period may span."""
    return Period(max(DATA_START, earliest_start(today)), today)


#: Earlier entries win when two phrases cover exactly the same text.
_PHRASES: tuple[tuple[re.Pattern[str], _Builder], ...] = (
    (_RANGE, _from_range),
    (_SINCE, _from_since),
    (_HALF, _from_half),
    (_QUARTER, _from_quarter),
    (_SINGLE, _from_single),
    (_RELATIVE, _from_relative),
    (_YEAR_WORD, _from_year_word),
    (_ALL, _from_all),
)

# --- public API -------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Full-width digits and punctuation to ASCII, one character for one, so spans stay valid."""
    return fold_keeping_positions(text)


def find_period(text: str, today: date) -> tuple[Period, tuple[int, int]] | None:
    """The period phrase in `text` and its span; the longest phrase wins, then the earliest.

    Raises PeriodError when the phrase names a date that does not exist (2023年2月30日),
    because reading the rest of it as some other period would silently change what was asked.
    """
    folded = _fold(text)
    best: tuple[Period, tuple[int, int]] | None = None
    for pattern, builder in _PHRASES:
        for match in pattern.finditer(folded):
            span = _trimmed_span(match)
            if best is not None and not _longer_or_earlier(span, best[1]):
                continue
            if (period := builder(match, today)) is not None:
                best = (period, span)
    return best


def _longer_or_earlier(span: tuple[int, int], than: tuple[int, int]) -> bool:
    return (span[1] - span[0], -span[0]) > (than[1] - than[0], -than[0])


def _trimmed_span(match: re.Match[str]) -> tuple[int, int]:
    """The match span without the leading and trailing spaces some patterns allow."""
    text = match[0]
    start = match.start() + (len(text) - len(text.lstrip()))
    return start, match.end() - (len(text) - len(text.rstrip()))


def parse_period(text: str, today: date) -> Period | None:
    """The period when `text` says nothing else, e.g. a reply to "报告涵盖哪段时间？"."""
    folded = _fold(text)
    if _ALL_REPLY.fullmatch(_FILLER.sub("", folded)):
        return all_time(today)
    found = find_period(folded, today)
    if found is None:
        return None
    period, (start, end) = found
    rest = folded[:start] + " " + folded[end:]
    return period if not _FILLER.sub("", rest) else None


def validate_period(period: Period, today: date) -> Period:
    """The period itself when a report may cover it; otherwise PeriodError says why, in Chinese."""
    start, end = period.start, period.end
    if start > end:
        raise PeriodError(
            f"开始日期（{start.isoformat()}）晚于结束日期（{end.isoformat()}），请检查时间的先后顺序。"
        )
    if start > today:
        raise PeriodError(
            f"开始日期（{start.isoformat()}）还没有到，报告只能涵盖今天（{today.isoformat()}）及以前的时间。"
        )
    if end > today:
        raise PeriodError(
            f"结束日期不能晚于今天（{today.isoformat()}），您给出的结束日期是{end.isoformat()}。"
        )
    if end < DATA_START:
        raise PeriodError(
            f"平台自{cn_date(DATA_START)}起归集违法违规记录，所选期间（{period.label()}）全部早于该日期，"
            f"无法出具报告，请选择包含{cn_date(DATA_START)}以后的期间。"
        )
    if start < earliest_start(end):
        raise PeriodError(
            f"报告期间最长为{MAX_YEARS}年，所选期间（{period.label()}）超过了{MAX_YEARS}年，"
            f"请选择从{earliest_start(end).isoformat()}或更晚开始的期间。"
        )
    return period
