"""The `creditbot` command: one subcommand per module, each registering its own parser.

A command module exposes `register(subparsers)` which adds a parser whose `func(args) -> int`
runs it; the return value is the process exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from types import ModuleType
from typing import Any

from bot.config import SettingError, Settings
from bot.logs import configure_logging
from storage.db import create_engine, upgrade


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import create_app, serve

    settings = Settings.from_env()
    mode = "demo" if settings.demo else "production"

    def ready(addresses: list[Any]) -> None:
        for host, port, *_ in addresses:
            logging.getLogger("creditbot").info("listening on http://%s:%s (%s mode)", host, port, mode)

    # serve() instead of web.run_app: run_app builds a plain AppRunner, whose connections would
    # answer malformed HTTP in aiohttp's English.
    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(serve(create_app(settings), settings.host, settings.port, ready))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    async def run() -> None:
        engine = create_engine(Settings.from_env().effective_database_url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(run())
    print("database is up to date")
    return 0


def _register_core(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="start the service (CREDITBOT_DEMO=1 for demo mode)")
    serve.set_defaults(func=_serve)
    db = subparsers.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply all migrations").set_defaults(func=_db_upgrade)


def _command_modules() -> list[ModuleType]:
    from bot.commands import demo_cmd, dept_cmd, import_cmd, report_cmd

    return [report_cmd, import_cmd, dept_cmd, demo_cmd]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="creditbot", description="信用代证 service assistant")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _register_core(subparsers)
    for module in _command_modules():
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SettingError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
