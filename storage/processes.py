"""Which service processes are running: the owners of work in flight, such as a report being issued.

Each service process registers a `service_process` row at start, refreshes its heartbeat
every few seconds from a background task and marks the row stopped on a graceful shutdown. A
conversation left at "issuing" names the process that began rendering; when that process is
stopped, unknown, gone from its host (same host, no such pid) or has missed three heartbeats,
it can never finish, so the next message resumes at once instead of waiting out a lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ServiceProcess

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = timedelta(seconds=5)
#: A process that has not beaten for this many intervals is taken for dead.
MISSED_BEATS = 3
#: Rows of processes silent this long are deleted at the next start; "missing" reads as dead.
FORGET_AFTER = timedelta(days=1)

_table = ServiceProcess.__table__


class ProcessRegistry(Protocol):
    """What a dialog needs to know about service processes (see `bot.dialogs.base.Services`)."""

    @property
    def current_id(self) -> str:
        """This process's id, stored with work it begins so others can judge it abandoned."""
        ...

    async def is_alive(self, process_id: str, now: datetime) -> bool:
        """False when `process_id` can no longer finish its work: stopped, missing or silent."""
        ...


class LocalProcess:
    """The registry of code that shares no process table (tests, tools): only itself is alive."""

    def __init__(self) -> None:
        self.current_id = uuid.uuid4().hex

    async def is_alive(self, process_id: str, now: datetime) -> bool:
        return process_id == self.current_id


#: The one `LocalProcess` of this interpreter, so every engine in it agrees who is alive.
LOCAL_PROCESS = LocalProcess()


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to another user
        return True
    return True


class ServiceProcesses:
    """This process's `service_process` row and heartbeat, and the liveness of any other process."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], interval: timedelta = HEARTBEAT_INTERVAL
    ) -> None:
        self.sessions = sessions
        self.interval = interval
        self.current_id = uuid.uuid4().hex
        self.pid = os.getpid()
        self.host = socket.gethostname()[:255]
        self._beating: asyncio.Task[None] | None = None

    async def register(self) -> None:
        """Add this process's row (forgetting long-silent ones) and start the heartbeat."""
        now = datetime.now(UTC)
        async with self.sessions() as session:
            await session.exec(delete(_table).where(_table.c.heartbeat_at < now - FORGET_AFTER))
            session.add(
                ServiceProcess(
                    id=self.current_id, pid=self.pid, host=self.host, started_at=now, heartbeat_at=now
                )
            )
            await session.commit()
        self._beating = asyncio.create_task(self._heartbeat())
        log.info("service process registered", extra={"process_id": self.current_id, "pid": self.pid})

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.interval.total_seconds())
            try:
                await self._set(heartbeat_at=datetime.now(UTC))
            except (SQLAlchemyError, OSError):
                # A missed beat or two is harmless; the next one may well get through.
                log.exception("heartbeat failed", extra={"process_id": self.current_id})

    async def stop(self) -> None:
        """Graceful shutdown: stop beating and say so, so that nobody waits for this process.

        A database already gone at shutdown does not fail it: the heartbeat has stopped, so
        others take this process for dead by its missing pid or, elsewhere, three beats later.
        """
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
            self._beating = None
        try:
            await self._set(stopped_at=datetime.now(UTC))
        except (SQLAlchemyError, OSError):
            log.warning("could not mark the process stopped", extra={"process_id": self.current_id})

    async def _set(self, **values: datetime) -> None:
        async with self.sessions() as session:
            await session.exec(update(_table).where(_table.c.id == self.current_id).values(**values))
            await session.commit()

    async def is_alive(self, process_id: str, now: datetime) -> bool:
        if process_id == self.current_id:
            return True
        async with self.sessions() as session:
            result = await session.exec(
                select(_table.c.pid, _table.c.host, _table.c.heartbeat_at, _table.c.stopped_at).where(
                    _table.c.id == process_id
                )
            )
            row = result.first()
        if row is None or row.stopped_at is not None:
            return False
        if row.host == self.host and not _pid_running(row.pid):
            return False
        return now - row.heartbeat_at <= MISSED_BEATS * self.interval
