"""Structured (JSON lines) logging with personal data masked on the way out.

Redaction sits in the formatter, not at call sites, so a careless `log.info(f"... {phone}")`
anywhere still cannot write a phone or ID number in clear.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from core.personal_data import redact

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Access lines and WeasyPrint's per-step progress would drown the service's own events.
    for noisy in ("aiohttp.access", "weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
