"""Who is chatting: outside demo mode the user comes from a session token, never from the request body.

The mini-program login (a later issue) will mint tokens after WeChat's code2session; the chat
API only depends on the `SessionVerifier` protocol. `HmacSessionVerifier` is the token format
that login will issue: `<user id, base64url>.<expiry, unix seconds>.<HMAC-SHA256 hex>`, keyed
with `session.key` in the data directory (created on first use, mode 0600), so every service
process accepts the tokens any of them issued and nothing needs storing per session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Protocol

SESSION_KEY_FILE = "session.key"


class SessionVerifier(Protocol):
    def user_for(self, token: str, now: datetime) -> str | None:
        """The user id the token was issued to, or None when it is forged, malformed or expired."""
        ...


class HmacSessionVerifier:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).hexdigest()

    def issue(self, user: str, now: datetime, ttl: timedelta = timedelta(hours=2)) -> str:
        encoded = base64.urlsafe_b64encode(user.encode("utf-8")).decode("ascii").rstrip("=")
        payload = f"{encoded}.{int((now + ttl).timestamp())}"
        return f"{payload}.{self._mac(payload)}"

    def user_for(self, token: str, now: datetime) -> str | None:
        parts = token.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        encoded, expiry, mac = parts
        if not hmac.compare_digest(self._mac(f"{encoded}.{expiry}"), mac):
            return None
        if int(expiry) <= now.timestamp():
            return None
        try:
            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
