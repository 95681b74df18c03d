"""Service configuration, read once from environment variables.

Everything a deployment changes lives here so that the rest of the code takes plain values
and tests can build a `Settings` directly instead of patching the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


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
        )
