"""身份核验: prove that the chat user may act for a business, then bind the two for 30 days.

USCC → the entity's name confirmed → the legal representative's name → the last six characters
of their ID number → a one-time code sent to the registered phone. Name and ID tail are judged
together, so an answer never says which of the two was wrong.

Guessing is limited by what is attacked (`core.throttle`): wrong answers count per entity
across every user, per client address and per user, and a limit reached locks that subject
for everyone and tells the entity's owner by SMS. Codes are limited per phone whoever asks.
The turn holds the entity's key while it reads and updates the counters, so concurrent
guesses from many user ids are counted one after another, never in parallel.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.dialogs.base import Ctx, Inbound, is_no, is_yes, squash
from bot.dialogs.state import IdentityData, IdentityFlow, ReportData, require_handlers
from bot.dialogs.state import IdentityStep as Step
from core.personal_data import id_tail_hash, keyed_hash, mask_phone
from core.records import CHINA_TZ
from core.text import compact, fold
from core.throttle import HOUR, Counter, Scope, after_failure, next_code_allowed, remaining
from core.uscc import UsccError, find_uscc, validate_uscc
from storage.chat.store import EntityRow

NAME = "identity"
TITLE = "绑定企业（身份核验）"

CODE_VALIDITY = timedelta(minutes=5)
#: Waits shorter than this are told in seconds ("请42秒后再重新发送"), longer ones as a time of day.
_SHORT_WAIT = timedelta(minutes=2)
MISMATCH = "法定代表人姓名或身份证号码后6位与登记信息不一致。"
NOT_SENT = "验证码尚未发送，请点击“重新发送验证码”。"

Counters = dict[tuple[Scope, str], Counter | None]

HELP = {
    "uscc": "统一社会信用代码是营业执照上的18位代码，由数字和大写字母组成（不含字母I、O、Z、S、V）。",
    "confirm": "请确认找到的企业是否就是您要办理的企业。",
    "legal_rep": "请输入营业执照上登记的法定代表人（负责人）姓名。",
    "id_tail": "请输入法定代表人身份证号码的最后6位，最后一位如果是X，大小写均可。",
    "code": "验证码已通过短信发送到企业登记的手机号码，5分钟内有效；没有收到可以点“重新发送验证码”。",
}


async def start(ctx: Ctx, text: str = "", then: ReportData | None = None) -> None:
    ctx.enter(IdentityFlow(step=Step.USCC, data=IdentityData(then=then)))
    if text and find_uscc(text):
        await _take_uscc(ctx, text)
    else:
        await prompt(ctx)


def _data(ctx: Ctx) -> IdentityData:
    return ctx.current(IdentityFlow).data


async def prompt(ctx: Ctx) -> None:
    data = _data(ctx)
    step = ctx.step
    if step is Step.USCC:
        ctx.say("请输入企业的18位统一社会信用代码。")
    elif step is Step.CONFIRM:
        ctx.ask(f"找到企业：{data.name}。是这家企业吗？", [("是", "yes"), ("不是", "no")])
    elif step is Step.LEGAL_REP:
        ctx.say("请输入该企业法定代表人的姓名。")
    elif step is Step.ID_TAIL:
        ctx.say("请输入法定代表人身份证号码的后6位。")
    elif data.code_hash is None:
        _ask_code(ctx, NOT_SENT)
    else:
        _ask_code(ctx, f"请输入发送到 {data.masked_phone} 的6位短信验证码。")


async def handle(ctx: Ctx, message: Inbound) -> None:
    await _HANDLERS[ctx.current(IdentityFlow).step](ctx, message)


def _entity_key(uscc: str) -> str:
    return f"identity:{uscc}"


def _subjects(ctx: Ctx, uscc: str) -> list[tuple[Scope, str]]:
    subjects = [(Scope.ENTITY, uscc), (Scope.USER, ctx.user)]
    if ctx.client:
        subjects.append((Scope.CLIENT, ctx.client))
    return subjects


async def _counters(ctx: Ctx, uscc: str) -> Counters:
    return {subject: await ctx.store.throttle(*subject) for subject in _subjects(ctx, uscc)}


async def _guarded(ctx: Ctx) -> Counters | None:
    """Hold the entity's key for the rest of the turn and read its counters fresh.

    None when a lock refuses the step (the answer is already given and the flow ended).
    """
    uscc = _uscc(ctx)
    await ctx.hold(_entity_key(uscc))
    counters = await _counters(ctx, uscc)
    if _refuse_if_locked(ctx, counters):
        return None
    return counters


def _uscc(ctx: Ctx) -> str:
    uscc = _data(ctx).uscc
    assert uscc is not None, "set when the USCC step is left"
    return uscc


def _lock_end(counters: Counters, now: datetime) -> datetime | None:
    ends = [end for counter in counters.values() if counter and (end := counter.lock_end(now))]
    return max(ends) if ends else None


def _refuse_if_locked(ctx: Ctx, counters: Counters) -> bool:
    until = _lock_end(counters, ctx.now)
    if until is None:
        return False
    ctx.say(_lock_message(until))
    ctx.end()
    return True


async def _on_uscc(ctx: Ctx, message: Inbound) -> None:
    suggestion = _data(ctx).suggestion
    if message.name == "uscc" and message.arg:
        await _take_uscc(ctx, message.arg)
    elif is_yes(message) and suggestion:
        await _take_uscc(ctx, suggestion)
    elif message.text:
        await _take_uscc(ctx, message.text)
    else:
        await prompt(ctx)


async def _take_uscc(ctx: Ctx, text: str) -> None:
    data = _data(ctx)
    data.suggestion = None
    try:
        uscc = validate_uscc(find_uscc(text) or text)
    except UsccError as error:
        if error.suggestion:
            data.suggestion = error.suggestion
            ctx.say(error.problem)
            ctx.ask(f"您是不是想输入 {error.suggestion}？", [("是", f"uscc:{error.suggestion}")])
        else:
            ctx.say(error.message)
        return
    entity = await ctx.store.entity(uscc)
    if entity is None:
        ctx.say(
            f"没有找到统一社会信用代码为 {uscc} 的经营主体。请核对代码后重新输入；"
            "如果企业是新近登记的，数据可能尚未归集，请稍后再试。"
        )
        return
    if any(bound.uscc == uscc for bound in await ctx.store.bindings(ctx.user, ctx.now)):
        ctx.say(f"您已绑定“{entity.name}”，无需再次核验。")
        _finish(ctx, uscc, entity.name)
        return
    if _refuse_if_locked(ctx, await _counters(ctx, uscc)):
        return
    data.uscc, data.name = uscc, entity.name
    ctx.goto(Step.CONFIRM)
    await prompt(ctx)


async def _on_confirm(ctx: Ctx, message: Inbound) -> None:
    if is_yes(message):
        if await _guarded(ctx) is None:
            return
        ctx.goto(Step.LEGAL_REP)
    elif is_no(message):
        ctx.say("好的，请重新输入统一社会信用代码。")
        ctx.goto(Step.USCC)
        return
    await prompt(ctx)


async def _on_legal_rep(ctx: Ctx, message: Inbound) -> None:
    """Kept as a keyed hash only, and judged with the ID tail: no answer tells which one was wrong."""
    if await _guarded(ctx) is None:
        return
    if not message.text:
        await prompt(ctx)
        return
    _data(ctx).rep_hash = _name_hash(ctx, message.text)
    ctx.goto(Step.ID_TAIL)
    await prompt(ctx)


async def _on_id_tail(ctx: Ctx, message: Inbound) -> None:
    counters = await _guarded(ctx)
    if counters is None:
        return
    tail = compact(message.text)
    if len(tail) != 6 or not tail[:5].isdigit() or not (tail[5].isdigit() or tail[5] == "X"):
        ctx.say("请输入6位：身份证号码的最后6位是数字，最后一位也可能是X。")
        return
    entity = await ctx.store.entity(_uscc(ctx))
    assert entity is not None  # found at the USCC step; entities are never deleted
    name_ok = hmac.compare_digest(_data(ctx).rep_hash or "", _name_hash(ctx, entity.legal_rep))
    tail_ok = hmac.compare_digest(id_tail_hash(ctx.services.hash_secret, tail), entity.legal_rep_id_tail_hash)
    if not (name_ok and tail_ok):
        if await _failure(ctx, entity, counters, MISMATCH):
            ctx.goto(Step.LEGAL_REP)
            await prompt(ctx)
        return
    ctx.goto(Step.CODE)
    await _send_code(ctx, entity)


async def _send_code(ctx: Ctx, entity: EntityRow) -> None:
    """Send a code unless the phone, the address or the user has had its share of them."""
    data = _data(ctx)
    phone_hash = keyed_hash(ctx.services.hash_secret, f"phone:{entity.phone}")
    sent = await ctx.store.codes_sent(phone_hash, ctx.client, ctx.user, ctx.now - HOUR)
    allowed_at = next_code_allowed(sent, ctx.now, ctx.services.limits)
    if allowed_at is not None:
        wait = allowed_at - ctx.now
        if wait <= _SHORT_WAIT:
            _ask_code(ctx, f"验证码刚刚发送过，请{int(wait.total_seconds()) + 1}秒后再重新发送。")
        else:
            _ask_code(ctx, f"验证码发送次数过多，请于{_clock_time(allowed_at)}后再点击“重新发送验证码”。")
        return
    code = f"{secrets.randbelow(1_000_000):06d}"
    data.code_hash = _code_hash(ctx, code)
    data.code_expires = ctx.now + CODE_VALIDITY
    data.masked_phone = mask_phone(entity.phone)
    body = f"【信用山西】您的验证码为{code}，5分钟内有效，用于绑定企业开具专项信用报告。如非本人操作请忽略。"
    await ctx.services.sms.send(ctx.store, entity.phone, body, ctx.now)
    await ctx.store.code_sent(phone_hash, ctx.client, ctx.user, ctx.now)
    _ask_code(ctx, f"验证码已发送至 {data.masked_phone}，5分钟内有效，请输入6位验证码。")


def _ask_code(ctx: Ctx, message: str) -> None:
    ctx.ask(message, [("重新发送验证码", "code:resend")])


def _code_hash(ctx: Ctx, code: str) -> str:
    """Bound to user and entity, so a hash copied from one conversation is useless in another."""
    return keyed_hash(ctx.services.hash_secret, f"otp:{ctx.user}:{_uscc(ctx)}:{code}")


def _name_hash(ctx: Ctx, name: str) -> str:
    folded = "".join(fold(name).split()).replace("•", "·").replace(".", "·")
    return keyed_hash(ctx.services.hash_secret, f"rep:{_uscc(ctx)}:{folded}")


async def _on_code(ctx: Ctx, message: Inbound) -> None:
    counters = await _guarded(ctx)
    if counters is None:
        return
    data = _data(ctx)
    entity = await ctx.store.entity(_uscc(ctx))
    assert entity is not None  # found at the USCC step; entities are never deleted
    if message.action == "code:resend" or squash(message.text) in {"重新发送", "重发", "重新发送验证码"}:
        await _send_code(ctx, entity)
        return
    if data.code_hash is None or data.code_expires is None:
        _ask_code(ctx, NOT_SENT)
        return
    code = "".join(ch for ch in fold(message.text) if ch.isdigit())
    if len(code) != 6:
        _ask_code(ctx, "请输入短信中的6位数字验证码。")
        return
    if ctx.now > data.code_expires:
        _ask_code(ctx, "验证码已过期（有效期5分钟），请点击“重新发送验证码”获取新的验证码。")
        return
    if not hmac.compare_digest(_code_hash(ctx, code), data.code_hash):
        await _failure(ctx, entity, counters, "验证码不正确。")
        return
    await _bind(ctx, counters)


_HANDLERS: dict[Step, Callable[[Ctx, Inbound], Awaitable[None]]] = {
    Step.USCC: _on_uscc,
    Step.CONFIRM: _on_confirm,
    Step.LEGAL_REP: _on_legal_rep,
    Step.ID_TAIL: _on_id_tail,
    Step.CODE: _on_code,
}
require_handlers(Step, _HANDLERS)


async def _bind(ctx: Ctx, counters: Counters) -> None:
    data = _data(ctx)
    uscc, name = _uscc(ctx), data.name or ""
    await ctx.store.bind(ctx.user, uscc, name, ctx.now, ctx.services.binding_days)
    # The owner's own slips stop counting; an address shared with others keeps its count.
    for scope, subject in counters:
        if scope is not Scope.CLIENT:
            await ctx.store.forgive(scope, subject, ctx.now)
    ctx.say(f"身份核验成功！您已绑定“{name}”，{ctx.services.binding_days}天内办理业务无需再次核验。")
    _finish(ctx, uscc, name)


def _finish(ctx: Ctx, uscc: str, name: str) -> None:
    then = _data(ctx).then
    ctx.end()
    if then is not None:
        then.uscc, then.name = uscc, name
        ctx.then = then
    else:
        ctx.ask("接下来您可以：", [("开具信用报告", "menu:report"), ("我的报告", "menu:my_reports")])


async def _failure(ctx: Ctx, entity: EntityRow, counters: Counters, reason: str) -> bool:
    """Count a wrong answer everywhere it counts; False when that locked the step (flow ended)."""
    limits = ctx.services.limits
    left = []
    locked: datetime | None = None
    for (scope, subject), counter in counters.items():
        updated = after_failure(counter, scope, ctx.now, limits)
        await ctx.store.save_throttle(scope, subject, updated, ctx.now)
        if (end := updated.lock_end(ctx.now)) is not None:
            locked = max(end, locked) if locked else end
            if scope is Scope.ENTITY:
                await _tell_owner(ctx, entity, end)
        else:
            left.append(remaining(updated, scope, limits))
    if locked is not None:
        ctx.say(f"{reason}{_lock_message(locked)}")
        ctx.end()
        return False
    ctx.say(f"{reason}请核对后重新输入，您还可以尝试{min(left)}次。")
    return True


async def _tell_owner(ctx: Ctx, entity: EntityRow, until: datetime) -> None:
    """The owner learns that someone is guessing; the message carries no code and no answer."""
    body = (
        f"【信用山西】贵单位（{entity.name}）在专项信用报告服务中的身份核验因多次输入错误，"
        f"已暂停至{until.astimezone(CHINA_TZ):%m月%d日%H:%M}。如非贵单位人员操作，请注意防范信息泄露。"
    )
    await ctx.services.sms.send(ctx.store, entity.phone, body, ctx.now)


def _clock_time(moment: datetime) -> str:
    return f"{moment.astimezone(CHINA_TZ):%H:%M}"


def _lock_message(until: datetime) -> str:
    """The same words whichever answer was wrong and whichever limit was reached."""
    return f"为保护企业信息安全，身份核验因多次输入错误已暂停，请于{_clock_time(until)}后再试。"
