"""The menu, the help text, and recognising which task a free-text message asks for."""

from __future__ import annotations

from bot.dialogs.base import Ctx, squash

WELCOME = (
    "您好！我是山西省专项信用报告服务助手。专项信用报告可替代有无违法违规记录证明，"
    "用于行政审批、招标投标、政府采购、融资等场景。请问您要办理什么业务？"
)

OPTIONS = [
    ("开具信用报告", "menu:report"),
    ("我的报告", "menu:my_reports"),
    ("绑定企业", "menu:identity"),
    ("帮助", "help"),
]

HELP = (
    "我可以帮您：① 开具专项信用报告（可直接说“帮我开近三年环保和安全生产的信用报告”）；"
    "② 查看和重新获取“我的报告”；③ 绑定企业（核验法定代表人身份）。"
    "办理中随时可以发送：取消、返回（回到上一步）、帮助、重新开始。"
)

#: Words that name a task, checked in this order (我的报告 before the generic 报告 words).
_TASK_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "my_reports",
        (
            "我的报告",
            "我的信用报告",
            "查进度",
            "进度",
            "历史报告",
            "报告记录",
            "之前的报告",
            "以前的报告",
            "查报告",
        ),
    ),
    ("identity", ("绑定企业", "绑定新企业", "身份核验", "身份验证", "认证企业", "换个企业", "换企业")),
    (
        "report",
        (
            "开报告",
            "开具",
            "开一份",
            "出报告",
            "信用报告",
            "专项报告",
            "开个报告",
            "要报告",
            "申请报告",
            "出具",
        ),
    ),
)


def detect_task(text: str) -> str | None:
    plain = squash(text)
    for task, words in _TASK_WORDS:
        if any(word in plain for word in words):
            return task
    return None


def show(ctx: Ctx, message: str = WELCOME) -> None:
    ctx.ask(message, OPTIONS)
