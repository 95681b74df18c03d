"""`/readyz` answers 200 only once the database answers and the render workers are warm; `/healthz` always."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from bot import reports
from bot.app import create_app
from bot.appkeys import ENGINE
from bot.config import Settings
from bot.reports import REPORTS

WARMING = {
    "status": "not_ready",
    "database": "ok",
    "render_workers": 0,
    "message": "服务尚未就绪：报告渲染进程（1 个）正在启动预热，请稍后再试。",
}


async def test_ready_once_the_render_workers_are_warm(aiohttp_client, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    # Spawning a worker and loading WeasyPrint and the fonts takes seconds; this asks at once.
    warming = await client.get("/readyz")
    assert warming.status == 503
    assert await warming.json() == WARMING
    live = await client.get("/healthz")
    assert live.status == 200 and await live.json() == {"status": "ok"}
    await client.app[REPORTS].ready()
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert await ready.json() == {"status": "ready", "database": "ok", "render_workers": 1}


async def test_not_ready_while_the_database_cannot_be_reached(aiohttp_client, tmp_path: Path) -> None:
    """SQLite only: a database file that turned into a directory fails every new connection."""
    database = tmp_path / "db" / "creditbot.db"
    database.parent.mkdir()
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite+aiosqlite:///{database}", port=0, render_workers=1
    )
    client = await aiohttp_client(create_app(settings))
    await client.app[REPORTS].ready()
    assert (await client.get("/readyz")).status == 200
    await client.app[ENGINE].dispose()
    for path in database.parent.iterdir():
        path.unlink()
    database.mkdir()
    response = await client.get("/readyz")
    assert response.status == 503
    assert await response.json() == {
        "status": "not_ready",
        "database": "unavailable",
        "render_workers": 1,
        "message": "服务尚未就绪：数据库暂时无法访问，请稍后再试。",
    }
    assert (await client.get("/healthz")).status == 200


def _dying_pool(workers: int) -> ProcessPoolExecutor:
    """Render workers that die as they start, as with a missing font library or too little memory."""
    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=os._exit, initargs=(3,)
    )


async def test_not_ready_when_the_render_workers_cannot_start(
    aiohttp_client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "create_pool", _dying_pool)
    client = await aiohttp_client(create_app(settings))
    with pytest.raises(BrokenProcessPool):
        await client.app[REPORTS].ready()
    response = await client.get("/readyz")
    assert response.status == 503
    assert await response.json() == {
        "status": "not_ready",
        "database": "ok",
        "render_workers": 0,
        "message": "服务尚未就绪：报告渲染进程启动失败，暂时无法出具报告（详见服务日志），请稍后再试。",
    }
    assert (await client.get("/healthz")).status == 200
