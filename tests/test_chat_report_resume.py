"""A conversation left at "issuing" waits only for an owner process that can still finish it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dialogs.base import Services
from core.periods import Period
from core.report_identity import ReportLinks
from storage.db import session_factory
from storage.models import IssuedReport
from storage.processes import ServiceProcesses
from tests.chat_client import ChatWorld, open_world, verify


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[ChatWorld]:
    world = await open_world(engine, tmp_path)
    yield world
    await world.close()


class _Hung:
    """An issuer whose render never comes back, as in a process that froze or died mid-render."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.started = asyncio.Event()

    async def issue(
        self, user: str, uscc: str, period: Period, domains: list[int], request_id: str
    ) -> ReportLinks:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def links(self, row: Any) -> ReportLinks:
        return self.real.links(row)


async def _issued(world: ChatWorld) -> int:
    async with world.db.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(IssuedReport.__table__))).scalar()


@pytest.mark.parametrize("owner_ends", ["stopped", "silent"])
async def test_a_live_owner_is_waited_for_an_ended_one_not(world: ChatWorld, owner_ends: str) -> None:
    # Heartbeats are stamped by the system clock: the dialog's clock starts from it here.
    world.clock.now = datetime.now(UTC)
    sessions = session_factory(world.db)
    owner, me = ServiceProcesses(sessions), ServiceProcesses(sessions)
    await owner.register()
    await me.register()
    chat = world.client()
    await chat.say("绑定企业")
    await verify(world, chat)
    await chat.say("开近一年税务的报告")
    base = world.services
    hung = _Hung(base.issuer)
    rendering = world.new_engine(Services(base.hash_secret, base.sms, hung, processes=owner))
    task = asyncio.create_task(rendering.handle(chat.user, action="confirm:issue", msg_id="c-1"))
    await hung.started.wait()
    world.engine = world.new_engine(Services(base.hash_secret, base.sms, base.issuer, processes=me))

    (await chat.say("好了吗")).says("您的报告正在生成，请稍候片刻再发送任意消息查看结果。")
    assert await _issued(world) == 0
    if owner_ends == "stopped":
        task.cancel()
        await owner.stop()
    else:
        # The owner still has its row but has not beaten for three intervals (5 s each).
        world.clock.advance(seconds=16)
    replies = await chat.say("好了吗")
    replies.never_says("正在生成")
    replies.report()
    assert await _issued(world) == 1
    if owner_ends == "silent":
        task.cancel()
        await owner.stop()
    await me.stop()
