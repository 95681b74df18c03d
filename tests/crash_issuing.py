"""Run as a process of its own: confirm one user's report, then die by SIGKILL mid-issue.

`python -m tests.crash_issuing DATABASE_URL DATA_DIR USER MSG_ID` builds a registered,
heartbeating service process (engine, report service, process registry) on the given database
and data directory, taps "确认开具" for USER, and kills itself with SIGKILL the moment the
staged PDF is durable and before its `issued_report` row is committed: the window a crash
test needs, hit exactly rather than by timing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.chat_issuer import ServiceIssuer
from bot.dialogs.base import Services
from bot.engine import Engine
from bot.keys import KeyStore
from bot.reports import ReportService
from bot.sms import OutboxSmsSender
from storage.chat import backend_for
from storage.db import create_engine, session_factory
from storage.processes import ServiceProcesses


def _die(_staged: Path) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(database_url: str, data_dir: Path, user: str, msg_id: str) -> None:
    db = create_engine(database_url)
    sessions = session_factory(db)
    processes = ServiceProcesses(sessions)
    await processes.register()
    service = ReportService(
        sessions,
        KeyStore(data_dir),
        ThreadPoolExecutor(max_workers=1),
        data_dir,
        "http://creditbot.test",
        processes=processes,
        on_staged=_die,
    )
    services = Services(
        hash_secret=b"crash-test", sms=OutboxSmsSender(), issuer=ServiceIssuer(service), processes=processes
    )
    engine = Engine(backend_for(db), services)
    try:
        await engine.handle(user, action="confirm:issue", msg_id=msg_id)
    finally:
        await engine.close()
    raise SystemExit("the issue finished: the kill never happened")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]))
