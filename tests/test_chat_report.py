"""Report dialog: every period and domain phrasing, one-sentence requests, confirmation, issuing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.records import china_today
from storage.models import IssuedReport
from tests.chat_client import ACME, LIAR, RIVER, Business, ChatClient, ChatWorld, open_world, verify


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[ChatWorld]:
    world = await open_world(engine, tmp_path)
    yield world
    await world.close()


async def _bound(world: ChatWorld, *businesses: Business) -> ChatClient:
    chat = world.client()
    for business in businesses or (ACME,):
        await chat.say("绑定企业")
        await verify(world, chat, business)
    return chat


async def _issued_count(world: ChatWorld) -> int:
    async with world.db.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(IssuedReport.__table__))).scalar()


def _years_back(today: date, years: int) -> date:
    return today.replace(year=today.year - years) + timedelta(days=1)


async def test_one_sentence_fills_period_and_domains_and_asks_only_to_confirm(world: ChatWorld) -> None:
    chat = await _bound(world)
    today = china_today(world.clock())
    replies = await chat.say("帮我开近三年环保和安全生产的信用报告")
    replies.says(
        "请确认报告信息",
        f"期间：{_years_back(today, 3).isoformat()} 至 {today.isoformat()}",
        "领域：生态环境、应急管理（安全生产）",
        ACME.name,
    )
    assert replies.labels() == ["确认开具", "修改期间", "修改领域", "取消"]


async def test_one_sentence_before_identity_asks_identity_then_confirmation(world: ChatWorld) -> None:
    chat = world.client()
    (await chat.say("帮我开近三年环保和安全生产的信用报告")).says("需要先核验您的身份", "统一社会信用代码")
    (await verify(world, chat)).says("请确认报告信息", "生态环境、应急管理（安全生产）")


async def test_confirm_issues_a_report_reply(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开一份去年税务的报告")
    replies = await chat.tap("确认开具")
    report = replies.report()
    assert report["report_no"].startswith("SX")
    assert report["pdf_url"].endswith(f"/r/{report['report_no']}.pdf?code=" + report["verify_url"][-8:])
    assert f"/v/{report['report_no']}?code=" in report["verify_url"]
    assert f"/v/{report['report_no']}/qr.svg?code=" in report["qr_url"]
    assert await _issued_count(world) == 1


@pytest.mark.parametrize(
    ("phrase", "start", "end"),
    [
        ("2024年", "2024-01-01", "2024-12-31"),
        ("2023年3月至2024年6月", "2023-03-01", "2024-06-30"),
        ("2023.3-2024.6", "2023-03-01", "2024-06-30"),
        ("从2022年8月1日至今", "2022-08-01", "TODAY"),
        ("全部", "2022-08-01", "TODAY"),
    ],
)
async def test_absolute_period_phrasings(world: ChatWorld, phrase: str, start: str, end: str) -> None:
    chat = await _bound(world)
    (await chat.say("开报告")).says("请选择报告涵盖的时间")
    today = china_today(world.clock()).isoformat()
    (await chat.say(phrase)).says("请选择报告涵盖的领域")
    (await chat.say("全部")).says(f"期间：{start} 至 {end.replace('TODAY', today)}", "全部40个领域")


@pytest.mark.parametrize(
    ("phrase", "start", "end"),
    [
        # The chat clock starts at CLOCK_START: 2026-11-26 in Beijing.
        ("近一年", "2025-11-27", "2026-11-26"),
        ("近三年", "2023-11-27", "2026-11-26"),
        ("近半年", "2026-05-27", "2026-11-26"),
        ("近6个月", "2026-05-27", "2026-11-26"),
        ("去年", "2025-01-01", "2025-12-31"),
        ("今年", "2026-01-01", "2026-11-26"),
    ],
)
async def test_relative_period_phrasings(world: ChatWorld, phrase: str, start: str, end: str) -> None:
    assert china_today(world.clock()) == date(2026, 11, 26)
    chat = await _bound(world)
    await chat.say("开报告")
    await chat.say(phrase)
    (await chat.say("税务")).says_line(f"期间：{start} 至 {end}")


async def test_quick_period_choices_and_custom(world: ChatWorld) -> None:
    chat = await _bound(world)
    replies = await chat.say("开报告")
    assert {"近一年", "近三年", "今年", "去年", "其他时间"} <= set(replies.labels())
    (await chat.tap("其他时间")).says("请直接输入报告期间")
    (await chat.say("2024年")).says("请选择报告涵盖的领域")
    (await chat.say("开报告")).says("我们继续办理报告", "请选择报告涵盖的领域")
    await chat.say("取消")
    await chat.say("开报告")
    (await chat.tap("去年")).says("请选择报告涵盖的领域")


async def test_period_errors_are_explained(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    (await chat.say("2030年")).says("还没有到").says("请选择报告涵盖的时间")
    (await chat.say("2021年")).says("全部早于该日期")
    (await chat.say("2022年")).says("请选择报告涵盖的领域")
    (await chat.say("全部")).says("此前的时段报告中将注明不在覆盖范围内")


async def test_a_period_over_five_years_is_refused_with_the_reason(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    refused = await chat.say("2020年12月至2026年10月")
    assert refused.text.splitlines()[0] == (
        "报告期间最长为5年，所选期间（2020-12-01 至 2026-10-31）超过了5年，"
        "请选择从2021-11-01或更晚开始的期间。"
    )
    refused.says("请选择报告涵盖的时间")
    (await chat.say("近五年")).says("请选择报告涵盖的领域")


@pytest.mark.parametrize(
    ("phrase", "names"),
    [
        ("环保、安全生产和税务", "生态环境、应急管理（安全生产）、税务"),
        ("生太环境", "生态环境"),
        ("工商 住建", "市场监管、住房城乡建设"),
        ("社保和消防", "人力社保、消防救援"),
    ],
)
async def test_domain_lists_aliases_and_typos(world: ChatWorld, phrase: str, names: str) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    await chat.say("近一年")
    (await chat.say(phrase)).says_line(f"领域：{names}")


async def test_exclusion_keeps_the_other_39(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    await chat.say("近一年")
    replies = await chat.say("除了税务都要")
    line = next(line for line in replies.text.splitlines() if line.startswith("领域："))
    assert "税务" not in line and line.count("、") == 38


async def test_everything_by_button_and_by_word(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    await chat.say("近一年")
    (await chat.tap("全部领域")).says("全部40个领域")
    await chat.tap("修改领域")
    (await chat.say("全部")).says("全部40个领域")


async def test_multi_select_buttons(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    replies = await chat.say("近一年")
    multi = replies.multi()
    assert multi["multi"] is True and len(multi["options"]) == 40
    (await chat.tap_many("税务", "生态环境", "消防救援")).says_line("领域：生态环境、税务、消防救援")
    await chat.tap("修改领域")
    (await chat.act("domains:5,9,13")).says_line("领域：生态环境、应急管理（安全生产）、税务")


async def test_ambiguous_word_is_asked_with_choices(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    await chat.say("近一年")
    replies = await chat.say("安全和税务")
    replies.says("“安全”可能指以下领域")
    assert "应急管理（安全生产）" in replies.labels() and "市场监管" in replies.labels()
    (await chat.tap("应急管理（安全生产）")).says_line("领域：应急管理（安全生产）、税务")


async def test_unknown_domain_word_is_reported(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    await chat.say("近一年")
    (await chat.say("航空")).says("没有找到与“航空”对应的领域", "请选择报告涵盖的领域")


async def test_confirmation_can_change_period_and_domains(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开近一年税务的报告")
    (await chat.tap("修改期间")).says("请选择报告涵盖的时间")
    (await chat.say("2024年")).says("期间：2024-01-01 至 2024-12-31", "领域：税务")
    (await chat.say("再加上环保")).says_line("领域：生态环境、税务")
    (await chat.say("只要消防")).says_line("领域：消防救援")


async def test_several_entities_are_asked_which(world: ChatWorld) -> None:
    chat = await _bound(world, ACME, RIVER)
    replies = await chat.say("开近一年税务的报告")
    replies.says("请选择要为哪家企业开具报告")
    assert {ACME.name, RIVER.name, "绑定其他企业"} <= set(replies.labels())
    (await chat.tap(RIVER.name)).says("请确认报告信息", RIVER.name, "领域：税务")


async def test_false_commitment_entity_is_refused(world: ChatWorld) -> None:
    chat = await _bound(world, LIAR)
    (await chat.say("开近一年税务的报告")).says("虚假承诺", "无法为其出具专项信用报告").never_says("请确认")
    assert await _issued_count(world) == 0


async def test_my_reports_lists_and_resends(world: ChatWorld) -> None:
    chat = await _bound(world)
    (await chat.say("我的报告")).says("还没有开具过报告")
    await chat.say("开近一年税务的报告")
    first = (await chat.tap("确认开具")).report()
    replies = await chat.say("我的报告")
    replies.says("最近的报告")
    again = (await chat.tap(first["report_no"])).report()
    assert again == {**first, "text": again["text"]}
    assert await _issued_count(world) == 1
    stranger = world.client()
    (await stranger.act(f"report:{first['report_no']}")).never_says(first["report_no"])


async def test_my_reports_only_shows_bound_entities(world: ChatWorld) -> None:
    owner = await _bound(world)
    await owner.say("开近一年税务的报告")
    await owner.tap("确认开具")
    other = await _bound(world, RIVER)
    (await other.say("我的报告")).says("还没有开具过报告")
