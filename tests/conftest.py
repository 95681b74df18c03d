"""Shared fixtures: a fresh real database per test, SQLite or PostgreSQL.

Two environment variables decide which database a test gets:

- CREDITBOT_TEST_PG_URL (set by scripts/with-postgres.sh) names a PostgreSQL server to
  create throw-away databases on.
- CREDITBOT_TEST_DB selects the pass: `sqlite` runs every test, `db_url` tests on SQLite;
  `postgresql` runs only the tests that touch a database (marked `database` automatically
  below), `db_url` tests on PostgreSQL. Unset, it is `postgresql` when a server is given,
  else `sqlite`.

Tests that must hold on both databases in every pass (the storage contracts) take
`each_db_url` (or `database_urls`), parametrized over both: its PostgreSQL case runs in the
SQLite pass too whenever a server is given, and is skipped, saying why, when none is. In the
PostgreSQL pass only the PostgreSQL case runs. So `make test` runs, under one server:

    CREDITBOT_TEST_DB=sqlite pytest -q && CREDITBOT_TEST_DB=postgresql pytest -q
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from storage.db import create_engine, upgrade

PG_ADMIN_URL = os.environ.get("CREDITBOT_TEST_PG_URL", "")
DIALECTS = ("sqlite", "postgresql")
TEST_DB = os.environ.get("CREDITBOT_TEST_DB") or ("postgresql" if PG_ADMIN_URL else "sqlite")
NO_SERVER = "no PostgreSQL server: set CREDITBOT_TEST_PG_URL, e.g. run under `bash scripts/with-postgres.sh`"

#: A database URL factory: `await make("sqlite")` or `await make("postgresql")`.
MakeUrl = Callable[[str], Awaitable[str]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "database: uses a real database (runs on SQLite and PostgreSQL)")
    if TEST_DB not in DIALECTS:
        raise pytest.UsageError(f"CREDITBOT_TEST_DB must be one of {', '.join(DIALECTS)}, not {TEST_DB!r}")
    if TEST_DB == "postgresql" and not PG_ADMIN_URL:
        raise pytest.UsageError(f"CREDITBOT_TEST_DB=postgresql but {NO_SERVER}")
    if TEST_DB == "postgresql" and not config.option.markexpr:
        config.option.markexpr = "database"


@asynccontextmanager
async def _postgres_database() -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped (connections and all) afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin_dsn = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def database_urls(tmp_path: Path) -> AsyncIterator[MakeUrl]:
    """Empty databases that exist only for this test; PostgreSQL skips the test without a server."""
    files = itertools.count(1)
    async with AsyncExitStack() as stack:

        async def make(dialect: str) -> str:
            if dialect == "sqlite":
                number = next(files)
                return f"sqlite+aiosqlite:///{tmp_path / ('test.db' if number == 1 else f'test-{number}.db')}"
            if dialect != "postgresql":
                raise ValueError(f"unknown test database {dialect!r}")
            if not PG_ADMIN_URL:
                pytest.skip(NO_SERVER)
            return await stack.enter_async_context(_postgres_database())

        yield make


@pytest.fixture
async def db_url(database_urls: MakeUrl) -> str:
    """A URL of an empty database of the pass's kind (CREDITBOT_TEST_DB)."""
    return await database_urls(TEST_DB)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.database)])
async def each_db_url(request: pytest.FixtureRequest, database_urls: MakeUrl) -> str:
    """An empty database of each kind in turn, whatever the pass (see the module docstring)."""
    return await database_urls(request.param)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a freshly migrated database."""
    engine = create_engine(db_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, demo=True, port=0, render_workers=1)
