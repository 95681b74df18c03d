"""Benchmark: chat turns through the real service against a bare aiohttp + aiosqlite handler.

Run: .venv/bin/python -m bench.chat [--users 50] [--rounds 8]

1. Starts `creditbot serve` (demo mode, SQLite in a temporary data directory, the demo
   dataset written first) and drives N concurrent simulated users over HTTP: each verifies
   its identity (USCC, name confirmation, legal representative, ID tail, the SMS code read
   from /dev/outbox), then runs `--rounds` report dialogs up to the confirmation (period,
   domains, confirmation, 修改领域, 取消), then confirms one report (rendered and signed in
   the process pool) and fetches it again through 我的报告. Every message carries a msg_id.
2. In the same run, a bare aiohttp handler doing one aiosqlite SELECT and one INSERT (+ commit)
   per request, driven by the same client at the same concurrency.

Prints turns/s, p50 and p99 of the non-rendering turns, the rendering turns separately, the
bare handler's requests/s and the ratio. Goals at 50 users: ratio ≥ 0.6, p99 ≤ 50 ms. Then the
same dialogs again, each user pacing its messages so that all together offer half the rate just
measured: the p99 there is what users feel on a service that is busy but not saturated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aiosqlite
from aiohttp import web

from core.intake import EntityValues
from storage.db import create_engine, upgrade
from storage.demo import DemoGenerator, write_demo_data
from storage.secrets import load_or_create_secret

DEMO_ENTITIES = 500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Timings:
    turns: list[float] = field(default_factory=list)
    renders: list[float] = field(default_factory=list)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@dataclass
class Phase:
    latencies: list[float]
    seconds: float

    def line(self, label: str) -> str:
        rate = len(self.latencies) / self.seconds
        return (
            f"{label}: {len(self.latencies)} in {self.seconds:.2f} s = {rate:.0f}/s, "
            f"p50 {_ms(statistics.median(self.latencies))}, p99 {_ms(_percentile(self.latencies, 0.99))}"
        )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the service -------------------------------------------------------------------------------


async def _prepare(data_dir: Path, users: int) -> list[EntityValues]:
    """The demo dataset, and the generated businesses the simulated users will act for."""
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'creditbot.db'}")
    await upgrade(engine)
    secret = load_or_create_secret(data_dir)
    await write_demo_data(engine, secret, DemoGenerator(), DEMO_ENTITIES)
    await engine.dispose()
    phones: set[str] = set()
    chosen = []
    for generated in DemoGenerator().generate(DEMO_ENTITIES):
        if not generated.false_commitment and generated.entity.phone not in phones:
            phones.add(generated.entity.phone)
            chosen.append(generated.entity)
    if len(chosen) < users:
        raise SystemExit(f"only {len(chosen)} distinct demo businesses for {users} users")
    return chosen[:users]


def _start_service(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CREDITBOT_DEMO": "1",
        "CREDITBOT_DATA_DIR": str(data_dir),
        "CREDITBOT_PORT": str(port),
        "CREDITBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # Every simulated user asks from 127.0.0.1: the per-address code limit would stop the run.
        "CREDITBOT_SMS_CLIENT_PER_HOUR": "1000000",
        "CREDITBOT_IDENTITY_CLIENT_MAX_FAILURES": "1000000",
    }
    env.pop("DATABASE_URL", None)
    log = (data_dir / "service.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, stdout=log, stderr=log)


async def _wait_ready(session: aiohttp.ClientSession, base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit("the service exited during start-up; see service.log")
        try:
            async with session.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the service did not start")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _family(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


async def _wait_idle(pid: int, limit: float = 120.0) -> None:
    """Render workers warm up (fonts, templates) in the background after /healthz answers;
    measuring before they finish would charge their start-up CPU to the chat."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = sum(_cpu_seconds(p) for p in _family(pid))
        await asyncio.sleep(1.0)
        if sum(_cpu_seconds(p) for p in _family(pid)) - before < 0.05:
            return


