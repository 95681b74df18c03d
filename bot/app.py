"""The aiohttp application: wiring only. Each channel registers its own routes via `setup(app)`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.appkeys import ENGINE, HASH_SECRET, SESSIONS, SETTINGS
from bot.config import Settings
from bot.handlers import chat_api, departments, dev, report_users, webchat
from storage.db import create_engine, session_factory, upgrade
from storage.demo import ensure_demo_data
from storage.secrets import load_or_create_secret

log = logging.getLogger(__name__)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.effective_database_url)
    await upgrade(engine)
    if settings.demo:
        await ensure_demo_data(engine, app[HASH_SECRET], settings.demo_entities)
    app[ENGINE] = engine
    app[SESSIONS] = session_factory(engine)
    log.info("database ready", extra={"dialect": engine.dialect.name})
    yield
    await engine.dispose()


def create_app(settings: Settings) -> web.Application:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[SETTINGS] = settings
    app[HASH_SECRET] = load_or_create_secret(settings.data_dir)
    app.cleanup_ctx.append(_database)
    departments.setup(app)
    report_users.setup(app)
    chat_api.setup(app)
    dev.setup(app, settings.demo)
    webchat.setup(app)
    app.router.add_get("/healthz", healthz)
    return app
