"""The counter command issues a real report; `creditbot verify` checks it with no service running."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from core.records import RecordKind
from core.uscc import make_uscc
from storage.db import create_engine, session_factory, upgrade
from tests.report_support import USCC, pdf_text, record, store_entity, store_records


@pytest.fixture
async def cli_env(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CREDITBOT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CREDITBOT_PUBLIC_URL", "https://xy.example.cn")
    engine = create_engine(db_url)
    await upgrade(engine)
    sessions = session_factory(engine)
    await store_entity(sessions)
    await store_records(sessions, [record(RecordKind.PENALTY, 13, "晋税罚〔2024〕5号", date(2024, 5, 5))])
    await engine.dispose()
    return data_dir


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_report_then_offline_verify(cli_env: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "report.pdf"
    code = await run(
        "report",
        USCC,
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
        "--domains",
        "税务,环保",
        "--out",
        str(out),
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    text = "".join(pdf_text(out.read_bytes()))
    assert "晋税罚〔2024〕5号" in text and "生态环境" in text and "https://xy.example.cn" in text
    assert "报告编号：SX" in printed and "核验码：" in printed

    keys_file = tmp_path / "keys.json"
    assert await run("keys", "export", "--out", str(keys_file)) == 0
    assert json.loads(keys_file.read_text())["keys"][0]["status"] == "current"

    assert await run("verify", str(out), "--keys", str(keys_file)) == 0
    assert "核验通过" in capsys.readouterr().out

    tampered = tmp_path / "tampered.pdf"
    data = bytearray(out.read_bytes())
    data[len(data) // 3] ^= 0x20
    tampered.write_bytes(bytes(data))
    assert await run("verify", str(tampered), "--keys", str(keys_file)) == 1
    assert "核验未通过" in capsys.readouterr().out


async def test_report_refusals_are_explained(cli_env: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.pdf"
    assert await run("report", USCC, "--from", "2024-12-31", "--to", "2024-01-01", "--out", str(out)) == 1
    assert "不能晚于结束日期" in capsys.readouterr().err
    assert (
        await run(
            "report",
            USCC,
            "--from",
            "2024-01-01",
            "--to",
            "2024-12-31",
            "--domains",
            "火星",
            "--out",
            str(out),
        )
        == 1
    )
    assert "未知领域：火星" in capsys.readouterr().err
    assert (
        await run("report", USCC[:-1] + "0", "--from", "2024-01-01", "--to", "2024-12-31", "--out", str(out))
        == 1
    )
    assert "校验码" in capsys.readouterr().err
    unknown = make_uscc("91140525MA0K8U2R8")
    assert await run("report", unknown, "--from", "2024-01-01", "--to", "2024-12-31", "--out", str(out)) == 1
    assert f"未找到统一社会信用代码为 {unknown} 的经营主体" in capsys.readouterr().err
    assert not out.exists()
