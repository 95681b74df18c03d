"""开具信用报告: fill the slots (entity, period, domains) from whatever the user says, confirm, issue.

Any message may fill several slots at once ("帮我开近三年环保和安全生产的信用报告"), so the
dialog never walks a fixed sequence: after each message it asks only for what is still missing.
Issuing is exactly-once across crashes and duplicate deliveries: the confirmation is committed
as step "issuing" before rendering starts, and a resumed conversation first looks for the
report that confirmation already produced (see `resume_issuing`).

Action payloads come from clients and are checked like typed text: one that names no option
of the current step (`domain:abc`, `domain:999`, `period:garbage`, another user's entity) gets
a polite answer and the step asked again, never an exception.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import msgspec

from bot.dialogs import identity
from bot.dialogs.base import Ctx, Deferred, Inbound, is_yes, squash
from bot.dialogs.menu import detect_task
from bot.dialogs.state import Ambiguity, Issue, ReportData, ReportFlow, require_handlers
from bot.dialogs.state import ReportStep as Step
from bot.replies import choices
from bot.replies import report as report_reply
from core.domain_text import DomainChoice, find_domains, parse_domains
from core.domains import DOMAINS, domain_by_number
from core.periods import (
    MAX_YEARS,
    QUICK_CHOICES,
    Period,
    PeriodError,
    find_period,
    parse_period,
    validate_period,
)
from core.records import DATA_START, cn_date
from core.report import ReportError, check_entity
from core.report_identity import ReportLinks

NAME = "report"
TITLE = "开具信用报告"

#: How long a confirmation being rendered by a process that is still alive blocks rendering it
#: again; an owner that is stopped, unknown or silent is not waited for at all.
ISSUE_LEASE = timedelta(seconds=60)

_DOMAIN_NUMBERS = frozenset(d.number for d in DOMAINS)

HELP = {
    "entity": "请选择要为哪家企业开具报告；也可以绑定新的企业。",
    "period": (
        "报告期间可以这样说：近一年、近三年、近半年、近6个月、去年、今年、2024年、"
        f"2023年3月至2024年6月、2023.3-2024.6、从{cn_date(DATA_START)}至今，"
        f"或者“全部”（自{cn_date(DATA_START)}起，最长{MAX_YEARS}年）。"
    ),
    "domains": (
        "报告领域可以说“全部”，也可以列出几个，如“环保、安全生产和税务”，或者“除了税务都要”；"
        "也可以在按钮中多选。"
    ),
    "ambiguous": "您输入的词可能对应多个领域，请点选您要的那一个。",
    "confirm": "请核对企业、期间和领域，无误后点“确认开具”；需要修改可点“修改期间”或“修改领域”。",
    "issuing": "报告正在生成，请稍候。",
}


async def start(ctx: Ctx, text: str = "") -> None:
    ctx.enter(ReportFlow())
    if text:
        _absorb(ctx, text)
    await advance(ctx)


async def resume(ctx: Ctx, data: ReportData) -> None:
    """Continue after identity was checked, with the slots filled before it."""
    ctx.enter(ReportFlow(data=data))
    await advance(ctx)


def _data(ctx: Ctx) -> ReportData:
    return ctx.current(ReportFlow).data


def _step(ctx: Ctx) -> Step | None:
    return ctx.current(ReportFlow).step


async def prompt(ctx: Ctx) -> None:
    await _ask(ctx, _step(ctx))


async def handle(ctx: Ctx, message: Inbound) -> None:
    step = _step(ctx)
    if step is Step.ENTITY:
        await _on_entity(ctx, message)
    elif step is Step.AMBIGUOUS and message.name == "domain":
        await _on_ambiguous_action(ctx, message)
    elif step is Step.CONFIRM and message.name == "confirm":
        await _on_confirm_action(ctx, message.arg)
    elif step is Step.CONFIRM and is_yes(message):
        await _on_confirm_action(ctx, "issue")
    elif message.name == "period":
        await _on_period_action(ctx, message.arg)
    elif message.name in ("domain", "domains"):
        await _on_domains_action(ctx, message)
    elif message.text and _absorb(ctx, message.text, reply_to=step):
        await advance(ctx)
    else:
        ongoing = detect_task(message.text) == NAME
        ctx.say("好的，我们继续办理报告。" if ongoing else "抱歉，我没有理解您的意思。")
        await prompt(ctx)


# --- slots ---------------------------------------------------------------------------------

#: "再加上环保" adds to the domains already chosen instead of replacing them.
_ADDING = ("加上", "再加", "增加", "添加", "还要")


def _absorb(ctx: Ctx, text: str, reply_to: Step | None = None) -> bool:
    """Fill every slot `text` names; True when it said anything about a slot."""
    if reply_to in (Step.DOMAINS, Step.AMBIGUOUS):
        choice = parse_domains(text)
        if choice is not None and not choice.unknown:
            _take_domains(ctx, choice)
            return True
    understood = False
    rest = text
    try:
        whole = parse_period(text, ctx.today) if reply_to is Step.PERIOD else None
        found = (whole, (0, len(text))) if whole else find_period(text, ctx.today)
    except PeriodError as error:
        ctx.say(error.message)
        return True
    if found is not None:
        period, (begin, end) = found
        rest = text[:begin] + " " + text[end:]
        _take_period(ctx, period)
        understood = True
    choice = parse_domains(rest) if reply_to in (Step.DOMAINS, Step.AMBIGUOUS) else _found_domains(rest)
    if choice is not None:
        _take_domains(ctx, choice, adding=any(word in text for word in _ADDING))
        understood = True
    return understood


def _found_domains(text: str) -> DomainChoice | None:
    found = find_domains(text)
    return found[0] if found else None


def _take_period(ctx: Ctx, period: Period) -> None:
    """The one place the chat validates a period: the validated period is what gets issued."""
    try:
        validate_period(period, ctx.today)
    except PeriodError as error:
        ctx.say(error.message)
        return
    data = _data(ctx)
    data.start, data.end = period.start, period.end


def _take_domains(ctx: Ctx, choice: DomainChoice, *, adding: bool = False) -> None:
    for word in choice.unknown:
        ctx.say(f"没有找到与“{word}”对应的领域。")
    data = _data(ctx)
    chosen = {d.number for d in choice.domains}
    if adding:
        chosen |= set(data.domains)
    if choice.ambiguous:
        data.partial = sorted(chosen)
        data.ambiguous = [Ambiguity(word, [d.number for d in options]) for word, options in choice.ambiguous]
        data.domains = []
    elif chosen:
        data.domains = sorted(chosen)


def _resolve_ambiguous(ctx: Ctx, numbers: list[int]) -> None:
    data = _data(ctx)
    partial = set(data.partial) | set(numbers)
    pending = data.ambiguous[1:]
    if pending:
        data.partial, data.ambiguous = sorted(partial), pending
    else:
        data.partial, data.ambiguous, data.domains = [], [], sorted(partial)


# --- the next question ------------------------------------------------------------------


async def advance(ctx: Ctx) -> None:
    """Ask for the first missing slot, or for confirmation when none is missing."""
    data = _data(ctx)
    if data.uscc is None and not await _choose_entity(ctx):
        return
    if data.checked != data.uscc:
        # Checked once per chosen entity, not on every turn; the issuer checks again at issue time.
        entity = await ctx.store.entity(data.uscc or "")
        assert entity is not None  # a binding's entity; entities are never deleted
        try:
            check_entity(entity)
        except ReportError as error:
            ctx.say(str(error))
            ctx.end()
            return
        data.checked = data.uscc
    for step, missing in (
        (Step.PERIOD, data.period is None),
        (Step.AMBIGUOUS, bool(data.ambiguous)),
        (Step.DOMAINS, not data.domains),
        (Step.CONFIRM, True),
    ):
        if missing:
            if ctx.step is not step:
                ctx.goto(step)
            await _ask(ctx, step)
            return


async def _choose_entity(ctx: Ctx) -> bool:
    """Pick the entity from the user's bindings; False when the user has to answer first."""
    bound = await ctx.store.bindings(ctx.user, ctx.now)
    data = _data(ctx)
    if not bound:
        ctx.say("开具报告前，需要先核验您的身份并绑定企业。")
        await identity.start(ctx, then=data)
        return False
    if len(bound) == 1:
        data.uscc, data.name = bound[0].uscc, bound[0].name
        return True
    if ctx.step is not Step.ENTITY:
        ctx.goto(Step.ENTITY)
    await _ask(ctx, Step.ENTITY)
    return False


