"""The service on a real socket, started by `bot.app.serve` exactly as `creditbot serve` does.

`aiohttp_client` runs the application on aiohttp's plain test server, whose connections are
not ours; what the HTTP parser refuses is only answered in Chinese by the server `serve`
builds, so these tests go through that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app, serve
from bot.config import Settings
from storage.departments import add_department

CHAT = "/api/chat"
DEPT = "/api/v1/dept/records"


@dataclass
class Served:
    host: str
    port: int
    session: aiohttp.ClientSession
    dept_key: str

    @property
    def dept_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.dept_key}", "Content-Type": "application/json"}


@contextlib.asynccontextmanager
async def served_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Served]:
    async with engine.begin() as connection:
        key = await add_department(connection, "晋城市市场监督管理局", [6, 14], datetime.now(UTC))
    ready: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(create_app(settings), "127.0.0.1", 0, ready.set_result, handle_signals=False)
    )
    await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # start-up failed: show why
    host, port = ready.result()[0][:2]
    try:
        async with aiohttp.ClientSession(base_url=f"http://{host}:{port}") as session:
            yield Served(host, port, session, key)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_request(served: Served, data: bytes) -> RawResponse:
    """Send bytes as they are (no client would send these) and read one HTTP response."""
    reader, writer = await asyncio.open_connection(served.host, served.port)
    try:
        writer.write(data)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
        body = await reader.readexactly(int(headers["content-length"]))
        return RawResponse(int(status_line.split()[1]), headers, body)
    finally:
        writer.close()
