"""Service configuration, read once from environment variables.

Everything a deployment changes lives here so that the rest of the code takes plain values
and tests can build a `Settings` directly instead of patching the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from core.throttle import ThrottleLimits


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    demo: bool = False
    public_url: str = ""
    binding_days: int = 30
    demo_entities: int = 200
    render_workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    limits: ThrottleLimits = field(default_factory=ThrottleLimits)

    @property
    def effective_database_url(self) -> str:
        """SQLite in the data directory unless DATABASE_URL names another database."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'creditbot.db'}"

    @property
    def base_url(self) -> str:
        """Absolute address printed into QR codes and links; defaults to where we listen."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            data_dir=Path(env.get("CREDITBOT_DATA_DIR", "var")),
            database_url=env.get("DATABASE_URL", ""),
            host=env.get("CREDITBOT_HOST", "127.0.0.1"),
            port=int(env.get("CREDITBOT_PORT", "8080")),
            demo=_flag(env.get("CREDITBOT_DEMO")),
            public_url=env.get("CREDITBOT_PUBLIC_URL", ""),
            binding_days=int(env.get("CREDITBOT_BINDING_DAYS", "30")),
            demo_entities=int(env.get("CREDITBOT_DEMO_ENTITIES", "200")),
            render_workers=int(env.get("CREDITBOT_RENDER_WORKERS", str(max(1, os.cpu_count() or 1)))),
            limits=_limits(env),
        )


def _limits(env: dict[str, str]) -> ThrottleLimits:
    """Identity and code limits; demo mode keeps them too, only a benchmark raises them."""
    default = ThrottleLimits()

    def number(name: str, value: int | timedelta, unit: timedelta | None = None) -> int:
        if isinstance(value, timedelta):
            assert unit is not None
            value = int(value / unit)
        return int(env.get(name, str(value)))

    minute, sec = timedelta(minutes=1), timedelta(seconds=1)
    return ThrottleLimits(
        entity_failures=number("CREDITBOT_IDENTITY_MAX_FAILURES", default.entity_failures),
        user_failures=number("CREDITBOT_IDENTITY_USER_MAX_FAILURES", default.user_failures),
        client_failures=number("CREDITBOT_IDENTITY_CLIENT_MAX_FAILURES", default.client_failures),
        lock=minute * number("CREDITBOT_IDENTITY_LOCK_MINUTES", default.lock, minute),
        codes_per_phone_hour=number("CREDITBOT_SMS_PHONE_PER_HOUR", default.codes_per_phone_hour),
        phone_interval=sec * number("CREDITBOT_SMS_PHONE_INTERVAL_SECONDS", default.phone_interval, sec),
        codes_per_client_hour=number("CREDITBOT_SMS_CLIENT_PER_HOUR", default.codes_per_client_hour),
        codes_per_user_hour=number("CREDITBOT_SMS_USER_PER_HOUR", default.codes_per_user_hour),
    )