async def _on_entity(ctx: Ctx, message: Inbound) -> None:
    bound = {b.uscc: b.name for b in await ctx.store.bindings(ctx.user, ctx.now)}
    if message.action == "entity:new" or squash(message.text) in {"其他企业", "绑定其他企业", "绑定新企业"}:
        then = msgspec.structs.replace(_data(ctx), uscc=None, name=None, checked=None)
        await identity.start(ctx, then=then)
        return
    uscc = message.arg if message.name == "entity" else None
    if uscc is None and message.text:
        typed = squash(message.text)
        uscc = next((u for u, name in bound.items() if typed and (typed in name or typed == u)), None)
    if uscc not in bound:
        ctx.say("请从下面的企业中选择一家。")
        await _ask(ctx, Step.ENTITY)
        return
    data = _data(ctx)
    data.uscc, data.name = uscc, bound[uscc]
    await advance(ctx)


async def _on_period_action(ctx: Ctx, phrase: str) -> None:
    if phrase == "custom":
        ctx.say(
            f"请直接输入报告期间，例如“2023年3月至2024年6月”“2023.3-2024.6”或“从{cn_date(DATA_START)}至今”。"
        )
        return
    try:
        period = parse_period(phrase, ctx.today)
    except PeriodError as error:
        ctx.say(error.message)
        await prompt(ctx)
        return
    if period is None:
        ctx.say("抱歉，没有识别出所选的时间范围，请重新选择或直接输入。")
        await prompt(ctx)
        return
    _take_period(ctx, period)
    await advance(ctx)