class SimulatedUser:
    def __init__(self, session: aiohttp.ClientSession, base: str, business: EntityValues, timings: Timings):
        self.session = session
        self.base = base
        self.business = business
        self.timings = timings
        self.user = f"bench-{uuid.uuid4().hex[:12]}"
        self.last: list[dict[str, Any]] = []
        #: Seconds between this user's messages when pacing (None: as fast as answers come).
        self.interval: float | None = None
        self._next_at = 0.0

    def pace(self, interval: float, offset: float) -> None:
        self.interval, self._next_at = interval, time.perf_counter() + offset

    async def send(self, *, rendering: bool = False, **message: str) -> list[dict[str, Any]]:
        if self.interval is not None:
            await asyncio.sleep(max(0.0, self._next_at - time.perf_counter()))
            self._next_at = max(self._next_at, time.perf_counter()) + self.interval
        body = {"user": self.user, "msg_id": uuid.uuid4().hex, **message}
        started = time.perf_counter()
        async with self.session.post(f"{self.base}/api/chat", json=body) as response:
            payload = await response.json()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {payload}")
        (self.timings.renders if rendering else self.timings.turns).append(elapsed)
        self.last = payload["replies"]
        return self.last

    def expect(self, fragment: str) -> None:
        text = "\n".join(reply.get("text", "") for reply in self.last)
        if fragment not in text:
            raise RuntimeError(f"expected {fragment!r}, got {text!r}")

    def action(self, label: str) -> str:
        for reply in self.last:
            for option in reply.get("options", []):
                if label in option["label"]:
                    return option["action"]
        raise RuntimeError(f"no option {label!r}")

    async def sms_code(self) -> str:
        async with self.session.get(f"{self.base}/dev/outbox", params={"user": self.user}) as response:
            messages = (await response.json())["messages"]
        return re.search(r"\d{6}", messages[-1]["text"]).group(0)

    async def verify(self) -> None:
        b = self.business
        await self.send(text="帮我开近一年的信用报告")
        await self.send(text=b.uscc)
        self.expect(b.name)
        await self.send(action=self.action("是"))
        await self.send(text=b.legal_rep)
        await self.send(text=b.id_number[-6:])
        self.expect("验证码已发送")
        await self.send(text=await self.sms_code())
        self.expect("身份核验成功")
        await self.send(text="取消")

    async def dialog_round(self) -> None:
        await self.send(text="开报告")
        await self.send(action=self.action("近三年"))
        await self.send(text="环保、安全生产和税务")
        self.expect("请确认报告信息")
        await self.send(action=self.action("修改领域"))
        await self.send(text="除了税务都要")
        await self.send(text="取消")

    async def issue(self) -> None:
        await self.send(text="开近一年环保和税务的报告")
        self.expect("请确认报告信息")
        await self.send(rendering=True, action=self.action("确认开具"))
        report_no = next(r for r in self.last if r["type"] == "report")["report_no"]
        await self.send(text="我的报告")
        await self.send(action=f"report:{report_no}")


async def _run_chat(base: str, session: aiohttp.ClientSession, businesses: list[EntityValues], rounds: int):
    timings = Timings()
    users = [SimulatedUser(session, base, b, timings) for b in businesses]
    started = time.perf_counter()
    await asyncio.gather(*(u.verify() for u in users))
    identity = Phase(list(timings.turns), time.perf_counter() - started)
    for _ in range(rounds):
        await asyncio.gather(*(u.dialog_round() for u in users))
    dialog = Phase(list(timings.turns), time.perf_counter() - started)
    paced = await _paced(users, rounds, timings, len(dialog.latencies) / dialog.seconds / 2)
    render_started = time.perf_counter()
    await asyncio.gather(*(u.issue() for u in users))
    rendering = Phase(timings.renders, time.perf_counter() - render_started)
    after = Phase(timings.turns[len(dialog.latencies) + len(paced.latencies) :], rendering.seconds)
    return identity, dialog, paced, rendering, after


async def _paced(users: list[SimulatedUser], rounds: int, timings: Timings, rate: float) -> Phase:
    """The dialog rounds again with every user sending at `rate` / len(users) messages a second."""
    interval = len(users) / rate
    for index, user in enumerate(users):
        user.pace(interval, offset=interval * index / len(users))
    before = len(timings.turns)
    started = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(u.dialog_round() for u in users))
    for user in users:
        user.interval = None
    return Phase(timings.turns[before:], time.perf_counter() - started)


