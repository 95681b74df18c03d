"""`/healthz` and `/readyz`: is the process alive, and can it do its work now.

`/healthz` is liveness: it answers as long as the event loop runs and touches nothing else, so
an orchestrator never restarts a service that is merely waiting for its database. `/readyz`
is readiness: 200 only when a trivial query on the database succeeds and the PDF render
workers are warm, so no traffic (and no deployment check) reaches a service that would make
its first users wait or fail.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures.process import BrokenProcessPool

from aiohttp import web
from sqlalchemy import text

from bot.appkeys import ENGINE, SETTINGS
from bot.handlers.json_replies import json_reply
from bot.reports import REPORTS

log = logging.getLogger(__name__)

#: A readiness probe must answer quickly even when the database hangs.
DATABASE_TIMEOUT = 2.0
#: How long the probe waits for the warm-up to finish before calling the workers not ready.
WARM_WAIT = 0.05


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _database_ok(request: web.Request) -> bool:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT), request.app[ENGINE].connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not ready"; the kind of failure is logged
        log.warning("readiness: database query failed", extra={"error": type(error).__name__})
        return False
    return True


async def _workers_state(request: web.Request) -> str:
    """ "warm", "warming", or "failed" when the workers could not start at all."""
    try:
        await asyncio.wait_for(request.app[REPORTS].ready(), WARM_WAIT)
    except TimeoutError:
        return "warming"
    except BrokenProcessPool:
        return "failed"
    return "warm"


async def readyz(request: web.Request) -> web.Response:
    """`{"status", "database", "render_workers"}`; `render_workers` counts the workers known warm."""
    database_ok = await _database_ok(request)
    workers_state = await _workers_state(request)
    warm = workers_state == "warm"
    workers = request.app[SETTINGS].render_workers
    body: dict[str, object] = {
        "status": "ready" if database_ok and warm else "not_ready",
        "database": "ok" if database_ok else "unavailable",
        "render_workers": workers if warm else 0,
    }
    problems = []
    if not database_ok:
        problems.append("数据库暂时无法访问")
    if workers_state == "warming":
        problems.append(f"报告渲染进程（{workers} 个）正在启动预热")
    elif workers_state == "failed":
        problems.append("报告渲染进程启动失败，暂时无法出具报告（详见服务日志）")
    if not problems:
        return json_reply(body)
    body["message"] = "服务尚未就绪：" + "；".join(problems) + "，请稍后再试。"
    return json_reply(body, status=503)


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