def _action_domains(action: str) -> set[int] | None:
    """`domains:all`, `domains:5,9,13` or multi-select parts `domain:5|domain:9` (see chat_api).

    None when any part names no domain: a payload half understood is not acted on.
    """
    numbers: set[int] = set()
    for part in action.split("|"):
        name, _, arg = part.partition(":")
        if name == "domains" and arg == "all":
            numbers.update(_DOMAIN_NUMBERS)
            continue
        if name not in ("domain", "domains"):
            return None
        for item in arg.split(","):
            item = item.strip()
            if not (item.isascii() and item.isdigit()) or int(item) not in _DOMAIN_NUMBERS:
                return None
            numbers.add(int(item))
    return numbers


async def _on_domains_action(ctx: Ctx, message: Inbound) -> None:
    numbers = _action_domains(message.action)
    if not numbers:
        ctx.say("抱歉，没有识别出所选的领域，请重新选择，至少选择一个领域。")
        await prompt(ctx)
        return
    data = _data(ctx)
    data.ambiguous, data.partial, data.domains = [], [], sorted(numbers)
    await advance(ctx)


async def _on_ambiguous_action(ctx: Ctx, message: Inbound) -> None:
    """A tap on one of the meanings offered for the ambiguous word, and nothing else."""
    numbers = _action_domains(message.action)
    offered = set(_data(ctx).ambiguous[0].options)
    if not numbers or not numbers <= offered:
        ctx.say("抱歉，所选的不是下面列出的领域之一，请从下面的选项中选择。")
        await prompt(ctx)
        return
    _resolve_ambiguous(ctx, sorted(numbers))
    await advance(ctx)


async def _on_confirm_action(ctx: Ctx, what: str) -> None:
    if what == "issue":
        begin_issuing(ctx)
        return
    data = _data(ctx)
    if what == "period":
        data.start = data.end = None
    elif what == "domains":
        data.domains = []
    else:
        ctx.say("抱歉，没有识别出您的选择，请点选下面的按钮。")
    await advance(ctx)


async def _ask(ctx: Ctx, step: Step | None) -> None:
    """Ask the question of `step`; with no step, or a step whose answer was already given or
    withdrawn since (返回 restores a step with the data as it is now), ask what is missing."""
    if step is None or not await _ASKERS[step](ctx, _data(ctx)):
        await advance(ctx)


async def _ask_entity(ctx: Ctx, data: ReportData) -> bool:
    bound = await ctx.store.bindings(ctx.user, ctx.now)
    options = [(f"{b.name}", f"entity:{b.uscc}") for b in bound]
    ctx.ask("您已绑定多家企业，请选择要为哪家企业开具报告：", [*options, ("绑定其他企业", "entity:new")])
    return True


async def _ask_period(ctx: Ctx, data: ReportData) -> bool:
    ctx.reply(_PERIOD_QUESTION)
    return True


async def _ask_ambiguous(ctx: Ctx, data: ReportData) -> bool:
    if not data.ambiguous:
        return False
    pending = data.ambiguous[0]
    options = [(domain_by_number(n).name, f"domain:{n}") for n in pending.options]
    ctx.ask(f"“{pending.word}”可能指以下领域，请选择：", options)
    return True


#: The same two questions every time: built once, not on every turn that asks them.
_DOMAIN_QUESTIONS = (
    choices(
        "请选择报告涵盖的领域：可以选“全部领域”，或直接输入，如“环保、安全生产和税务”“除了税务都要”。",
        [("全部领域（40个）", "domains:all")],
    ),
    choices("也可以在下面多选：", [(d.name, f"domain:{d.number}") for d in DOMAINS], multi=True),
)
_PERIOD_QUESTION = choices(
    "请选择报告涵盖的时间，也可以直接输入，如“2023年3月至2024年6月”：",
    [*((label, f"period:{phrase}") for label, phrase in QUICK_CHOICES), ("其他时间", "period:custom")],
)


