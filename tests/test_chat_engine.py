"""The engine: persistence across restarts, message-id dedupe, per-user serialisation, expiry,
global commands, task switching, and exactly-once issuing across crashes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dialogs.base import Services
from bot.dialogs.state import ConversationState, IdentityStep, load_state
from bot.engine import APOLOGY
from core.periods import Period
from core.report_identity import ReportLinks
from storage.chat.group_commit import GroupCommit, TurnWrite
from storage.chat.turn import Loaded
from storage.models import CodeRequest, Conversation, IssuedReport, OutboxMessage
from tests.chat_client import ACME, ChatClient, ChatWorld, engine_sender, open_world, verify


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[ChatWorld]:
    world = await open_world(engine, tmp_path)
    yield world
    await world.close()


async def _count(world: ChatWorld, table) -> int:
    async with world.db.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar()


async def _state(world: ChatWorld, user: str) -> ConversationState:
    table = Conversation.__table__
    async with world.db.connect() as conn:
        saved = (await conn.execute(select(table.c.state).where(table.c.user_id == user))).scalar()
    return load_state(saved)


async def _bound(world: ChatWorld) -> ChatClient:
    chat = world.client()
    await chat.say("绑定企业")
    await verify(world, chat)
    return chat


# --- persistence ---------------------------------------------------------------------------


async def test_a_restarted_engine_continues_every_step_of_the_flow(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("帮我开近三年环保的信用报告")
    world.restart()
    (await chat.say(ACME.uscc)).says(ACME.name)
    world.restart()
    (await chat.tap("是")).says("法定代表人的姓名")
    world.restart()
    await chat.say(ACME.legal_rep)
    world.restart()
    await chat.say(ACME.id_tail)
    world.restart()
    (await chat.say(await world.sms_code(ACME.phone))).says(
        "身份核验成功", "请确认报告信息", "领域：生态环境"
    )
    world.restart()
    (await chat.tap("确认开具")).report()


# --- message ids -----------------------------------------------------------------------------


async def test_a_repeated_message_id_gets_the_same_replies_and_does_nothing_again(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    await chat.say(ACME.uscc)
    await chat.tap("是")
    await chat.say(ACME.legal_rep)
    first = await chat.say(ACME.id_tail, msg_id="m-1")
    sent = await _count(world, OutboxMessage.__table__)
    world.restart()
    again = await chat.say(ACME.id_tail, msg_id="m-1")
    assert again == first
    assert await _count(world, OutboxMessage.__table__) == sent == 1


async def test_the_same_message_id_twice_at_the_same_moment_acts_once(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    await chat.say(ACME.uscc)
    await chat.tap("是")
    await chat.say(ACME.legal_rep)
    first, second = await asyncio.gather(
        chat.say(ACME.id_tail, msg_id="dup"), chat.say(ACME.id_tail, msg_id="dup")
    )
    assert first == second
    assert await _count(world, OutboxMessage.__table__) == 1


async def test_the_same_message_id_in_two_processes_at_once_acts_once(world: ChatWorld) -> None:
    """Two engines share only the database, like two service processes: the DB must serialise."""
    chat = world.client()
    await chat.say("绑定企业")
    await chat.say(ACME.uscc)
    await chat.tap("是")
    await chat.say(ACME.legal_rep)
    other = world.new_engine()
    first, second = await asyncio.gather(
        world.engine.handle(chat.user, text=ACME.id_tail, msg_id="dup"),
        other.handle(chat.user, text=ACME.id_tail, msg_id="dup"),
    )
    assert first == second
    assert await _count(world, OutboxMessage.__table__) == 1


async def test_two_messages_of_one_user_at_the_same_moment_run_one_after_the_other(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    await chat.say(ACME.uscc)
    first, second = await asyncio.gather(chat.act("yes"), chat.say(ACME.legal_rep))
    first.says("法定代表人的姓名")
    second.says("身份证号码的后6位")
    assert len(world.engine.locks) == 0, "a user's lock outlived their messages"
    assert (await _state(world, chat.user)).flow.step is IdentityStep.ID_TAIL


async def test_two_processes_interleaving_one_user_lose_no_update(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    await chat.say(ACME.uscc)
    other = ChatClient(engine_sender(world.new_engine()), chat.user)
    await asyncio.gather(chat.act("yes"), other.say(ACME.legal_rep))
    # Whichever ran first, both turns were applied on top of each other, not on the same old state.
    state = await _state(world, chat.user)
    assert state.flow.step in {IdentityStep.ID_TAIL, IdentityStep.LEGAL_REP}
    table = Conversation.__table__
    async with world.db.connect() as conn:
        version = (await conn.execute(select(table.c.version).where(table.c.user_id == chat.user))).scalar()
    assert version == 4


# --- expiry -----------------------------------------------------------------------------------


async def test_an_idle_conversation_expires_politely_and_can_continue(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    await chat.say(ACME.uscc)
    await chat.tap("是")
    world.clock.advance(minutes=31)
    replies = await chat.say(ACME.legal_rep)
    replies.says("超过30分钟没有操作", "绑定企业（身份核验）", "已暂停").never_says("身份证号码")
    assert replies.labels() == ["继续办理", "重新开始"]
    (await chat.tap("继续办理")).says("从刚才的步骤继续", "法定代表人的姓名")
    (await chat.say(ACME.legal_rep)).says("身份证号码的后6位")


async def test_an_expired_conversation_can_start_over(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开近一年的报告")
    world.clock.advance(minutes=30, seconds=1)
    (await chat.say("税务")).says("已暂停")
    (await chat.tap("重新开始")).says("请选择报告涵盖的时间")


async def test_within_thirty_minutes_nothing_expires(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开近一年的报告")
    world.clock.advance(minutes=29)
    (await chat.say("税务")).says("请确认报告信息")


# --- global commands --------------------------------------------------------------------------


async def test_cancel_at_every_step(world: ChatWorld) -> None:
    chat = world.client()
    for steps in ([], [ACME.uscc], [ACME.uscc, "是"], [ACME.uscc, "是", ACME.legal_rep]):
        await chat.say("绑定企业")
        for text in steps:
            await chat.say(text)
        (await chat.say("取消")).says("已取消当前办理")
        assert (await _state(world, chat.user)).flow is None


async def test_back_goes_one_step_back_each_time(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    await chat.say("近一年")
    (await chat.say("税务")).says("请确认报告信息")
    (await chat.say("返回")).says("回到上一步", "请选择报告涵盖的领域")
    (await chat.tap("返回") if "返回" in chat.last.labels() else await chat.act("back")).says(
        "请选择报告涵盖的时间"
    )
    (await chat.say("返回")).says("已经是第一步了", "请选择报告涵盖的时间")
    (await chat.say("去年")).says("请选择报告涵盖的领域")


async def test_back_in_identity(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("绑定企业")
    await chat.say(ACME.uscc)
    await chat.tap("是")
    (await chat.say("返回")).says(f"找到企业：{ACME.name}")
    (await chat.say("返回")).says("18位统一社会信用代码")


async def test_help_explains_the_current_step_and_asks_again(world: ChatWorld) -> None:
    chat = await _bound(world)
    (await chat.say("帮助")).says("取消、返回", "请问您要办理什么业务")
    await chat.say("开报告")
    (await chat.say("帮助")).says("近半年", "2023.3-2024.6", "请选择报告涵盖的时间")
    await chat.say("近一年")
    (await chat.act("help")).says("除了税务都要", "请选择报告涵盖的领域")


async def test_restart_starts_the_current_task_over(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开近一年的报告")
    (await chat.say("重新开始")).says("重新开始", "请选择报告涵盖的时间")
    state = await _state(world, chat.user)
    assert state.flow.data.period is None


# --- task switching ---------------------------------------------------------------------------


async def test_naming_another_task_mid_flow_asks_whether_to_switch(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开报告")
    replies = await chat.say("查进度")
    replies.says("您正在办理“开具信用报告”", "切换到“我的报告”")
    (await chat.tap("继续当前办理")).says("我们继续", "请选择报告涵盖的时间")
    await chat.say("我的报告")
    (await chat.tap("切换到我的报告")).says("还没有开具过报告")
    assert (await _state(world, chat.user)).flow is None


async def test_asking_for_a_report_during_identity_is_not_a_switch(world: ChatWorld) -> None:
    chat = world.client()
    await chat.say("帮我开近一年税务的报告")
    (await chat.say("开报告")).never_says("切换")
    (await chat.say("查进度")).says("切换到“我的报告”")


async def test_the_menu_starts_tasks_and_free_text_outside_a_flow_is_understood(world: ChatWorld) -> None:
    chat = world.client()
    replies = await chat.say("你好")
    replies.says("专项信用报告服务助手")
    assert {"开具信用报告", "我的报告", "绑定企业"} <= set(replies.labels())
    (await chat.say(ACME.uscc)).says(f"找到企业：{ACME.name}")
    await chat.say("取消")
    (await chat.say("近三年环保")).says("需要先核验您的身份")


# --- exactly-once issuing ----------------------------------------------------------------------


class _Stuck:
    """An issuer that (optionally) really issues, then never returns: the process 'dies' there."""

    def __init__(self, real, issue_first: bool) -> None:
        self.real = real
        self.issue_first = issue_first
        self.started = asyncio.Event()

    async def issue(
        self, user: str, uscc: str, period: Period, domains: list[int], request_id: str
    ) -> ReportLinks:
        if self.issue_first:
            await self.real.issue(user, uscc, period, domains, request_id)
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def links(self, row: Any) -> ReportLinks:
        return self.real.links(row)


@pytest.mark.parametrize("issued_before_crash", [False, True])
async def test_a_crash_while_issuing_neither_loses_nor_duplicates_the_report(
    world: ChatWorld, issued_before_crash: bool
) -> None:
    chat = await _bound(world)
    await chat.say("开近一年税务的报告")
    stuck = _Stuck(world.services.issuer, issued_before_crash)
    dying = world.new_engine(Services(world.services.hash_secret, world.services.sms, stuck))
    task = asyncio.create_task(dying.handle(chat.user, action="confirm:issue", msg_id="confirm-1"))
    await stuck.started.wait()
    task.cancel()  # kill -9: nothing after the committed "issuing" step runs
    world.restart()
    (await chat.say("好了吗")).says("正在生成")
    world.clock.advance(seconds=61)
    replies = await chat.act("confirm:issue", msg_id="confirm-1")
    replies.report()
    assert await _count(world, IssuedReport.__table__) == 1
    assert await chat.act("confirm:issue", msg_id="confirm-1") == replies
    assert await _count(world, IssuedReport.__table__) == 1


async def test_a_redelivered_confirmation_issues_once(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开近一年税务的报告")
    first, second = await asyncio.gather(
        chat.act("confirm:issue", msg_id="c-1"), chat.act("confirm:issue", msg_id="c-1")
    )
    assert first == second
    first.report()
    assert await _count(world, IssuedReport.__table__) == 1
    third = await chat.act("confirm:issue", msg_id="c-1")
    assert third == first
    assert await _count(world, IssuedReport.__table__) == 1


async def test_the_loop_stays_responsive_while_a_report_renders(world: ChatWorld) -> None:
    chat = await _bound(world)
    await chat.say("开近一年税务的报告")
    rendering = asyncio.create_task(chat.tap("确认开具"))
    other = world.client()
    for _ in range(5):
        (await other.say("你好")).says("服务助手")
    assert not rendering.done(), "other users waited for the render"
    (await rendering).report()


async def test_a_cancelled_turn_does_not_stall_the_others_in_its_group_commit(engine: AsyncEngine) -> None:
    """A client that hangs up mid-turn must not leave the rest of its batch (and their users) waiting."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the group commit is SQLite's write path")
    group = GroupCommit(engine.url.database)
    now = datetime.now(UTC)

    def turn(user: str) -> TurnWrite:
        return TurnWrite(user, Loaded({}, 0, None, None), {"step": "menu"}, now, f"m-{user}", [], [])

    hung_up = asyncio.create_task(group.write(turn("a")))
    waiting = asyncio.create_task(group.write(turn("b")))
    await asyncio.sleep(0)  # both turns are queued and the batch is being written
    hung_up.cancel()
    await asyncio.wait_for(waiting, timeout=10)
    await group.close()
    async with engine.connect() as connection:
        saved = (await connection.execute(select(func.count()).select_from(Conversation))).scalar()
    assert saved == 2  # the cancelled caller's turn was committed all the same; only its answer was dropped


