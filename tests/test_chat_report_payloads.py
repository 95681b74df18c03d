"""Malformed or foreign action payloads in the report dialogs: a polite answer, the step asked again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.domains import domain_by_name
from core.report_identity import make_report_no
from core.uscc import make_uscc
from tests.chat_client import ACME, LIAR, RIVER, Business, ChatClient, ChatWorld, open_world, verify

NOT_OFFERED = "抱歉，所选的不是下面列出的领域之一，请从下面的选项中选择。"
NO_DOMAIN = "抱歉，没有识别出所选的领域，请重新选择，至少选择一个领域。"
NO_PERIOD = "抱歉，没有识别出所选的时间范围，请重新选择或直接输入。"
NOT_FOUND = "没有在您绑定企业的报告中找到这份报告。"
AMBIGUOUS = "“安全”可能指以下领域，请选择："
PERIOD = "请选择报告涵盖的时间，也可以直接输入，如“2023年3月至2024年6月”："
DOMAINS = "请选择报告涵盖的领域"


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


def _texts(replies: list[dict]) -> list[str]:
    return [reply["text"] for reply in replies]


@pytest.mark.parametrize(
    "action",
    ["domain:abc", "domain:999", "domain:", "domain:5", "domain:9|domain:abc", "domain:-9", "domain:９"],
)
async def test_ambiguous_step_takes_only_an_offered_meaning(world: ChatWorld, action: str) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    await chat.say("近一年")
    (await chat.say("安全和税务")).says(AMBIGUOUS)
    assert _texts(await chat.act(action)) == [NOT_OFFERED, AMBIGUOUS]
    safety = domain_by_name("应急管理（安全生产）").number
    (await chat.act(f"domain:{safety}")).says_line("领域：应急管理（安全生产）、税务")


@pytest.mark.parametrize(
    "action", ["domains:abc", "domains:", "domains:5,abc", "domain:0", "domains:41", "domain:5|menu:report"]
)
async def test_domains_step_refuses_a_payload_naming_no_domain(world: ChatWorld, action: str) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    (await chat.say("近一年")).says(DOMAINS)
    replies = await chat.act(action)
    assert _texts(replies)[0] == NO_DOMAIN
    replies.says(DOMAINS)
    assert len(replies.multi()["options"]) == 40
    (await chat.act("domains:5,13")).says_line("领域：生态环境、税务")


async def test_a_domain_payload_at_the_period_step_asks_for_the_period_again(world: ChatWorld) -> None:
    chat = await _bound(world)
    (await chat.say("开报告")).says(PERIOD)
    assert _texts(await chat.act("domains:abc")) == [NO_DOMAIN, PERIOD]


@pytest.mark.parametrize(
    ("action", "answer"),
    [
        ("period:garbage", NO_PERIOD),
        ("period:", NO_PERIOD),
        ("period:2023年13月", "“13月”不是有效的月份，月份应在1至12之间。"),
        ("period:2024年2月30日至2024年3月1日", "2024年2月没有30日，请检查日期。"),
    ],
)
async def test_period_step_explains_an_unusable_period_payload(
    world: ChatWorld, action: str, answer: str
) -> None:
    chat = await _bound(world)
    (await chat.say("开报告")).says(PERIOD)
    assert _texts(await chat.act(action)) == [answer, PERIOD]
    (await chat.act("period:去年")).says(DOMAINS)


async def test_confirm_step_refuses_an_unknown_choice(world: ChatWorld) -> None:
    chat = await _bound(world)
    (await chat.say("开近一年税务的报告")).says("请确认报告信息")
    replies = await chat.act("confirm:garbage")
    assert _texts(replies)[0] == "抱歉，没有识别出您的选择，请点选下面的按钮。"
    assert replies.labels() == ["确认开具", "修改期间", "修改领域", "取消"]


@pytest.mark.parametrize("uscc", [LIAR.uscc, make_uscc("91140100MA0K8U2R8"), "", "not-a-uscc"])
async def test_entity_step_takes_only_an_entity_this_user_bound(world: ChatWorld, uscc: str) -> None:
    await _bound(world, LIAR)  # another user acts for LIAR
    chat = await _bound(world, ACME, RIVER)
    (await chat.say("开近一年税务的报告")).says("请选择要为哪家企业开具报告")
    replies = await chat.act(f"entity:{uscc}")
    assert _texts(replies) == ["请从下面的企业中选择一家。", "您已绑定多家企业，请选择要为哪家企业开具报告："]
    assert sorted(replies.labels()) == sorted([RIVER.name, ACME.name, "绑定其他企业"])
    (await chat.act(f"entity:{ACME.uscc}")).says("请确认报告信息", ACME.name)


async def test_my_reports_finds_only_this_users_reports(world: ChatWorld) -> None:
    owner = await _bound(world)
    await owner.say("开近一年税务的报告")
    mine = (await owner.tap("确认开具")).report()["report_no"]
    other = await _bound(world, RIVER)
    await other.say("开近一年税务的报告")
    theirs = (await other.tap("确认开具")).report()["report_no"]
    unknown = make_report_no(world.clock().date(), 999)
    (await owner.say("我的报告")).says("最近的报告")
    for action in ("report:", f"report:{theirs}", f"report:{unknown}", "report:SX", f"report:{mine[:-1]}#"):
        replies = await owner.act(action)
        assert _texts(replies)[0] == NOT_FOUND, action
        assert replies.labels() == [o for o in replies.labels() if o.startswith(mine)], action
        replies.never_says(theirs)
    (await owner.act(f"report:{mine.lower()}")).report()


async def test_back_to_an_answered_ambiguity_asks_for_what_is_missing(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    await chat.say("近一年")
    await chat.say("安全和税务")
    safety = domain_by_name("应急管理（安全生产）").number
    (await chat.act(f"domain:{safety}")).says("请确认报告信息")
    back = await chat.say("返回")
    assert back.text.splitlines()[0] == "好的，回到上一步。"
    back.says_line("领域：应急管理（安全生产）、税务")


async def test_back_after_withdrawing_the_period_asks_for_the_period(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    await chat.say("除了税务都要")
    (await chat.say("2023年3月至2024年6月")).says("请确认报告信息")
    (await chat.act("confirm:period")).says(PERIOD)
    back = await chat.act("back")
    assert _texts(back) == ["好的，回到上一步。", PERIOD]
