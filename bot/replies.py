"""Reply values of the chat contract (see `bot.handlers.chat_api`), built in one place.

Dialogs return plain dicts so that a reply can be stored as JSON for message-id dedupe and
sent unchanged by every channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Reply = dict[str, Any]


def text(message: str) -> Reply:
    return {"type": "text", "text": message}


def choices(message: str, options: Iterable[tuple[str, str]], *, multi: bool = False) -> Reply:
    return {
        "type": "choices",
        "text": message,
        "options": [{"label": label, "action": action} for label, action in options],
        "multi": multi,
    }


def report(message: str, *, report_no: str, pdf_url: str, verify_url: str, qr_url: str) -> Reply:
    return {
        "type": "report",
        "text": message,
        "report_no": report_no,
        "pdf_url": pdf_url,
        "verify_url": verify_url,
        "qr_url": qr_url,
    }


def image(message: str, url: str) -> Reply:
    return {"type": "image", "text": message, "url": url}


def link(message: str, url: str) -> Reply:
    return {"type": "link", "text": message, "url": url}
