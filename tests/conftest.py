"""Shared fixtures: a fresh real database per test, SQLite by default or PostgreSQL.

`make test` runs the suite once on SQLite and then, with CREDITBOT_TEST_PG_URL pointing at a
throw-away PostgreSQL server, once more for every test that touches a database (marked
`database` automatically below).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from storage.db import create_engine, upgrade

PG_ADMIN_URL = os.environ.get("CREDITBOT_TEST_PG_URL", "")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "database: uses a real database (runs on SQLite and PostgreSQL)")
    if PG_ADMIN_URL and not config.option.markexpr:
        config.option.markexpr = "database"


@pytest.fixture
async def db_url(tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty database that exists only for this test."""
    if not PG_ADMIN_URL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin_dsn = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


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
