"""The aiohttp application and the server that runs it: wiring only.

Each channel registers itself via `setup(app)`: the shared state it needs as cleanup contexts
on the root application, and its routes, the API channels and the report holders' routes as
sub-applications with their own middlewares (authentication, rate limit). Around everything,
sub-applications included, the root's `errors.middleware` (every failure becomes our Chinese
answer), then `request_guard.middleware` (clean URLs, per-route body sizes, no compressed
bodies). `serve` runs the application the way `creditbot serve` does, on a server
whose connection handler answers even malformed HTTP in Chinese (`ServiceRunner`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from bot.appkeys import ENGINE, HASH_SECRET, SESSIONS, SETTINGS
from bot.config import Settings
from bot.handlers import (
    chat_api,
    departments,
    dev,
    errors,
    health,
    report_users,
    request_guard,
    webchat,
)
from storage.db import create_engine, session_factory, upgrade
from storage.demo import ensure_demo_data
from storage.secrets import load_or_create_secret

log = logging.getLogger(__name__)

#: aiohttp's default for `run_app`; the bare RequestHandler default is an hour.
KEEPALIVE_TIMEOUT = 75.0


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
    app = web.Application(
        client_max_size=request_guard.DEFAULT_LIMIT,
        # Request bodies stay as sent: a compressed one is refused, never inflated.
        handler_args={"auto_decompress": False},
        middlewares=[errors.middleware, request_guard.middleware],
    )
    app[SETTINGS] = settings
    app[HASH_SECRET] = load_or_create_secret(settings.data_dir)
    app.cleanup_ctx.append(_database)
    departments.setup(app)
    report_users.setup(app)
    chat_api.setup(app)
    dev.setup(app, settings.demo)
    webchat.setup(app)
    health.setup(app)
    return app


class ServiceRunner(web.AppRunner):
    """`web.AppRunner` whose server uses `errors.LocalizedRequestHandler` for its connections.

    aiohttp has no option for the connection handler's class; `_make_server` is the runner's
    hook for building its server, so this keeps everything else `AppRunner` does (start-up,
    cleanup, the handler settings) and only swaps the class.
    """

    async def _make_server(self) -> web.Server:
        return errors.LocalizedServer.like(await super()._make_server())


async def serve(
    app: web.Application,
    host: str,
    port: int,
    ready: Callable[[list[Any]], None],
    *,
    handle_signals: bool = True,
) -> None:
    """Serve `app` until cancelled (or SIGINT/SIGTERM); `ready` gets the bound addresses."""
    runner = ServiceRunner(app, handle_signals=handle_signals, keepalive_timeout=KEEPALIVE_TIMEOUT)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        ready(runner.addresses)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
