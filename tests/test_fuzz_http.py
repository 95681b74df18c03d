"""Property-based fuzz of the two JSON APIs through the real server: no body ever gets a 5xx.

Bodies are JSON of any shape and any Unicode, including lone surrogates (escaped as `\\ud800`
by `json.dumps`, or written raw with `surrogatepass`), NaN/Infinity, huge integers and deep
nesting, plus plain bytes. Chat messages are mostly well formed, from a few users so that
their conversations move on from step to step, with texts and actions the dialogs know; one
user has verified their identity first, so that the report dialog gets fuzzed as well.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from core.intake import HEADERS, IntakeKind
from tests.chat_client import ChatClient, http_sender
from tests.intake_rows import row
from tests.served_app import CHAT, DEPT, Served, served_app

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Every code point, surrogates (category Cs) included.
ANY_CHARACTER = st.characters(codec=None, categories=None, exclude_categories=())
TEXT = st.text(ANY_CHARACTER, max_size=30)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.integers()
    | st.floats()
    | TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)

PHRASES = [
    "我要开信用报告",
    "帮我开近三年环保和安全生产的信用报告",
    "除了税务都要",
    "2023年3月至2024年6月",
    "91140105MA0CLEAN1W",
    "91140522MA0TAYAN2J",
    "赵清源",
    "150030",
    "123456",
    "返回",
    "取消",
    "重新开始",
    "帮助",
    "是",
    "否",
    "确认开具",
]
ACTIONS = [
    "menu:report",
    "menu:my_reports",
    "menu:identity",
    "cancel",
    "back",
    "help",
    "restart",
    "yes",
    "no",
    "code:resend",
    "entity:new",
    "period:近一年",
    "period:custom",
    "domains:all",
    "domain:5|domain:9",
    "domains:5,9,13",
    "confirm:issue",
    "confirm:period",
    "confirm:domains",
    "switch:yes",
    "switch:no",
    "resume:continue",
]
WORDS = st.sampled_from(PHRASES) | TEXT
COMMANDS = st.sampled_from(ACTIONS) | st.builds(lambda a, b: f"{a}:{b}", st.sampled_from(ACTIONS), TEXT)


def chat_messages() -> st.SearchStrategy[Any]:
    """Mostly messages the engine takes, so that the dialogs themselves are fuzzed too."""
    user = st.sampled_from(["fuzz-1", "fuzz-2", "fuzz-3"])
    optional = {"msg_id": TEXT}
    well_formed = st.fixed_dictionaries({"user": user, "text": WORDS}, optional=optional) | (
        st.fixed_dictionaries({"user": user, "action": COMMANDS}, optional=optional)
    )
    anything = st.fixed_dictionaries(
        {"user": user | TEXT | JSON_VALUES},
        optional={
            "text": WORDS | JSON_VALUES,
            "action": COMMANDS | JSON_VALUES,
            "msg_id": TEXT | JSON_VALUES,
            "extra": JSON_VALUES,
        },
    )
    return st.one_of(well_formed, well_formed, well_formed, anything, JSON_VALUES)


def dept_batches() -> st.SearchStrategy[Any]:
    """Mostly valid rows with a few fields changed, so that the row checks are fuzzed too."""

    def record(kind: IntakeKind) -> st.SearchStrategy[Any]:
        fields = st.sampled_from(HEADERS[kind]) | TEXT
        changes = st.dictionaries(fields, TEXT | SCALARS | JSON_VALUES, max_size=4)
        return st.builds(lambda c: {**row(kind), **c}, changes) | changes | JSON_VALUES

    def batch(kind: IntakeKind) -> st.SearchStrategy[Any]:
        return st.fixed_dictionaries(
            {
                "kind": st.one_of(st.just(kind.value), st.just(kind.value), JSON_VALUES),
                "records": st.lists(record(kind), min_size=1, max_size=4) | JSON_VALUES,
            }
        )

    well_formed = st.sampled_from(list(IntakeKind)).flatmap(batch)
    return st.one_of(well_formed, well_formed, well_formed, JSON_VALUES)


VERIFIED = "fuzz-verified"
#: Words and taps of the report dialog, far more often than noise, so that walks go deep.
#: Issuing itself is left out: it renders a PDF, which takes seconds.
DIALOG_WORDS = st.sampled_from(
    [
        *("近一年", "近三年", "2023年3月至2024年6月", "全部领域", "除了税务都要"),
        *("卫建", "安全", "环保和卫建", "返回", "取消", "帮助", "是", "否"),
    ]
)
DIALOG_TAPS = st.sampled_from(
    [
        *("back", "cancel", "help", "yes", "no", "period:近一年", "period:custom", "domains:all"),
        *("domain:7", "domain:10", "domain:5|domain:9", "domains:5,9,13", "confirm:period"),
        *("confirm:domains", "resume:continue", "switch:yes", "switch:no"),
    ]
)
NAMES = ["menu", "uscc", "code", "entity", "period", "domains", "domain"]
NAMES += ["confirm", "report", "switch", "resume"]
TALK = st.one_of(DIALOG_WORDS, DIALOG_WORDS, DIALOG_WORDS, TEXT)
NAMED = st.builds(lambda name, argument: f"{name}:{argument}", st.sampled_from(NAMES), TEXT)
MOVES = st.one_of(DIALOG_TAPS, DIALOG_TAPS, NAMED)
TURNS = st.lists(
    st.fixed_dictionaries({"user": st.just(VERIFIED), "text": TALK})
    | st.fixed_dictionaries({"user": st.just(VERIFIED), "action": MOVES}),
    min_size=5,
    max_size=25,
)


@st.composite
def encoded(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> bytes:
    """JSON text of a value, escaped or raw, sometimes nested deeply, or just bytes."""
    shape = draw(st.integers(0, 19))
    if shape == 0:
        return draw(st.binary(max_size=200))
    text = json.dumps(draw(values), ensure_ascii=draw(st.booleans()))
    if shape == 1:
        depth = draw(st.integers(1, 2000))
        text = "[" * depth + text + "]" * depth
    return text.encode("utf-8", "surrogatepass")


async def check(served: Served, route: str, body: bytes, headers: dict[str, str]) -> None:
    response = await served.session.post(route, data=body, headers=headers)
    raw = await response.read()
    assert response.status < 500, (body, raw)
    answer = json.loads(raw)
    if response.status >= 400:
        assert set(answer) == {"error"}, raw
        assert {"code", "message"} <= set(answer["error"]), raw
        assert re.search(r"[\u4e00-\u9fff]", answer["error"]["message"]), raw
    health = await served.session.get("/healthz")
    assert health.status == 200


@pytest.fixture
async def served(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Served]:
    async with served_app(settings, engine) as served:
        yield served


@pytest.fixture
async def verified(served: Served) -> Served:
    """`VERIFIED` has passed the identity check for a demo business and may ask for reports."""
    chat = ChatClient(http_sender(served.session), VERIFIED)
    await chat.say("91140105MA0CLEAN1W")
    await chat.tap("是")
    await chat.say("赵清源")
    await chat.say("150030")
    outbox = await (await served.session.get("/dev/outbox", params={"user": VERIFIED})).json()
    (await chat.say(re.search(r"\d{6}", outbox["messages"][-1]["text"]).group(0))).says("身份核验成功")
    return served


@FUZZ
@given(body=encoded(chat_messages()))
async def test_fuzz_chat(served: Served, body: bytes) -> None:
    await check(served, CHAT, body, {"Content-Type": "application/json"})


@FUZZ
@given(body=encoded(dept_batches()))
async def test_fuzz_department_api(served: Served, body: bytes) -> None:
    await check(served, DEPT, body, served.dept_headers)


@settings(FUZZ, max_examples=80)  # 80 walks of 5-25 turns: some 1,200 messages, deep into the dialog
@given(turns=TURNS)
async def test_fuzz_a_verified_conversation(verified: Served, turns: list[dict[str, Any]]) -> None:
    """Each example starts the report dialog afresh, so that a failure replays and shrinks."""
    start = [{"user": VERIFIED, "text": "重新开始"}, {"user": VERIFIED, "text": "开报告"}]
    for turn in start + turns:
        body = json.dumps(turn, ensure_ascii=False).encode("utf-8", "surrogatepass")
        await check(verified, CHAT, body, {"Content-Type": "application/json"})
