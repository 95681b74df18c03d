"""Each setting is declared once: the environment, the defaults and README's table all come from it."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import LIMITS, Settings, markdown_table
from core.throttle import ThrottleLimits

ROOT = Path(__file__).resolve().parents[1]


def test_readme_lists_every_setting_with_its_default_and_description() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## 配置（环境变量）\n", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|")) + "\n"
    assert table == markdown_table()


def test_the_table_is_what_the_module_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "bot.config", "--markdown"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed == markdown_table()
    assert printed.splitlines()[2] == (
        "| `DATABASE_URL` | `sqlite+aiosqlite:///$CREDITBOT_DATA_DIR/creditbot.db` | "
        "使用 PostgreSQL 时写 `postgresql+asyncpg://用户@主机:端口/库名` |"
    )
    assert printed.splitlines()[14] == (
        "| `CREDITBOT_IDENTITY_LOCK_MINUTES` | `15` | "
        "首次暂停的时长；一天内再次暂停时逐次加倍，最长 24 小时 |"
    )
    assert len(printed.splitlines()) == 2 + 9 + len(LIMITS)


def test_every_variable_reaches_its_setting() -> None:
    env = {
        "DATABASE_URL": "postgresql+asyncpg://u@h:5432/db",
        "CREDITBOT_HOST": "0.0.0.0",
        "CREDITBOT_PORT": "9000",
        "CREDITBOT_DATA_DIR": "/srv/creditbot",
        "CREDITBOT_DEMO": "yes",
        "CREDITBOT_PUBLIC_URL": "https://credit.example.cn/",
        "CREDITBOT_BINDING_DAYS": "7",
        "CREDITBOT_DEMO_ENTITIES": "5",
        "CREDITBOT_RENDER_WORKERS": "3",
        "CREDITBOT_IDENTITY_LOCK_MINUTES": "30",
        "CREDITBOT_SMS_PHONE_INTERVAL_SECONDS": "90",
    }
    assert Settings.from_env(env) == Settings(
        database_url="postgresql+asyncpg://u@h:5432/db",
        host="0.0.0.0",
        port=9000,
        data_dir=Path("/srv/creditbot"),
        demo=True,
        public_url="https://credit.example.cn/",
        binding_days=7,
        demo_entities=5,
        render_workers=3,
        limits=ThrottleLimits(lock=timedelta(minutes=30), phone_interval=timedelta(seconds=90)),
    )
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"CREDITBOT_DEMO": "0"}).demo is False


def test_an_unreadable_setting_is_named_in_chinese(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("CREDITBOT_PORT", "abc")
    assert main(["db", "upgrade"]) == 2
    assert capsys.readouterr().err == "环境变量 CREDITBOT_PORT 的值“abc”无法使用：应为一个整数。\n"
