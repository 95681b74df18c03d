"""Routes one message: global commands, expiry, task switching, then the current flow.

The commands (取消, 返回, 帮助, 重新开始) work at every step because they are handled here,
before any flow sees the message; a flow only ever handles messages meant for its step.
"""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType

from bot.dialogs import identity, menu, my_reports, report
from bot.dialogs.base import Ctx, Inbound, is_no, is_yes
from bot.dialogs.state import IdentityFlow, Paused, ReportStep, Switch
from core.domain_text import find_domains
from core.periods import PeriodError, find_period
from core.uscc import find_uscc

FLOWS: dict[str, ModuleType] = {m.NAME: m for m in (identity, report, my_reports)}

#: A conversation idle this long is paused; the next message offers to continue it.
IDLE_LIMIT = timedelta(minutes=30)

_COMMAND_WORDS = {
    "取消": "cancel",
    "算了": "cancel",
    "退出": "cancel",
    "不办了": "cancel",
    "返回": "back",
    "上一步": "back",
    "后退": "back",
    "返回上一步": "back",
    "帮助": "help",
    "help": "help",
    "怎么用": "help",
    "重新开始": "restart",
    "从头开始": "restart",
    "重来": "restart",
    "菜单": "menu",
    "主菜单": "menu",
}
_COMMANDS = {"cancel", "back", "help", "restart"}


async def dispatch(ctx: Ctx, message: Inbound, idle: timedelta | None) -> None:
    if ctx.step is ReportStep.ISSUING:
        await report.resume_issuing(ctx)
        return
    if ctx.flow is not None and idle is not None and idle > IDLE_LIMIT:
        _pause(ctx)
        return
    paused, ctx.state.paused = ctx.state.paused, None
    switch, ctx.state.switch = ctx.state.switch, None
    command = message.name if message.name in _COMMANDS else _COMMAND_WORDS.get(message.plain.lower())
    if command == "menu":
        ctx.end()
        menu.show(ctx)
    elif command:
        await _command(ctx, command, paused)
    elif paused and (message.name == "resume" or message.plain in {"继续", "继续办理"}):
        await _resume(ctx, paused, message.arg or "continue")
    elif switch and (message.name == "switch" or is_yes(message) or is_no(message)):
        await _switch(ctx, switch, message.arg == "yes" or is_yes(message))
    else:
        await _route(ctx, message)
    while ctx.then is not None:
        data, ctx.then = ctx.then, None
        await report.resume(ctx, data)


async def _route(ctx: Ctx, message: Inbound) -> None:
    task = message.arg if message.name == "menu" and message.arg in FLOWS else None
    task = task or (menu.detect_task(message.text) if message.text else None)
    current = ctx.flow_name
    if current is None:
        if task:
            await FLOWS[task].start(ctx, message.text)
        else:
            await _idle_text(ctx, message)
        return
    if task and task != current and not _continues(ctx, task):
        ctx.state.switch = Switch(to=task, text=message.text)
        current, wanted = FLOWS[current].TITLE, FLOWS[task].TITLE
        ctx.ask(
            f"您正在办理“{current}”，要切换到“{wanted}”吗？切换后当前未完成的办理将不再保留。",
            [(f"切换到{wanted}", "switch:yes"), ("继续当前办理", "switch:no")],
        )
        return
    if message.name == "menu":
        await FLOWS[current].prompt(ctx)
        return
    await FLOWS[current].handle(ctx, message)


def _continues(ctx: Ctx, task: str) -> bool:
    """Asking for a report while identity is being checked for that very report is no switch."""
    flow = ctx.flow
    return isinstance(flow, IdentityFlow) and flow.data.then is not None and task == report.NAME


async def _idle_text(ctx: Ctx, message: Inbound) -> None:
    """Outside any flow: a USCC starts identity, a period or domain starts a report, else the menu."""
    text = message.text
    if text and find_uscc(text):
        await identity.start(ctx, text)
        return
    try:
        names_slot = bool(text) and (find_period(text, ctx.today) or find_domains(text))
    except PeriodError:
        names_slot = True
    if names_slot:
        await report.start(ctx, text)
    else:
        menu.show(ctx)


async def _command(ctx: Ctx, command: str, paused: Paused | None) -> None:
    flow = ctx.flow_name
    if command == "cancel":
        ctx.end()
        menu.show(ctx, "好的，已取消当前办理。还需要办理什么业务？" if flow or paused else menu.WELCOME)
    elif command == "help":
        step_help = FLOWS[flow].HELP.get(ctx.step) if flow else None
        ctx.say(step_help or menu.HELP)
        if flow:
            await FLOWS[flow].prompt(ctx)
        else:
            menu.show(ctx, "请问您要办理什么业务？")
    elif command == "back":
        if ctx.back():
            ctx.say("好的，回到上一步。")
            await FLOWS[ctx.flow_name].prompt(ctx)
        elif flow:
            ctx.say("已经是第一步了。")
            await FLOWS[flow].prompt(ctx)
        else:
            menu.show(ctx)
    else:
        target = flow or (paused.flow.name if paused else None)
        ctx.end()
        if target:
            ctx.say("好的，我们重新开始。")
            await FLOWS[target].start(ctx)
        else:
            menu.show(ctx)


def _pause(ctx: Ctx) -> None:
    assert ctx.state.flow is not None
    title = FLOWS[ctx.state.flow.name].TITLE
    ctx.state.paused = Paused(flow=ctx.state.flow, history=ctx.state.history)
    ctx.end()
    ctx.ask(
        f"您好，由于超过30分钟没有操作，刚才的“{title}”已暂停。要从刚才的步骤继续，还是重新开始？",
        [("继续办理", "resume:continue"), ("重新开始", "restart")],
    )


async def _resume(ctx: Ctx, paused: Paused, how: str) -> None:
    if how != "continue":
        await FLOWS[paused.flow.name].start(ctx)
        return
    ctx.state.flow, ctx.state.history = paused.flow, paused.history
    ctx.say("好的，我们从刚才的步骤继续。")
    await FLOWS[paused.flow.name].prompt(ctx)


async def _switch(ctx: Ctx, switch: Switch, yes: bool) -> None:
    if not yes:
        ctx.say("好的，我们继续。")
        await FLOWS[ctx.flow_name].prompt(ctx)
        return
    ctx.end()
    await FLOWS[switch.to].start(ctx, switch.text)
