"""我的报告: the recent reports of the businesses this user acts for, any of them sent again."""

from __future__ import annotations

import re

from bot.dialogs.base import Ctx, Inbound
from bot.dialogs.report import deliver
from bot.dialogs.state import MyReportsFlow, MyReportsStep
from core.report_identity import is_valid_report_no, normalize_report_no

NAME = "my_reports"
TITLE = "我的报告"

HELP = {"list": "点选一份报告即可再次获取下载、核验链接和二维码；也可以直接输入报告编号。"}

_REPORT_NO = re.compile(r"SX\d{14}[0-9A-Z]", re.IGNORECASE)


async def start(ctx: Ctx, text: str = "") -> None:
    ctx.enter(MyReportsFlow(step=MyReportsStep.LIST))
    await prompt(ctx)


async def prompt(ctx: Ctx) -> None:
    bound = await ctx.store.bindings(ctx.user, ctx.now)
    if not bound:
        ctx.end()
        ctx.ask("您还没有绑定企业，绑定后即可查看企业的报告。", [("绑定企业", "menu:identity")])
        return
    rows = await ctx.store.recent_reports([b.uscc for b in bound])
    if not rows:
        ctx.end()
        ctx.ask("您绑定的企业还没有开具过报告。", [("开具信用报告", "menu:report")])
        return
    options = [
        (
            f"{row.report_no}｜{row.entity_name}｜{row.period_start} 至 {row.period_end}",
            f"report:{row.report_no}",
        )
        for row in rows
    ]
    ctx.ask("这是您最近的报告，点选即可再次发送：", options)


async def handle(ctx: Ctx, message: Inbound) -> None:
    """A tapped or typed report number; anything else (unknown, another user's) is not found."""
    if message.name == "report":
        wanted = normalize_report_no(message.arg)
    else:
        match = _REPORT_NO.search(normalize_report_no(message.text))
        wanted = match.group(0).upper() if match else ""
    row = await ctx.store.issued(wanted) if is_valid_report_no(wanted) else None
    bound = {b.uscc for b in await ctx.store.bindings(ctx.user, ctx.now)}
    if row is None or row.uscc not in bound:
        ctx.say("没有在您绑定企业的报告中找到这份报告。")
        await prompt(ctx)
        return
    links = ctx.services.issuer.links(row)
    deliver(ctx, links, f"{row.entity_name}的专项信用报告（{row.period_start} 至 {row.period_end}）：")
