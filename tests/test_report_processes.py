"""The service-process registry: who is alive, heartbeats, graceful stops, forgotten rows."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import session_factory
from storage.models import ServiceProcess
from storage.processes import ServiceProcesses

_table = ServiceProcess.__table__


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
async def running(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[list[ServiceProcesses]]:
    """Registries a test registers; each is stopped afterwards."""
    started: list[ServiceProcesses] = []
    yield started
    for registry in started:
        await registry.stop()


async def _register(
    sessions: async_sessionmaker[AsyncSession], running: list[ServiceProcesses], **attrs: object
) -> ServiceProcesses:
    registry = ServiceProcesses(sessions)
    for name, value in attrs.items():
        setattr(registry, name, value)
    await registry.register()
    running.append(registry)
    return registry


def _gone_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


async def _row(sessions: async_sessionmaker[AsyncSession], process_id: str):
    async with sessions() as session:
        result = await session.exec(select(_table).where(_table.c.id == process_id))
        return result.first()


async def test_liveness_of_self_others_stale_missing_stopped_and_gone(
    sessions: async_sessionmaker[AsyncSession], running: list[ServiceProcesses]
) -> None:
    me = await _register(sessions, running)
    other = await _register(sessions, running)
    gone = await _register(sessions, running, pid=_gone_pid())
    remote = await _register(sessions, running, pid=_gone_pid(), host="another-host")
    now = datetime.now(UTC)
    assert await me.is_alive(me.current_id, now + timedelta(days=1)) is True  # it is running this code
    assert await me.is_alive(other.current_id, now) is True
    assert await me.is_alive(other.current_id, now + timedelta(seconds=14)) is True
    assert await me.is_alive(other.current_id, now + timedelta(seconds=16)) is False  # 3 beats missed
    assert await me.is_alive(uuid.uuid4().hex, now) is False
    assert await me.is_alive(gone.current_id, now) is False  # same host, no such pid: killed
    # Another host's pid means nothing here: its heartbeat alone decides.
    assert await me.is_alive(remote.current_id, now) is True
    assert await me.is_alive(remote.current_id, now + timedelta(seconds=16)) is False
    await other.stop()
    running.remove(other)
    assert await me.is_alive(other.current_id, now) is False
    assert (await _row(sessions, other.current_id)).stopped_at is not None


async def test_the_heartbeat_moves_until_the_process_stops(
    sessions: async_sessionmaker[AsyncSession], running: list[ServiceProcesses]
) -> None:
    registry = await _register(sessions, running, interval=timedelta(milliseconds=50))
    first = (await _row(sessions, registry.current_id)).heartbeat_at
    await asyncio.sleep(0.3)
    beaten = await _row(sessions, registry.current_id)
    assert beaten.heartbeat_at > first and beaten.stopped_at is None
    await registry.stop()
    running.remove(registry)
    stopped = await _row(sessions, registry.current_id)
    await asyncio.sleep(0.15)
    assert (await _row(sessions, registry.current_id)).heartbeat_at == stopped.heartbeat_at
    assert stopped.stopped_at is not None and stopped.stopped_at >= stopped.heartbeat_at


async def test_a_start_forgets_processes_silent_for_a_day(
    sessions: async_sessionmaker[AsyncSession], running: list[ServiceProcesses]
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=1, minutes=1)
    recent = datetime.now(UTC) - timedelta(hours=23)
    async with sessions() as session:
        for process_id, beat in (("a" * 32, long_ago), ("b" * 32, recent)):
            session.add(ServiceProcess(id=process_id, pid=1, host="h", started_at=beat, heartbeat_at=beat))
        await session.commit()
    registry = await _register(sessions, running)
    assert await _row(sessions, "a" * 32) is None
    assert (await _row(sessions, "b" * 32)).heartbeat_at == recent
    assert (await _row(sessions, registry.current_id)).pid == registry.pid
