"""kill -9 between a report's PDF and its row: the restart leaves no file behind and nobody waits."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.config import Settings
from bot.dialogs.state import ReportStep, load_state
from storage.models import Conversation, IssuedReport, ServiceProcess
from tests.chat_client import ChatClient, http_sender, open_world, verify

ROOT = Path(__file__).resolve().parent.parent


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


async def _issued(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(IssuedReport.__table__.c.report_no))).scalars())


async def _kill_9_while_issuing(settings: Settings, user: str) -> None:
    """The confirmation runs in a real process that SIGKILLs itself once the PDF is staged."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.crash_issuing",
        settings.effective_database_url,
        str(settings.data_dir),
        user,
        "confirm-1",
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == -signal.SIGKILL, err.decode()


async def test_a_process_killed_between_pdf_and_commit_leaves_no_file_and_no_wait(
    engine: AsyncEngine, settings: Settings, tmp_path: Path, aiohttp_client, caplog: pytest.LogCaptureFixture
) -> None:
    world = await open_world(engine, tmp_path)
    # The crashing process and the restarted service run on the system clock.
    world.clock.now = datetime.now(UTC)
    assert settings.data_dir == tmp_path / "data"  # the world's data directory is the service's
    chat = world.client()
    await chat.say("绑定企业")
    await verify(world, chat)
    (await chat.say("开近一年税务的报告")).says("请确认报告信息")
    await world.close()

    await _kill_9_while_issuing(settings, chat.user)
    reports = settings.data_dir / "reports"
    (staged,) = _files(reports)
    report_no, dead, suffix = staged.name.split(".", 2)
    assert suffix == "pdf.tmp"
    assert await _issued(engine) == []
    async with engine.connect() as conn:
        conversation, process = Conversation.__table__.c, ServiceProcess.__table__.c
        state = (
            await conn.execute(select(conversation.state).where(conversation.user_id == chat.user))
        ).scalar_one()
        stopped = (await conn.execute(select(process.stopped_at).where(process.id == dead))).scalar_one()
    flow = load_state(state).flow
    assert flow.step is ReportStep.ISSUING and flow.data.issue.owner == dead
    assert stopped is None  # killed, not shut down: only its pid's absence tells

    caplog.set_level(logging.INFO, logger="bot.reports")
    client = await aiohttp_client(create_app(settings))
    assert _files(reports) == []
    (checked,) = [r for r in caplog.records if r.getMessage() == "report files checked"]
    assert (checked.removed_staged, checked.removed_orphans, checked.published) == (1, 0, 0)

    replies = await ChatClient(http_sender(client), chat.user).say("好了吗")
    replies.never_says("正在生成")
    report = replies.report()
    assert await _issued(engine) == [report["report_no"]]
    assert report["report_no"] != report_no  # the dead process's number was never committed
    (final,) = _files(reports)
    assert final.name == f"{report['report_no']}.pdf"
    path = report["pdf_url"].split("//", 1)[1].split("/", 1)[1]
    download = await client.get("/" + path)
    assert download.status == 200 and await download.read() == final.read_bytes()
