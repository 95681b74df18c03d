"""The conversation's state as types: each flow declares its steps and its data here.

A conversation is saved after every message and may be loaded by a later release, so the
saved form carries a `schema` number and `load_state` upgrades what older releases saved
(schema 0: the untyped dict of the first releases). Steps are enums: a saved step no release
knows is refused when the state is loaded, and a dialog that forgets to handle one of its
steps fails at import (`require_handlers`), not in a user's conversation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

import msgspec

from core.periods import Period

SCHEMA = 1


class IdentityStep(StrEnum):
    USCC = "uscc"
    CONFIRM = "confirm"
    LEGAL_REP = "legal_rep"
    ID_TAIL = "id_tail"
    CODE = "code"


class ReportStep(StrEnum):
    ENTITY = "entity"
    PERIOD = "period"
    AMBIGUOUS = "ambiguous"
    DOMAINS = "domains"
    CONFIRM = "confirm"
    ISSUING = "issuing"


class MyReportsStep(StrEnum):
    LIST = "list"


class Ambiguity(msgspec.Struct, array_like=True):
    """A word that names several domains ("安全"), and the domains it may mean."""

    word: str
    options: list[int]


class Issue(msgspec.Struct, kw_only=True):
    """A confirmation being rendered: its idempotency key, the process rendering it, how long to wait."""

    request_id: str
    lease: datetime
    owner: str | None = None


class ReportData(msgspec.Struct, kw_only=True, omit_defaults=True):
    uscc: str | None = None
    name: str | None = None
    #: The entity the false-commitment rule was last checked for (once per chosen entity).
    checked: str | None = None
    start: date | None = None
    end: date | None = None
    domains: list[int] = []
    #: Domains already understood while `ambiguous` words still wait for a choice.
    partial: list[int] = []
    ambiguous: list[Ambiguity] = []
    issue: Issue | None = None

    @property
    def period(self) -> Period | None:
        return Period(self.start, self.end) if self.start and self.end else None


class IdentityData(msgspec.Struct, kw_only=True, omit_defaults=True):
    uscc: str | None = None
    name: str | None = None
    #: A corrected USCC offered to the user ("您是不是想输入 …？").
    suggestion: str | None = None
    #: The typed legal representative's name, as a keyed hash, judged with the ID tail.
    rep_hash: str | None = None
    code_hash: str | None = None
    code_expires: datetime | None = None
    masked_phone: str | None = None
    #: The report being asked for when identity had to be checked first; it continues afterwards.
    then: ReportData | None = None


class MyReportsData(msgspec.Struct):
    pass


class IdentityFlow(msgspec.Struct, tag="identity", kw_only=True):
    name: ClassVar[str] = "identity"
    step: IdentityStep
    data: IdentityData = msgspec.field(default_factory=IdentityData)


class ReportFlow(msgspec.Struct, tag="report", kw_only=True):
    name: ClassVar[str] = "report"
    step: ReportStep | None = None
    data: ReportData = msgspec.field(default_factory=ReportData)


class MyReportsFlow(msgspec.Struct, tag="my_reports", kw_only=True):
    name: ClassVar[str] = "my_reports"
    step: MyReportsStep
    data: MyReportsData = msgspec.field(default_factory=MyReportsData)


Flow = IdentityFlow | ReportFlow | MyReportsFlow


class Paused(msgspec.Struct, kw_only=True):
    """A flow left idle too long, kept so that the user may continue where they were."""

    flow: Flow
    history: list[Flow] = []


class Switch(msgspec.Struct, kw_only=True):
    """Another task was named mid-flow; the user is asked whether to switch to it."""

    to: str
    text: str


class ConversationState(msgspec.Struct, kw_only=True):
    #: Always written (no `omit_defaults` here): it tells `load_state` which release saved it.
    schema: int = SCHEMA
    flow: Flow | None = None
    #: Where 返回 goes back to, most recent last.
    history: list[Flow] = []
    #: Option labels of the last replies → their actions, so typing a label means tapping it.
    offered: dict[str, str] = {}
    paused: Paused | None = None
    switch: Switch | None = None


def dump_state(state: ConversationState) -> dict[str, Any]:
    return msgspec.to_builtins(state)


def load_state(saved: Mapping[str, Any]) -> ConversationState:
    """The state as saved by this or any earlier release; ValidationError when it cannot be read."""
    if saved.get("schema") == SCHEMA:
        return msgspec.convert(saved, ConversationState)
    return msgspec.convert(_from_schema_0(saved), ConversationState)


def clone(flow: Flow) -> Flow:
    """A copy for the history that later changes to the current flow cannot reach."""
    return msgspec.convert(msgspec.to_builtins(flow), Flow)  # type: ignore[arg-type]


def _from_schema_0(saved: Mapping[str, Any]) -> dict[str, Any]:
    """Schema 0 kept `flow` (a name), `step` and `data` side by side, and identity's `then` as
    [flow name, data]; the rest of its keys are today's."""

    def flow(name: str | None, step: str | None, data: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if name is None:
            return None
        data = dict(data or {})
        if name == IdentityFlow.name and data.get("then"):
            data["then"] = data["then"][1]
        return {"type": name, "step": step, "data": data}

    def history(snapshots: list[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
        return [f for s in snapshots or () if (f := flow(s.get("flow"), s.get("step"), s.get("data")))]

    upgraded: dict[str, Any] = {
        "flow": flow(saved.get("flow"), saved.get("step"), saved.get("data")),
        "history": history(saved.get("history")),
        "offered": saved.get("offered") or {},
    }
    paused = saved.get("paused")
    if paused and (paused_flow := flow(paused.get("flow"), paused.get("step"), paused.get("data"))):
        upgraded["paused"] = {"flow": paused_flow, "history": history(paused.get("history"))}
    if saved.get("switch"):
        upgraded["switch"] = saved["switch"]
    return upgraded


def require_handlers(steps: type[StrEnum], handlers: Mapping[Any, Callable[..., Any]]) -> None:
    """At import: every step of a flow has its handler, and nothing else has one."""
    missing = sorted(str(step) for step in set(steps) - set(handlers))
    extra = sorted(str(step) for step in set(handlers) - set(steps))
    if missing or extra:
        raise TypeError(f"{steps.__name__}: no handler for {missing}, unknown steps {extra}")
