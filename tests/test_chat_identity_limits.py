"""Identity limits count what is attacked: an entity across user ids, a phone, an address, a user."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.records import CHINA_TZ
from core.throttle import ThrottleLimits
from storage.models import OutboxMessage
from tests.chat_client import ACME, RIVER, ChatClient, ChatWorld, open_world

_outbox = OutboxMessage.__table__


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[ChatWorld]:
    world = await open_world(engine, tmp_path)
    yield world
    await world.close()


def _locked(until: datetime) -> str:
    return f"为保护企业信息安全，身份核验因多次输入错误已暂停，请于{until.astimezone(CHINA_TZ):%H:%M}后再试。"


async def _at_id_tail(chat: ChatClient, business=ACME) -> None:
    await chat.say("绑定企业")
    await chat.say(business.uscc)
    await chat.tap("是")
    await chat.say(business.legal_rep)


async def _messages_to(world: ChatWorld, phone: str) -> list[str]:
    async with world.db.connect() as conn:
        rows = await conn.execute(
            select(_outbox.c.body).where(_outbox.c.recipient == phone).order_by(_outbox.c.id)
        )
        return [row.body for row in rows]


async def test_rotating_user_ids_does_not_escape_the_entity_lock(world: ChatWorld) -> None:
    started = world.clock.now
    for attempt in range(4):
        guesser = world.client()
        await _at_id_tail(guesser)
        (await guesser.say(f"00000{attempt}")).says(f"您还可以尝试{4 - attempt}次")
    fifth = world.client()
    await _at_id_tail(fifth)
    (await fifth.say("000009")).says(_locked(started + timedelta(minutes=15)))
    # A new user id is refused at once, before it may even confirm the entity.
    newcomer = world.client()
    await newcomer.say("绑定企业")
    (await newcomer.say(ACME.uscc)).says(_locked(started + timedelta(minutes=15))).never_says("找到企业")
    # The owner is told, without any code in the message.
    notices = await _messages_to(world, ACME.phone)
    assert notices == [
        f"【信用山西】贵单位（{ACME.name}）在专项信用报告服务中的身份核验因多次输入错误，"
        f"已暂停至{(started + timedelta(minutes=15)).astimezone(CHINA_TZ):%m月%d日%H:%M}。"
        "如非贵单位人员操作，请注意防范信息泄露。"
    ]
    assert re.search(r"\d{6}", notices[0]) is None
    # Another entity is not affected.
    other = world.client()
    await other.say("绑定企业")
    (await other.say(RIVER.uscc)).says(f"找到企业：{RIVER.name}")


async def test_a_second_lock_lasts_twice_as_long(world: ChatWorld) -> None:
    for _ in range(5):
        guesser = world.client()
        await _at_id_tail(guesser)
        await guesser.say("000000")
    world.clock.advance(minutes=15, seconds=1)
    relocked_at = world.clock.now
    for _ in range(5):
        guesser = world.client()
        await _at_id_tail(guesser)
        replies = await guesser.say("000000")
    replies.says(_locked(relocked_at + timedelta(minutes=30)))
    world.clock.advance(minutes=29)
    late = world.client()
    await late.say("绑定企业")
    (await late.say(ACME.uscc)).says("已暂停")
    world.clock.advance(minutes=1, seconds=1)
    (await late.say(ACME.uscc)).says(f"找到企业：{ACME.name}")


async def test_concurrent_guesses_from_many_user_ids_are_counted_one_by_one(world: ChatWorld) -> None:
    guessers = [world.client() for _ in range(20)]
    for guesser in guessers:
        await _at_id_tail(guesser)
    answers = await asyncio.gather(
        *(guesser.say(f"{index:06d}") for index, guesser in enumerate(guessers, start=100))
    )
    judged = [a for a in answers if "与登记信息不一致" in a.text]
    refused = [a for a in answers if a.text.startswith("为保护企业信息安全")]
    assert len(judged) == 5
    assert len(refused) == 15
    assert sorted(re.search(r"尝试(\d)次", a.text).group(1) for a in judged if "尝试" in a.text) == [
        "1",
        "2",
        "3",
        "4",
    ]


async def test_twenty_user_ids_get_one_code_to_the_phone(world: ChatWorld) -> None:
    """The SMS flood of the attack: 20 user ids who know name and ID tail, one phone."""
    flooders = [world.client() for _ in range(20)]
    answers = []
    for flooder in flooders:
        await _at_id_tail(flooder)
        answers.append(await flooder.say(ACME.id_tail))
    assert sum("验证码已发送至" in a.text for a in answers) == 1
    assert all("验证码刚刚发送过，请" in a.text for a in answers[1:])
    assert len(await _messages_to(world, ACME.phone)) == 1


async def test_five_codes_an_hour_to_one_phone_whoever_asks(world: ChatWorld) -> None:
    started = world.clock.now
    for _ in range(5):
        asker = world.client()
        await _at_id_tail(asker)
        (await asker.say(ACME.id_tail)).says("验证码已发送至")
        world.clock.advance(seconds=61)
    sixth = world.client()
    await _at_id_tail(sixth)
    refused = await sixth.say(ACME.id_tail)
    first_free = (started + timedelta(hours=1)).astimezone(CHINA_TZ)
    refused.says(f"验证码发送次数过多，请于{first_free:%H:%M}后再点击“重新发送验证码”。")
    assert len(await _messages_to(world, ACME.phone)) == 5
    world.clock.now = started + timedelta(hours=1, seconds=1)
    (await sixth.say("重新发送验证码")).says("超过30分钟没有操作")
    await sixth.tap("继续办理")
    (await sixth.tap("重新发送验证码")).says("验证码已发送至")
    (await sixth.say(await world.sms_code(ACME.phone))).says("身份核验成功")


async def test_codes_are_limited_per_client_address(world: ChatWorld) -> None:
    world.services = dataclasses.replace(world.services, limits=ThrottleLimits(codes_per_client_hour=1))
    world.restart()
    first = world.client(address="203.0.113.7")
    await _at_id_tail(first)
    (await first.say(ACME.id_tail)).says("验证码已发送至")
    second = world.client(address="203.0.113.7")
    await _at_id_tail(second, RIVER)
    (await second.say(RIVER.id_tail)).says("验证码发送次数过多")
    elsewhere = world.client(address="198.51.100.1")
    await _at_id_tail(elsewhere, RIVER)
    (await elsewhere.say(RIVER.id_tail)).says("验证码已发送至")


async def test_failures_are_counted_per_client_address_across_entities(world: ChatWorld) -> None:
    world.services = dataclasses.replace(world.services, limits=ThrottleLimits(client_failures=3))
    world.restart()
    started = world.clock.now
    for business in (ACME, RIVER):
        guesser = world.client(address="203.0.113.7")
        await _at_id_tail(guesser, business)
        (await guesser.say("000000")).says("与登记信息不一致")
    third = world.client(address="203.0.113.7")
    await _at_id_tail(third, RIVER)
    (await third.say("000000")).says(_locked(started + timedelta(minutes=15)))
    # The entity itself had only two failures: from another address it can still be verified.
    owner = world.client(address="198.51.100.1")
    await _at_id_tail(owner, RIVER)
    (await owner.say(RIVER.id_tail)).says("验证码已发送至")
    same_address = world.client(address="203.0.113.7")
    await same_address.say("绑定企业")
    (await same_address.say(ACME.uscc)).says("已暂停")


async def test_failures_are_counted_per_user_across_entities(world: ChatWorld) -> None:
    world.services = dataclasses.replace(world.services, limits=ThrottleLimits(user_failures=2))
    world.restart()
    chat = world.client()
    await _at_id_tail(chat, ACME)
    (await chat.say("000000")).says("您还可以尝试1次")
    await chat.say("取消")
    await _at_id_tail(chat, RIVER)
    (await chat.say("000000")).says("已暂停")
    await chat.say("绑定企业")
    (await chat.say(RIVER.uscc)).says("已暂停")


async def test_a_verified_owner_clears_their_own_slips(world: ChatWorld) -> None:
    chat = world.client()
    await _at_id_tail(chat)
    await chat.say("000000")
    await chat.say(ACME.legal_rep)
    await chat.say(ACME.id_tail)
    (await chat.say(await world.sms_code(ACME.phone))).says("身份核验成功")
    for attempt in range(4):
        guesser = world.client()
        await _at_id_tail(guesser)
        (await guesser.say("000001")).says(f"您还可以尝试{4 - attempt}次")
