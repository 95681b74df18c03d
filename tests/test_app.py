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


async def test_no_default_aiohttp_error_page_even_on_the_plain_test_server(aiohttp_client, settings) -> None:
    """The application's own middleware answers; the server's handler is only the safety net."""
    client = await aiohttp_client(create_app(settings))
    missing = await client.get("/api/nope")
    assert missing.status == 404
    assert await missing.json() == {
        "error": {
            "code": "not_found",
            "message": "您访问的页面或接口不存在，请检查网址是否正确。",
            "request_id": missing.headers["X-Request-Id"],
        }
    }
    wrong_method = await client.delete("/healthz", headers={"Accept": "text/html"})
    assert wrong_method.status == 405 and wrong_method.content_type == "text/html"
    assert "该地址不支持这种请求方式。" in await wrong_method.text()


def test_settings_from_environment() -> None:
    settings = Settings.from_env({"CREDITBOT_PORT": "9000", "CREDITBOT_DEMO": "1", "DATABASE_URL": ""})
    assert settings.port == 9000 and settings.demo and settings.host == "127.0.0.1"
    assert settings.effective_database_url == "sqlite+aiosqlite:///var/creditbot.db"