class _BrokenGateway:
    """An SMS gateway that fails after the outbox row was queued, as a real one may time out."""

    async def send(self, store: Any, phone: str, body: str, now: datetime) -> None:
        await store.outbox("sms", phone, body, now)
        raise ConnectionError("gateway timed out")


async def test_a_failing_dialog_saves_nothing_of_its_turn_and_the_next_message_works(
    world: ChatWorld,
) -> None:
    broken = world.new_engine(dataclasses.replace(world.services, sms=_BrokenGateway()))
    chat = ChatClient(engine_sender(broken), "user-broken-gateway")
    await chat.say("绑定企业")
    await chat.say(ACME.uscc)
    await chat.tap("是")
    await chat.say(ACME.legal_rep)
    failed = await chat.say(ACME.id_tail, msg_id="m-tail")
    assert failed.text.splitlines()[0] == APOLOGY
    assert failed.labels() == ["开具信用报告", "我的报告", "绑定企业", "帮助"]
    assert await _count(world, OutboxMessage.__table__) == 0
    assert await _count(world, CodeRequest.__table__) == 0
    assert (await _state(world, chat.user)).flow is None
    # A redelivery gets the same apology and tries nothing again.
    assert (await chat.say(ACME.id_tail, msg_id="m-tail")).text == failed.text
    # The conversation is not wedged: the same user goes on with a working engine.
    chat = ChatClient(engine_sender(world.engine), chat.user)
    (await chat.say("绑定企业")).says("18位统一社会信用代码")
