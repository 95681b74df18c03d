"""What every dialog works with: the inbound message, the turn context and the services.

A dialog is a module of plain async functions over a `Ctx`: it reads `ctx.data`, moves with
`ctx.goto`, and answers with `ctx.say` / `ctx.ask`. It never sees HTTP or SQL sessions, so a
test drives it through the engine alone.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from bot import replies
from bot.dialogs.state import (
    ConversationState,
    Flow,
    IdentityFlow,
    MyReportsFlow,
    ReportData,
    ReportFlow,
    clone,
)
from bot.sms import SmsSender
from core.periods import Period
from core.records import china_today
from core.report_identity import ReportLinks
from core.text import fold
from core.throttle import Counter, Scope, SentCodes, ThrottleLimits
from storage.chat.store import BoundEntity, EntityRow, IssuedRow
from storage.processes import LOCAL_PROCESS, ProcessRegistry

F = TypeVar("F", IdentityFlow, ReportFlow, MyReportsFlow)

#: How many steps 返回 can go back.
HISTORY_LIMIT = 20


@dataclass(frozen=True)
class Inbound:
    """One user message: typed text, or the action payload of a tapped option."""

    text: str = ""
    action: str = ""

    @property
    def name(self) -> str:
        return self.action.split(":", 1)[0]

    @property
    def arg(self) -> str:
        return self.action.split(":", 1)[1] if ":" in self.action else ""

    @property
    def plain(self) -> str:
        """The text folded for keyword matching: NFKC, no spaces or trailing punctuation."""
        return squash(self.text)


_PUNCTUATION = re.compile(r"[\s。，,.!！?？~～、；;：:“”\"'‘’]+")


@lru_cache(maxsize=4096)
def squash(text: str) -> str:
    """Cached: option labels are squashed on every turn that offers them, and they repeat."""
    return _PUNCTUATION.sub("", fold(text))


_YES = {"是", "是的", "对", "对的", "没错", "确认", "确定", "好", "好的", "可以", "嗯", "yes", "y", "ok"}
_NO = {"不是", "否", "不对", "错了", "不", "no", "n"}


def is_yes(message: Inbound) -> bool:
    return message.name == "yes" or message.plain.lower() in _YES


def is_no(message: Inbound) -> bool:
    return message.name == "no" or message.plain.lower() in _NO


class TurnStore(Protocol):
    """What dialogs read and write besides their state; every write commits with the turn.

    Implemented by `storage.chat.store.ChatStore` on both databases.
    """

    async def serialize(self, keys: list[str]) -> None: ...

    async def entity(self, uscc: str) -> EntityRow | None: ...

    async def bindings(self, user: str, now: datetime) -> list[BoundEntity]: ...

    async def bind(self, user: str, uscc: str, name: str, now: datetime, days: int) -> datetime: ...

    async def throttle(self, scope: Scope, subject: str) -> Counter | None: ...

    async def save_throttle(self, scope: Scope, subject: str, counter: Counter, now: datetime) -> None: ...

    async def forgive(self, scope: Scope, subject: str, now: datetime) -> None: ...

    async def codes_sent(self, phone_hash: str, client: str, user: str, since: datetime) -> SentCodes: ...

    async def code_sent(self, phone_hash: str, client: str, user: str, now: datetime) -> None: ...

    async def outbox(self, channel: str, recipient: str, body: str, now: datetime) -> None: ...

    async def recent_reports(self, usccs: list[str], limit: int = 10) -> list[IssuedRow]: ...

    async def issued(self, report_no: str) -> IssuedRow | None: ...


class Issuer(Protocol):
    """Issues reports for the chat; raises core.report.ReportError with a Chinese reason on refusal."""

    async def issue(
        self, user: str, uscc: str, period: Period, domains: list[int], request_id: str
    ) -> ReportLinks:
        """Idempotent per `request_id`: a second call returns the report the first one issued."""
        ...

    def links(self, row: Any) -> ReportLinks:
        """Links of an issued report; `row` carries its `report_no` and `verify_code`."""
        ...


@dataclass(frozen=True)
class Services:
    hash_secret: bytes
    sms: SmsSender
    issuer: Issuer
    binding_days: int = 30
    limits: ThrottleLimits = field(default_factory=ThrottleLimits)
    #: Who owns a report being issued, and whether it can still finish (storage.processes).
    processes: ProcessRegistry = LOCAL_PROCESS


@dataclass(frozen=True)
class Deferred:
    """Slow work (rendering a report) run after the state is committed and outside any transaction.

    `finish` runs in a second turn transaction with the outcome (a value or the exception).
    """

    run: Callable[[], Awaitable[Any]]
    finish: Callable[[Ctx, Any], Awaitable[None]]


@dataclass
class Ctx:
    user: str
    now: datetime
    state: ConversationState
    store: TurnStore
    services: Services
    #: The client's network address where the channel knows it ("" otherwise), for rate limits.
    client: str
    #: Serialises this turn with every other turn holding one of the keys, until this one commits;
    #: a turn passes every key it needs in one call (sorted there, so two turns cannot deadlock).
    hold: Callable[..., Awaitable[None]]
    replies: list[replies.Reply] = field(default_factory=list)
    deferred: Deferred | None = None
    #: A report to continue once this flow is done (identity checked, now the report).
    then: ReportData | None = None

    @property
    def today(self) -> date:
        return china_today(self.now)

    @property
    def flow(self) -> Flow | None:
        return self.state.flow

    def current(self, kind: type[F]) -> F:
        """The current flow as the dialog that owns it knows it; only that dialog calls this."""
        flow = self.state.flow
        assert isinstance(flow, kind), f"{kind.__name__} is not the current flow"
        return flow

    @property
    def flow_name(self) -> str | None:
        return self.state.flow.name if self.state.flow is not None else None

    @property
    def step(self) -> StrEnum | None:
        return self.state.flow.step if self.state.flow is not None else None

    def say(self, message: str) -> None:
        self.replies.append(replies.text(message))

    def ask(self, message: str, options: Iterable[tuple[str, str]], *, multi: bool = False) -> None:
        self.replies.append(replies.choices(message, options, multi=multi))

    def reply(self, reply: replies.Reply) -> None:
        self.replies.append(reply)

    def _remember(self) -> None:
        flow = self.state.flow
        if flow is not None and flow.step is not None:
            self.state.history.append(clone(flow))
            del self.state.history[:-HISTORY_LIMIT]

    def goto(self, step: StrEnum) -> None:
        """Move to `step` of the current flow, remembering where we were so that 返回 can come back."""
        flow = self.state.flow
        assert flow is not None, "goto needs a flow"
        self._remember()
        flow.step = step  # type: ignore[assignment]  # each flow's dialog passes its own steps

    def enter(self, flow: Flow) -> None:
        """Start `flow`; 返回 from its first step comes back to where we were."""
        self._remember()
        self.state.flow = flow

    def back(self) -> bool:
        """Return to the previous step; False when there is none."""
        if not self.state.history:
            return False
        self.state.flow = self.state.history.pop()
        return True

    def end(self) -> None:
        """Leave any flow; 返回 has nothing to go back to afterwards."""
        self.state.flow = None
        self.state.history = []
