"""Dialog state: what earlier releases saved still loads, typed; unknown steps are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dialogs.state import (
    Ambiguity,
    ConversationState,
    IdentityData,
    IdentityFlow,
    IdentityStep,
    Issue,
    Paused,
    ReportData,
    ReportFlow,
    ReportStep,
    Switch,
    dump_state,
    load_state,
    require_handlers,
)
from storage.models import Conversation
from tests.chat_client import ACME, ChatClient, ChatWorld, open_world, verify

#: Saved by the release before typed state (schema 0), mid-identity for a report asked for first.
SCHEMA_0_IDENTITY = {
    "flow": "identity",
    "step": "code",
    "data": {
        "then": ["report", {"start": "2025-01-01", "end": "2025-12-31", "domains": [13]}],
        "uscc": "91140100MA0K8U2R7X",
        "name": "太原市晋阳建材有限公司",
        "code_hash": "ab" * 32,
        "code_expires": "2026-11-26T02:05:00+00:00",
        "code_sent": "2026-11-26T02:00:00+00:00",
        "masked_phone": "138****1234",
    },
    "history": [
        {"flow": "identity", "step": "uscc", "data": {}},
        {"flow": "identity", "step": "legal_rep", "data": {"uscc": "91140100MA0K8U2R7X"}},
    ],
    "offered": {"重新发送验证码": "code:resend"},
}
#: Schema 0 at the report's confirmation with an issue in flight, a paused flow and a switch offer.
SCHEMA_0_REPORT = {
    "flow": "report",
    "step": "issuing",
    "data": {
        "uscc": "91140100MA0K8U2R7X",
        "name": "太原市晋阳建材有限公司",
        "checked": "91140100MA0K8U2R7X",
        "start": "2024-01-01",
        "end": "2024-12-31",
        "domains": [5, 9],
        "partial": [13],
        "ambiguous": [["安全", [9, 16]]],
        "issue": {"request_id": "r-1", "owner": "p-1", "lease": "2026-11-26T02:01:00+00:00"},
    },
    "history": [],
    "offered": {},
    "paused": {"flow": "my_reports", "step": "list", "data": {}, "history": []},
    "switch": {"to": "my_reports", "text": "我的报告"},
}


def test_a_schema_0_identity_state_loads_typed() -> None:
    state = load_state(SCHEMA_0_IDENTITY)
    assert state.flow == IdentityFlow(
        step=IdentityStep.CODE,
        data=IdentityData(
            uscc="91140100MA0K8U2R7X",
            name="太原市晋阳建材有限公司",
            code_hash="ab" * 32,
            code_expires=datetime(2026, 11, 26, 2, 5, tzinfo=UTC),
            masked_phone="138****1234",
            then=ReportData(start=date(2025, 1, 1), end=date(2025, 12, 31), domains=[13]),
        ),
    )
    assert [flow.step for flow in state.history] == [IdentityStep.USCC, IdentityStep.LEGAL_REP]
    assert state.offered == {"重新发送验证码": "code:resend"}


def test_a_schema_0_report_state_loads_typed() -> None:
    state = load_state(SCHEMA_0_REPORT)
    assert state.flow == ReportFlow(
        step=ReportStep.ISSUING,
        data=ReportData(
            uscc="91140100MA0K8U2R7X",
            name="太原市晋阳建材有限公司",
            checked="91140100MA0K8U2R7X",
            start=date(2024, 1, 1),
            end=date(2024, 12, 31),
            domains=[5, 9],
            partial=[13],
            ambiguous=[Ambiguity("安全", [9, 16])],
            issue=Issue(request_id="r-1", owner="p-1", lease=datetime(2026, 11, 26, 2, 1, tzinfo=UTC)),
        ),
    )
    assert state.paused is not None and state.paused.flow.name == "my_reports"
    assert state.switch == Switch(to="my_reports", text="我的报告")


def test_the_saved_form_round_trips_and_names_its_schema() -> None:
    state = load_state(SCHEMA_0_REPORT)
    saved = dump_state(state)
    assert saved["schema"] == 1
    assert saved["flow"]["type"] == "report"
    assert load_state(saved) == state
    assert isinstance(state.paused, Paused)


def test_an_empty_state_is_a_new_conversation() -> None:
    assert load_state({}) == ConversationState()


def test_a_step_no_release_knows_is_refused_when_loading() -> None:
    with pytest.raises(msgspec.ValidationError, match="Invalid enum value 'dreaming'"):
        load_state({"schema": 1, "flow": {"type": "report", "step": "dreaming", "data": {}}})


def test_a_flow_without_a_handler_for_a_step_fails_at_import() -> None:
    class Steps(StrEnum):
        ONE = "one"
        TWO = "two"

    async def handler() -> None: ...

    with pytest.raises(TypeError, match=r"Steps: no handler for \['two'\], unknown steps \[\]"):
        require_handlers(Steps, {Steps.ONE: handler})


@pytest.fixture
async def world(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[ChatWorld]:
    world = await open_world(engine, tmp_path)
    yield world
    await world.close()


async def test_a_conversation_saved_by_the_previous_release_goes_on(world: ChatWorld) -> None:
    """A user at the confirmation when the service was upgraded confirms and gets the report."""
    chat: ChatClient = world.client()
    await chat.say("绑定企业")
    await verify(world, chat)
    saved = {
        "flow": "report",
        "step": "confirm",
        "data": {
            "uscc": ACME.uscc,
            "name": ACME.name,
            "checked": ACME.uscc,
            "start": "2025-01-01",
            "end": "2025-12-31",
            "domains": [13],
        },
        "history": [],
        "offered": {"确认开具": "confirm:issue"},
    }
    table = Conversation.__table__
    async with world.db.begin() as conn:
        await conn.execute(table.delete().where(table.c.user_id == chat.user))
        await conn.execute(
            insert(table).values(user_id=chat.user, state=saved, version=7, updated_at=world.clock.now)
        )
    (await chat.say("确认开具")).report()
