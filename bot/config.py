"""Service configuration, read once from environment variables, each declared exactly once.

Everything a deployment changes lives here so that the rest of the code takes plain values
and tests can build a `Settings` directly instead of patching the environment. Each setting is
one declaration: its type and default (the dataclass field, or `core.throttle.ThrottleLimits`
for the identity and SMS limits), its environment variable and its Chinese description (the
`Setting` record). `Settings.from_env` and the README table (`python -m bot.config --markdown`)
are both derived from these declarations, so neither can drift from the other.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.throttle import ThrottleLimits


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


class SettingError(ValueError):
    """An environment variable that cannot be read; the message says which, in Chinese."""


@dataclass(frozen=True)
class Setting:
    """How one environment variable is read and documented; the default lives with the field."""

    env: str
    description: str
    parse: Callable[[str], Any] = str
    #: README wording of a default worked out at run time (CPU count, derived addresses).
    shown_default: str | None = None
    #: For a duration: what one unit of the variable is (a minute, a second).
    unit: timedelta | None = None

    def read(self, text: str) -> Any:
        try:
            value = self.parse(text)
        except ValueError:
            expected = "一个整数" if self.parse is int else "有效的值"
            raise SettingError(f"环境变量 {self.env} 的值“{text}”无法使用：应为{expected}。") from None
        return value * self.unit if self.unit is not None else value

    def show(self, default: Any) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if self.unit is not None:
            return f"`{int(default / self.unit)}`"
        return f"`{default}`"


_SETTING = "setting"


def _setting(default: Any, setting: Setting) -> Any:
    return field(default=default, metadata={_SETTING: setting})


def _cpu_count() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting(
        "",
        Setting(
            "DATABASE_URL",
            "使用 PostgreSQL 时写 `postgresql+asyncpg://用户@主机:端口/库名`",
            shown_default="`sqlite+aiosqlite:///$CREDITBOT_DATA_DIR/creditbot.db`",
        ),
    )
    host: str = _setting("127.0.0.1", Setting("CREDITBOT_HOST", "监听地址"))
    port: int = _setting(8080, Setting("CREDITBOT_PORT", "监听端口", int))
    data_dir: Path = field(
        default_factory=lambda: Path("var"),
        metadata={
            _SETTING: Setting(
                "CREDITBOT_DATA_DIR",
                "数据目录：SQLite 数据库、签名密钥（权限 0600）、已出具报告的 PDF",
                Path,
                shown_default="`./var`",
            )
        },
    )
    demo: bool = _setting(
        False,
        Setting(
            "CREDITBOT_DEMO",
            "`1` 为演示模式（`make run` 会设置）：生成演示数据、短信验证码写入本地发件箱",
            _flag,
            shown_default="未设置",
        ),
    )
    public_url: str = _setting(
        "",
        Setting("CREDITBOT_PUBLIC_URL", "写入二维码和链接的对外地址", shown_default="`http://$HOST:$PORT`"),
    )
    binding_days: int = _setting(
        30, Setting("CREDITBOT_BINDING_DAYS", "身份核验通过后，用户与经营主体的绑定有效天数", int)
    )
    demo_entities: int = _setting(200, Setting("CREDITBOT_DEMO_ENTITIES", "演示数据的经营主体数量", int))
    render_workers: int = field(
        default_factory=_cpu_count,
        metadata={
            _SETTING: Setting("CREDITBOT_RENDER_WORKERS", "渲染 PDF 的进程数", int, shown_default="CPU 核数")
        },
    )
    limits: ThrottleLimits = field(default_factory=ThrottleLimits)

    @property
    def effective_database_url(self) -> str:
        """SQLite in the data directory unless DATABASE_URL names another database."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'creditbot.db'}"

    @property
    def base_url(self) -> str:
        """Absolute address printed into QR codes and links; defaults to where we listen."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        values = {name: setting.read(env[setting.env]) for name, setting in _SERVICE if setting.env in env}
        limits = {name: setting.read(env[setting.env]) for name, setting in LIMITS if setting.env in env}
        return cls(**values, limits=ThrottleLimits(**limits))


#: The identity and code limits (`ThrottleLimits` fields); demo mode keeps them too, only a
#: benchmark raises them.
LIMITS: tuple[tuple[str, Setting], ...] = (
    (
        "entity_failures",
        Setting(
            "CREDITBOT_IDENTITY_MAX_FAILURES",
            "同一经营主体在 15 分钟内允许的身份核验错误次数（不论由哪个用户输入），"
            "达到后该主体的身份核验对所有人暂停",
            int,
        ),
    ),
    (
        "user_failures",
        Setting("CREDITBOT_IDENTITY_USER_MAX_FAILURES", "同一用户在 15 分钟内允许的错误次数（跨主体）", int),
    ),
    (
        "client_failures",
        Setting(
            "CREDITBOT_IDENTITY_CLIENT_MAX_FAILURES",
            "同一客户端地址在 15 分钟内允许的错误次数（跨主体、跨用户）",
            int,
        ),
    ),
    (
        "lock",
        Setting(
            "CREDITBOT_IDENTITY_LOCK_MINUTES",
            "首次暂停的时长；一天内再次暂停时逐次加倍，最长 24 小时",
            int,
            unit=timedelta(minutes=1),
        ),
    ),
    (
        "phone_interval",
        Setting(
            "CREDITBOT_SMS_PHONE_INTERVAL_SECONDS",
            "同一手机号两条验证码之间的最短间隔（不论由谁申请）",
            int,
            unit=timedelta(seconds=1),
        ),
    ),
    (
        "codes_per_phone_hour",
        Setting("CREDITBOT_SMS_PHONE_PER_HOUR", "同一手机号每小时最多收到的验证码条数", int),
    ),
    (
        "codes_per_client_hour",
        Setting("CREDITBOT_SMS_CLIENT_PER_HOUR", "同一客户端地址每小时最多申请的验证码条数", int),
    ),
    (
        "codes_per_user_hour",
        Setting("CREDITBOT_SMS_USER_PER_HOUR", "同一用户每小时最多申请的验证码条数", int),
    ),
)

#: The `Settings` fields read from the environment, in declaration order.
_SERVICE: tuple[tuple[str, Setting], ...] = tuple(
    (f.name, f.metadata[_SETTING]) for f in dataclasses.fields(Settings) if _SETTING in f.metadata
)


def _defaults(cls: type) -> dict[str, Any]:
    return {
        f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }


def markdown_table() -> str:
    """README's configuration table: every variable, its default and description, in order."""
    rows = ["| 变量 | 默认值 | 说明 |", "| --- | --- | --- |"]
    for settings, defaults in ((_SERVICE, _defaults(Settings)), (LIMITS, _defaults(ThrottleLimits))):
        for name, setting in settings:
            rows.append(f"| `{setting.env}` | {setting.show(defaults[name])} | {setting.description} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m bot.config --markdown")
    sys.stdout.write(markdown_table())
