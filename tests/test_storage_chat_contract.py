"""The chat store's contract, one set of tests for every backend on every database.

`storage.chat` promises the engine the same behaviour whichever backend `backend_for` picks:
the group-commit backend on a SQLite file, and the Core backend on PostgreSQL (and on SQLite,
where an in-memory database gets it). Each test below runs on all three, in every pass of
`make test`; the PostgreSQL case is skipped, saying why, when no server is given (see
tests/conftest.py). Where the backends differ by design, the test says which does what.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.personal_data import id_tail_hash
from core.report_identity import make_report_no
from core.throttle import Counter, Scope, SentCodes
from storage.chat import CoreBackend, SqliteBackend, backend_for
from storage.chat.store import CODE_HISTORY, BoundEntity, EntityRow, IssuedRow
from storage.chat.turn import DuplicateMessageError, VersionConflictError
from storage.db import create_engine, session_factory, upgrade
from storage.issued import save_issued
from storage.models import Binding, CodeRequest, IssuedReport
from storage.outbox import OutboxRow, recent_messages
from tests.conftest import MakeUrl
from tests.fixtures import TEST_SECRET, entity_values, serial_uscc, store_entities

#: Microseconds included: both databases must give back exactly the moment written.
NOW = datetime(2026, 12, 4, 3, 0, 0, 123456, tzinfo=UTC)
ACME = entity_values(serial_uscc(1), "太原市晋阳建材有限公司", legal_rep="王建国", phone="13812341234")
RIVER = entity_values(serial_uscc(2), "晋城市清河环保科技有限公司", phone="13900005678")
BACKENDS = ["sqlite-group", "sqlite-core", pytest.param("postgresql-core", marks=pytest.mark.database)]


@dataclass
class Subject:
    backend: CoreBackend | SqliteBackend
    engine: AsyncEngine

    @property
    def on_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"


@pytest.fixture(params=BACKENDS)
async def chat(request: pytest.FixtureRequest, database_urls: MakeUrl) -> AsyncIterator[Subject]:
    dialect, kind = request.param.split("-")
    engine = create_engine(await database_urls(dialect))
    await upgrade(engine)
    await store_entities(engine, [ACME, RIVER], false_commitment=[RIVER.uscc])
    backend = SqliteBackend(engine.url.database) if kind == "group" else CoreBackend(engine)
    yield Subject(backend, engine)
    await backend.close()
    await engine.dispose()


async def _save(
    chat: Subject,
    user: str,
    state: dict[str, Any],
    now: datetime = NOW,
    msg_id: str | None = None,
    replies: list[dict[str, Any]] | None = None,
) -> int:
    """One turn that only saves `state`; returns the version it committed."""
    async with chat.backend.turn(user, msg_id) as turn:
        await turn.commit(state, now, replies or [], msg_id)
    return turn.version


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


# --- the conversation ------------------------------------------------------------------------


async def test_a_new_user_loads_an_empty_conversation(chat: Subject) -> None:
    async with chat.backend.turn("u-new", "m1") as turn:
        loaded = turn.loaded
    assert (loaded.state, loaded.version, loaded.updated_at, loaded.replies) == ({}, 0, None, None)
    assert loaded.exists is False


async def test_commit_then_reload_gives_the_state_its_version_and_an_aware_utc_time(chat: Subject) -> None:
    state = {"step": "identity", "data": {"uscc": ACME.uscc, "名称": "晋阳"}, "n": [1, 2]}
    assert await _save(chat, "u1", state) == 1
    later = NOW + timedelta(minutes=3, microseconds=7)
    async with chat.backend.turn("u1", None) as turn:
        loaded = turn.loaded
        assert (loaded.state, loaded.version, loaded.updated_at) == (state, 1, NOW)
        assert loaded.updated_at.utcoffset() == timedelta(0)
        await turn.commit({**state, "step": "menu"}, later, [], None)
    assert turn.version == 2
    async with chat.backend.turn("u1", None) as turn:
        assert (turn.loaded.state["step"], turn.loaded.version, turn.loaded.updated_at) == ("menu", 2, later)
        assert turn.loaded.updated_at.tzinfo is not None


async def test_two_first_commits_of_a_new_user_conflict(chat: Subject) -> None:
    """No row to lock yet on any backend: the primary key turns the race into a conflict."""
    async with chat.backend.turn("u-race", None) as first:
        async with chat.backend.turn("u-race", None) as second:
            await second.commit({"by": "second"}, NOW, [], None)
        with pytest.raises(VersionConflictError):
            await first.commit({"by": "first"}, NOW, [], None)
    async with chat.backend.turn("u-race", None) as turn:
        assert (turn.loaded.state, turn.loaded.version) == ({"by": "second"}, 1)


async def test_a_stale_commit_never_overwrites_a_newer_version(chat: Subject) -> None:
    """PostgreSQL's row lock makes the second turn wait and read the first one's commit; the
    SQLite backends let both load, and the stale commit raises VersionConflictError."""
    await _save(chat, "u2", {"v": 1})
    if chat.on_postgresql:
        entered = asyncio.Event()

        async def second() -> tuple[dict[str, Any], int]:
            async with chat.backend.turn("u2", None) as turn:
                entered.set()
                return turn.loaded.state, turn.loaded.version

        async with chat.backend.turn("u2", None) as first:
            waiting = asyncio.create_task(second())
            await asyncio.sleep(0.3)
            assert not entered.is_set(), "the second turn loaded while the first held the row"
            await first.commit({"v": 2}, NOW, [], None)
        assert await waiting == ({"v": 2}, 2)
        return
    async with chat.backend.turn("u2", None) as stale:
        assert await _save(chat, "u2", {"v": 2}) == 2
        with pytest.raises(VersionConflictError):
            await stale.commit({"v": "stale"}, NOW, [], None)
    async with chat.backend.turn("u2", None) as turn:
        assert (turn.loaded.state, turn.loaded.version) == ({"v": 2}, 2)


async def test_a_repeated_msg_id_is_refused_and_its_first_replies_are_remembered(chat: Subject) -> None:
    replies = [{"type": "text", "text": "您好，请输入统一社会信用代码。"}]
    await _save(chat, "u3", {"step": "a"}, msg_id="m1", replies=replies)
    assert await chat.backend.remembered("u3", "m1") == replies
    assert await chat.backend.remembered("u3", "m2") is None
    assert await chat.backend.remembered("someone-else", "m1") is None
    async with chat.backend.turn("u3", "m1") as turn:
        assert turn.loaded.replies == replies
    async with chat.backend.turn("u3", "m2") as turn:
        assert turn.loaded.replies is None
    # A commit that repeats the id is refused as a whole: neither state nor replies change.
    with pytest.raises(DuplicateMessageError):
        async with chat.backend.turn("u3", None) as turn:
            await turn.commit({"step": "b"}, NOW, [{"type": "text", "text": "x"}], "m1")
    async with chat.backend.turn("u3", None) as turn:
        assert (turn.loaded.state, turn.loaded.version) == ({"step": "a"}, 1)
    assert await chat.backend.remembered("u3", "m1") == replies


# --- what the dialogs read and write -----------------------------------------------------------


async def test_entity_gives_what_the_dialogs_need_and_none_for_an_unknown_code(chat: Subject) -> None:
    async with chat.backend.turn("u4", None) as turn:
        acme = await turn.store.entity(ACME.uscc)
        river = await turn.store.entity(RIVER.uscc)
        unknown = await turn.store.entity(serial_uscc(3))
    assert acme == EntityRow(
        ACME.uscc,
        ACME.name,
        "企业",
        "王建国",
        id_tail_hash(TEST_SECRET, ACME.id_number),
        "13812341234",
        False,
    )
    assert river is not None and river.false_commitment is True
    assert unknown is None


async def test_bindings_are_read_in_the_same_turn_renewed_and_expire(chat: Subject) -> None:
    async with chat.backend.turn("u5", None) as turn:
        assert await turn.store.bindings("u5", NOW) == []
        expires = await turn.store.bind("u5", ACME.uscc, ACME.name, NOW, 30)
        assert expires == NOW + timedelta(days=30)
        assert await turn.store.bindings("u5", NOW) == [BoundEntity(ACME.uscc, ACME.name, expires)]
        await turn.commit({}, NOW, [], None)
    later = NOW + timedelta(hours=1)
    async with chat.backend.turn("u5", None) as turn:
        assert await turn.store.bindings("u5", later) == [BoundEntity(ACME.uscc, ACME.name, expires)]
        assert await turn.store.bindings("other", later) == []
        river_expires = await turn.store.bind("u5", RIVER.uscc, RIVER.name, later, 1)
        # The one created in this turn comes first, the stored one after it, no duplicates.
        assert await turn.store.bindings("u5", later) == [
            BoundEntity(RIVER.uscc, RIVER.name, river_expires),
            BoundEntity(ACME.uscc, ACME.name, expires),
        ]
        await turn.commit({}, later, [], None)
    renewed_at = later + timedelta(hours=1)
    async with chat.backend.turn("u5", None) as turn:
        # Newest confirmation first.
        assert [b.uscc for b in await turn.store.bindings("u5", renewed_at)] == [RIVER.uscc, ACME.uscc]
        renewed = await turn.store.bind("u5", ACME.uscc, ACME.name, renewed_at, 30)
        await turn.commit({}, renewed_at, [], None)
    async with chat.backend.turn("u5", None) as turn:
        assert await turn.store.bindings("u5", renewed_at) == [
            BoundEntity(ACME.uscc, ACME.name, renewed),
            BoundEntity(RIVER.uscc, RIVER.name, river_expires),
        ]
        # RIVER's one day is over: an expired binding is no binding.
        assert await turn.store.bindings("u5", river_expires) == [BoundEntity(ACME.uscc, ACME.name, renewed)]
    assert await _count(chat.engine, Binding.__table__) == 2


async def test_throttle_is_saved_replaced_and_forgiven(chat: Subject) -> None:
    counter = Counter(failures=2, window_start=NOW, locked_until=NOW + timedelta(hours=1), locks=1)
    async with chat.backend.turn("u6", None) as turn:
        assert await turn.store.throttle(Scope.ENTITY, ACME.uscc) is None
        await turn.store.save_throttle(Scope.ENTITY, ACME.uscc, counter, NOW)
        await turn.commit({}, NOW, [], None)
    replaced = Counter(failures=5, window_start=NOW + timedelta(minutes=1), locked_until=None, locks=2)
    async with chat.backend.turn("u6", None) as turn:
        assert await turn.store.throttle(Scope.ENTITY, ACME.uscc) == counter
        # Another scope with the same subject is another counter.
        assert await turn.store.throttle(Scope.USER, ACME.uscc) is None
        await turn.store.save_throttle(Scope.ENTITY, ACME.uscc, replaced, NOW)
        await turn.commit({}, NOW, [], None)
    async with chat.backend.turn("u6", None) as turn:
        assert await turn.store.throttle(Scope.ENTITY, ACME.uscc) == replaced
        await turn.store.forgive(Scope.ENTITY, ACME.uscc, NOW)
        await turn.commit({}, NOW, [], None)
    async with chat.backend.turn("u6", None) as turn:
        forgiven = await turn.store.throttle(Scope.ENTITY, ACME.uscc)
    assert forgiven == Counter(failures=0, window_start=replaced.window_start, locked_until=None, locks=2)


async def test_codes_sent_count_by_phone_client_and_user_and_old_ones_are_pruned(chat: Subject) -> None:
    sent = [
        ("phone-a", "10.0.0.1", "u7", NOW),
        ("phone-a", "10.0.0.2", "u7", NOW + timedelta(minutes=10)),
        ("phone-a", "10.0.0.1", "u8", NOW + timedelta(minutes=20)),
        ("phone-b", "10.0.0.1", "u7", NOW + timedelta(minutes=30)),
    ]
    async with chat.backend.turn("u7", None) as turn:
        for phone_hash, client, user, at in sent:
            await turn.store.code_sent(phone_hash, client, user, at)
        await turn.commit({}, NOW, [], None)
    since = NOW - timedelta(seconds=1)
    async with chat.backend.turn("u7", None) as turn:
        counted = await turn.store.codes_sent("phone-a", "10.0.0.1", "u7", since)
        without_address = await turn.store.codes_sent("phone-a", "", "u7", since)
        after_first = await turn.store.codes_sent("phone-a", "10.0.0.1", "u7", NOW)
    assert counted == SentCodes(
        to_phone=3,
        first_to_phone=NOW,
        last_to_phone=NOW + timedelta(minutes=20),
        by_client=3,
        first_by_client=NOW,
        by_user=3,
        first_by_user=NOW,
    )
    assert (without_address.by_client, without_address.first_by_client) == (0, None)
    # `since` is exclusive.
    assert (after_first.to_phone, after_first.first_to_phone) == (2, NOW + timedelta(minutes=10))
    next_day = NOW + CODE_HISTORY + timedelta(minutes=15)
    async with chat.backend.turn("u7", None) as turn:
        await turn.store.code_sent("phone-a", "10.0.0.3", "u9", next_day)
        await turn.commit({}, next_day, [], None)
    # phone-a's codes older than a day before the new one are gone; phone-b's are not its business.
    assert await _count(chat.engine, CodeRequest.__table__) == 3
    async with chat.backend.turn("u7", None) as turn:
        pruned = await turn.store.codes_sent("phone-a", "10.0.0.3", "u9", NOW - timedelta(days=30))
    assert (pruned.to_phone, pruned.first_to_phone, pruned.last_to_phone) == (
        2,
        NOW + timedelta(minutes=20),
        next_day,
    )
    assert (pruned.by_client, pruned.by_user) == (1, 1)


async def test_the_outbox_holds_what_a_turn_sent(chat: Subject) -> None:
    async with chat.backend.turn("u10", None) as turn:
        await turn.store.outbox("sms", ACME.phone, "【信用山西】您的验证码为 123456", NOW)
        await turn.store.outbox("sms", RIVER.phone, "【信用山西】您的验证码为 654321", NOW)
        await turn.commit({"data": {"uscc": ACME.uscc}}, NOW, [], None)
    first = OutboxRow(1, "sms", ACME.phone, "【信用山西】您的验证码为 123456", NOW)
    second = OutboxRow(2, "sms", RIVER.phone, "【信用山西】您的验证码为 654321", NOW)
    assert await recent_messages(chat.engine, 20) == [first, second]
    assert await recent_messages(chat.engine, 1) == [second]

    # Narrowed to the user, only what went to the phone of the business the user is verifying
    # (the dialogs own the state's shape and say where the business is).
    def business_of(saved: dict) -> str:
        return saved["data"]["uscc"]

    assert await recent_messages(chat.engine, 20, "u10", business_of) == [first]
    assert await recent_messages(chat.engine, 20, "no-such-user", business_of) == []


def _issued(report_no: str, uscc: str, name: str, issued_at: datetime) -> IssuedReport:
    return IssuedReport(
        report_no=report_no,
        verify_code="K7HP3WXA",
        uscc=uscc,
        entity_name=name,
        period_start=date(2024, 1, 1),
        period_end=date(2024, 12, 31),
        domains=[6, 13],
        issued_at=issued_at,
        content_json="{}",
        signature="sig",
        key_id="k1",
        pdf_sha256="0" * 64,
        pdf_path=f"2026/12/{report_no}.pdf",
    )


async def test_recent_reports_newest_first_limited_and_one_by_number(chat: Subject) -> None:
    day = date(2026, 12, 4)
    numbers = [make_report_no(day, n) for n in range(1, 6)]
    rows = [
        _issued(numbers[0], ACME.uscc, ACME.name, NOW),
        _issued(numbers[1], RIVER.uscc, RIVER.name, NOW + timedelta(minutes=1)),
        # Same moment as the one before: the higher number is the newer.
        _issued(numbers[2], ACME.uscc, ACME.name, NOW + timedelta(minutes=1)),
        _issued(numbers[3], ACME.uscc, ACME.name, NOW + timedelta(minutes=2)),
        _issued(numbers[4], serial_uscc(9), "别家公司", NOW + timedelta(minutes=3)),
    ]
    sessions = session_factory(chat.engine)
    for row in rows:
        await save_issued(sessions, row)
    async with chat.backend.turn("u11", None) as turn:
        # RIVER first: the tie at one minute must still come out by number, not by the order asked.
        both = await turn.store.recent_reports([RIVER.uscc, ACME.uscc])
        top_two = await turn.store.recent_reports([ACME.uscc, RIVER.uscc], limit=2)
        none = await turn.store.recent_reports([])
        one = await turn.store.issued(numbers[1])
        missing = await turn.store.issued(make_report_no(day, 99))
    assert [r.report_no for r in both] == [numbers[3], numbers[2], numbers[1], numbers[0]]
    assert [r.report_no for r in top_two] == [numbers[3], numbers[2]]
    assert none == []
    assert one == IssuedRow(
        numbers[1],
        "K7HP3WXA",
        RIVER.uscc,
        RIVER.name,
        date(2024, 1, 1),
        date(2024, 12, 31),
        [6, 13],
        NOW + timedelta(minutes=1),
    )
    assert missing is None


_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))")


async def test_serialize_holds_the_keys_against_other_processes_until_the_turn_ends(chat: Subject) -> None:
    """PostgreSQL: transaction-scoped advisory locks. SQLite: one process, whose engine already
    serialises the keys, so serialize holds nothing and never blocks."""
    async with chat.backend.turn("u12", None) as turn:
        await turn.store.serialize(["report:" + ACME.uscc, "report:" + RIVER.uscc])
        if chat.on_postgresql:
            async with chat.engine.connect() as other:
                held = (await other.execute(_TRY_LOCK, {"key": "report:" + ACME.uscc})).scalar()
                free = (await other.execute(_TRY_LOCK, {"key": "report:" + serial_uscc(3)})).scalar()
            assert (held, free) == (False, True)
        await turn.commit({"step": "issuing"}, NOW, [], None)
    if chat.on_postgresql:
        async with chat.engine.connect() as other:
            assert (await other.execute(_TRY_LOCK, {"key": "report:" + ACME.uscc})).scalar() is True
    async with chat.backend.turn("u12", None) as turn:
        assert (turn.loaded.state, turn.loaded.version) == ({"step": "issuing"}, 1)


async def test_backend_for_picks_group_commit_for_a_sqlite_file_and_core_elsewhere(each_db_url: str) -> None:
    engine = create_engine(each_db_url)
    memory = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        expected = SqliteBackend if engine.dialect.name == "sqlite" else CoreBackend
        assert type(backend_for(engine)) is expected
        assert type(backend_for(memory)) is CoreBackend
    finally:
        await engine.dispose()
        await memory.dispose()