# --- the bare handler --------------------------------------------------------------------------

_BARE_DB = web.AppKey("bare_db", aiosqlite.Connection)


async def _bare_handler(request: web.Request) -> web.Response:
    body = await request.json()
    db = request.app[_BARE_DB]
    async with db.execute("SELECT state FROM state WHERE user_id = ?", (body["user"],)) as cursor:
        await cursor.fetchone()
    await db.execute(
        "INSERT INTO message (user_id, msg_id, body) VALUES (?, ?, ?)",
        (body["user"], body["msg_id"], json.dumps(body, ensure_ascii=False)),
    )
    await db.commit()
    return web.json_response({"replies": [{"type": "text", "text": "好的"}]})


def serve_bare(port: int, path: str) -> None:
    async def context(app: web.Application):
        db = await aiosqlite.connect(path)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
            await db.execute(f"PRAGMA {pragma}")
        await db.execute("CREATE TABLE IF NOT EXISTS state (user_id TEXT PRIMARY KEY, state TEXT)")
        await db.execute(
            "CREATE TABLE IF NOT EXISTS message "
            "(id INTEGER PRIMARY KEY, user_id TEXT, msg_id TEXT, body TEXT)"
        )
        await db.commit()
        app[_BARE_DB] = db
        yield
        await db.close()

    app = web.Application()
    app.cleanup_ctx.append(context)
    app.router.add_post("/api/chat", _bare_handler)
    app.router.add_get("/healthz", lambda _request: web.json_response({"status": "ok"}))
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _start_bare(port: int, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.chat", "--bare-server", str(port), str(path)])


async def _run_bare(
    base: str, session: aiohttp.ClientSession, users: int, per_user: int
) -> tuple[float, Timings]:
    timings = Timings()

    async def one(user: str) -> None:
        for _ in range(per_user):
            body = {"user": user, "msg_id": uuid.uuid4().hex, "text": "你好"}
            started = time.perf_counter()
            async with session.post(f"{base}/api/chat", json=body) as response:
                await response.json()
            timings.turns.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(f"bare-{i}") for i in range(users)))
    return time.perf_counter() - started, timings


# --- main ----------------------------------------------------------------------------------------


async def main(users: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="creditbot-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        businesses = await _prepare(data_dir, users)
        port, bare_port = _free_port(), _free_port()
        service = _start_service(data_dir, port)
        bare = _start_bare(bare_port, Path(tmp) / "bare.db")
        try:
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:
                await _wait_ready(session, f"http://127.0.0.1:{port}", service)
                await _wait_idle(service.pid)
                await _wait_ready(session, f"http://127.0.0.1:{bare_port}", bare)
                identity, dialog, paced, rendering, after = await _run_chat(
                    f"http://127.0.0.1:{port}", session, businesses, rounds
                )
                per_user = len(dialog.latencies) // users
                bare_seconds, bare_timings = await _run_bare(
                    f"http://127.0.0.1:{bare_port}", session, users, per_user
                )
        finally:
            for process in (service, bare):
                process.terminate()
                process.wait(timeout=30)
    bare = Phase(bare_timings.turns, bare_seconds)
    ratio = (len(dialog.latencies) / dialog.seconds) / (len(bare.latencies) / bare.seconds)
    print(f"users: {users}, dialog rounds per user: {rounds}, CPUs: {os.cpu_count()}")
    print(identity.line("  identity turns (incl. reading codes from /dev/outbox)"))
    print(dialog.line("chat turns, identity + report dialogs, no rendering"))
    print(paced.line("chat turns offered at half that rate (users pacing their messages)"))
    print(rendering.line("rendering turns (confirm → signed PDF)"))
    print(after.line("  non-rendering turns during the rendering phase"))
    print(bare.line("bare aiohttp handler, aiosqlite SELECT + INSERT"))
    print(f"ratio chat/bare: {ratio:.2f} (goal ≥ 0.6); chat p99 goal ≤ 50 ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--bare-server", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(int(args.bare_server[0]), args.bare_server[1])
    else:
        asyncio.run(main(args.users, args.rounds))
