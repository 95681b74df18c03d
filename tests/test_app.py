"""The service starts on a fresh data directory, migrates its database and answers /healthz."""

from __future__ import annotations

from bot.app import create_app
from bot.config import Settings


async def test_healthz_on_a_fresh_data_directory(aiohttp_client, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}
    assert (settings.data_dir / "hash.key").stat().st_mode & 0o777 == 0o600


def test_settings_from_environment() -> None:
    settings = Settings.from_env({"CREDITBOT_PORT": "9000", "CREDITBOT_DEMO": "1", "DATABASE_URL": ""})
    assert settings.port == 9000 and settings.demo and settings.host == "127.0.0.1"
    assert settings.effective_database_url == "sqlite+aiosqlite:///var/creditbot.db"
