"""Identity dialog: USCC checks, entity confirmation, name, ID tail, SMS code, lockout, binding."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import Binding, Conversation
from tests.chat_client import ACME, RIVER, ChatClient, ChatWorld, open_world, verify

_binding = Binding.__table__


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[ChatWorld]:
    world = await open_world(engine, tmp_path)
    yield world
    await world.close()


async def _to_step(chat: ChatClient, step: str) -> None:
    await chat.say("绑定企业")
    await chat.say(ACME.uscc)
    if step == "confirm":
        return
    await chat.tap("是")
    if step == "legal_rep":
        return
    await chat.say(ACME.legal_rep)
    if step == "id_tail":
        return
    await chat.say(ACME.id_tail)


async def test_full_identity_flow_binds_for_thirty_days(world: ChatWorld) -> None:
    chat = world.client()
    (await chat.say("绑定企业")).says("18位统一社会信用代码")
    (await chat.say(ACME.uscc)).says(f"找到企业：{ACME.name}")
    (await chat.tap("是")).says("法定代表人的姓名")
    (await chat.say(f" {ACME.legal_rep} ")).says("身份证号码的后6位")
    (await chat.say(ACME.id_tail.lower())).says("验证码已发送至 138****1234", "5分钟内有效")
    (await chat.say(await world.sms_code(ACME.phone))).says("身份核验成功", ACME.name, "30天内")
    async with world.db.connect() as conn:
        row = (await conn.execute(select(_binding).where(_binding.c.user_id == chat.user))).one()
    assert row.uscc == ACME.uscc
    assert (row.expires_at - row.confirmed_at).days == 30


async def test_uscc_errors_point_at_the_problem(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    (await chat.say(ACME.uscc[:-1])).says("应为18位", "17位")
    (await chat.say(ACME.uscc[:3] + "A" + ACME.uscc[4:])).says("第4位")
    wrong_check = ACME.uscc[:-1] + ("0" if ACME.uscc[-1] != "0" else "1")
    (await chat.say(wrong_check)).says("第18位校验码不符")


async def test_o_for_zero_gets_a_suggestion_with_a_yes_button(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    slipped = ACME.uscc.replace("0", "O")
    replies = await chat.say(slipped)
    replies.says(f"您是不是想输入 {ACME.uscc}？")
    assert replies.labels() == ["是"]
    (await chat.tap("是")).says(f"找到企业：{ACME.name}")


async def test_lower_case_spaces_and_full_width_are_accepted(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    spaced = " ".join(ACME.uscc[i : i + 6] for i in range(0, 18, 6)).lower()
    (await chat.say(f"我的代码是 {spaced}")).says(f"找到企业：{ACME.name}")


async def test_unknown_entity_and_not_this_one(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    (await chat.say("91350100M000100Y43")).says("没有找到统一社会信用代码为 91350100M000100Y43")
    await chat.say(RIVER.uscc)
    (await chat.tap("不是")).says("请重新输入统一社会信用代码")
    (await chat.say(ACME.uscc)).says(ACME.name)


def _mismatch(left: int) -> str:
    return (
        f"法定代表人姓名或身份证号码后6位与登记信息不一致。请核对后重新输入，您还可以尝试{left}次。\n"
        "请输入该企业法定代表人的姓名。"
    )


async def test_a_wrong_name_and_a_wrong_id_tail_get_the_same_answer(world: ChatWorld) -> None:
    chat = world.client()
    await _to_step(chat, "legal_rep")
    (await chat.say("张三")).says("身份证号码的后6位").never_says("不一致")
    assert (await chat.say(ACME.id_tail)).text == _mismatch(4)
    await chat.say(ACME.legal_rep)
    assert (await chat.say("000000")).text == _mismatch(3)
    await chat.say(ACME.legal_rep)
    (await chat.say(ACME.id_tail)).says("验证码已发送至")


async def test_code_expires_after_five_minutes_and_can_be_resent(world: ChatWorld) -> None:
    chat = world.client()
    await _to_step(chat, "code")
    first = await world.sms_code(ACME.phone)
    (await chat.tap("重新发送验证码")).says("秒后再重新发送")
    world.clock.advance(minutes=5, seconds=1)
    (await chat.say(first)).says("验证码已过期").never_says("身份核验成功")
    (await chat.tap("重新发送验证码")).says("验证码已发送至 138****1234")
    second = await world.sms_code(ACME.phone)
    (await chat.say(second)).says("身份核验成功")


async def test_an_old_code_is_useless_after_a_resend(world: ChatWorld) -> None:
    chat = world.client()
    await _to_step(chat, "code")
    first = await world.sms_code(ACME.phone)
    world.clock.advance(seconds=61)
    await chat.tap("重新发送验证码")
    second = await world.sms_code(ACME.phone)
    if first == second:  # one resend in a million draws the same six digits: nothing to tell apart
        pytest.skip("the resent code happened to equal the first")
    (await chat.say(first)).says("验证码不正确")
    (await chat.say(second)).says("身份核验成功")


async def test_code_is_not_kept_in_clear_in_the_state(world: ChatWorld) -> None:
    chat = world.client()
    await _to_step(chat, "code")
    code = await world.sms_code(ACME.phone)
    async with world.db.connect() as conn:
        state = (
            await conn.execute(
                select(Conversation.__table__.c.state).where(Conversation.__table__.c.user_id == chat.user)
            )
        ).scalar()
    assert code not in str(state)
    assert ACME.phone not in str(state)


async def test_binding_expires_after_the_configured_days(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    await verify(world, chat)
    (await chat.say("开报告")).says("请选择报告涵盖的时间").never_says("核验您的身份")
    await chat.say("取消")
    world.clock.advance(days=30, seconds=1)
    (await chat.say("开报告")).says("需要先核验您的身份")


async def test_already_bound_entity_needs_no_second_check(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    await verify(world, chat)
    await chat.say("绑定企业")
    (await chat.say(ACME.uscc)).says("无需再次核验").never_says("找到企业")