async def _ask_domains(ctx: Ctx, data: ReportData) -> bool:
    for question in _DOMAIN_QUESTIONS:
        ctx.reply(question)
    return True


async def _ask_confirm(ctx: Ctx, data: ReportData) -> bool:
    period = data.period
    if period is None or not data.domains or data.uscc is None:
        return False
    numbers = data.domains
    names = "、".join(domain_by_number(n).name for n in numbers)
    domains = f"全部40个领域（{names}）" if len(numbers) == len(DOMAINS) else names
    lines = [
        "请确认报告信息：",
        f"企业：{data.name}（{data.uscc}）",
        f"期间：{period.label()}",
        f"领域：{domains}",
    ]
    if period.partly_uncovered:
        lines.append(f"提示：平台自{cn_date(DATA_START)}起归集数据，此前的时段报告中将注明不在覆盖范围内。")
    options = [
        ("确认开具", "confirm:issue"),
        ("修改期间", "confirm:period"),
        ("修改领域", "confirm:domains"),
        ("取消", "cancel"),
    ]
    ctx.ask("\n".join(lines), options)
    return True


async def _ask_issuing(ctx: Ctx, data: ReportData) -> bool:
    ctx.say("您的报告正在生成，请稍候片刻再发送任意消息查看结果。")
    return True


_ASKERS: dict[Step, Callable[[Ctx, ReportData], Awaitable[bool]]] = {
    Step.ENTITY: _ask_entity,
    Step.PERIOD: _ask_period,
    Step.AMBIGUOUS: _ask_ambiguous,
    Step.DOMAINS: _ask_domains,
    Step.CONFIRM: _ask_confirm,
    Step.ISSUING: _ask_issuing,
}
require_handlers(Step, _ASKERS)


# --- issuing -------------------------------------------------------------------------------


def begin_issuing(ctx: Ctx) -> None:
    """Commit "issuing" first, render after: a crash in between is resumed, never repeated.

    The request id is made once per confirmation and kept across resumptions, so the report
    service returns the report a crashed or slow attempt already issued instead of a second one.
    """
    data = _data(ctx)
    period = data.period
    assert period is not None and data.uscc is not None  # confirmed only once every slot is filled
    request_id = data.issue.request_id if data.issue else uuid.uuid4().hex
    data.issue = Issue(
        request_id=request_id, owner=ctx.services.processes.current_id, lease=ctx.now + ISSUE_LEASE
    )
    if ctx.step is not Step.ISSUING:
        ctx.goto(Step.ISSUING)
    ctx.say("好的，正在为您生成报告，请稍候……")
    user, uscc, domains = ctx.user, data.uscc, list(data.domains)
    issuer = ctx.services.issuer

    async def run() -> ReportLinks:
        return await issuer.issue(user, uscc, period, domains, request_id)

    ctx.deferred = Deferred(run=run, finish=finish_issuing)


async def finish_issuing(ctx: Ctx, outcome: Any) -> None:
    if isinstance(outcome, ReportLinks):
        deliver(ctx, outcome, "您的专项信用报告已生成：")
        ctx.end()
        ctx.ask("还需要办理其他业务吗？", [("再开一份报告", "menu:report"), ("我的报告", "menu:my_reports")])
    elif isinstance(outcome, ReportError):
        ctx.say(str(outcome))
        ctx.end()
    else:
        ctx.say("抱歉，报告生成时出现了问题，请稍后重试。")
        flow = ctx.current(ReportFlow)
        flow.data.issue = None
        flow.step = Step.CONFIRM
        await _ask(ctx, Step.CONFIRM)


async def resume_issuing(ctx: Ctx) -> None:
    """A message while (or after) a confirmation was being rendered, possibly by a crashed process.

    The process that began rendering (`owner`) is waited for only while it is alive and its
    lease runs: one killed, stopped or silent for three heartbeats will never finish, so the
    render starts again at once (the request id makes that return any report it did issue).
    The lease still bounds the wait for a live owner whose render was lost without its process.
    """
    issue = _data(ctx).issue
    assert issue is not None  # set with the issuing step
    alive = issue.owner is not None and await ctx.services.processes.is_alive(issue.owner, ctx.now)
    if alive and ctx.now < issue.lease:
        await _ask(ctx, Step.ISSUING)
        return
    begin_issuing(ctx)


def deliver(ctx: Ctx, links: ReportLinks, message: str) -> None:
    ctx.reply(
        report_reply(
            message,
            report_no=links.report_no,
            pdf_url=links.pdf_url,
            verify_url=links.verify_url,
            qr_url=links.qr_url,
        )
    )
