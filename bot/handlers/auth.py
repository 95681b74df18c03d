"""Reading credentials from a request: the one parser of `Authorization: Bearer <token>`.

The chat API (session tokens) and the department API (API keys) both take bearer
credentials; each checks what the token means in its own middleware, but both read the
header here, so both accept and refuse exactly the same headers.
"""

from __future__ import annotations

from aiohttp import web

SCHEME = "bearer"


def bearer_token(header: str | None) -> str | None:
    """The token of a `Bearer` Authorization header, or None when the header holds none.

    The scheme is case-insensitive (RFC 9110 §11.1) and spaces around the token are ignored.
    A missing header, another scheme, an empty token or a "token" with spaces inside (no
    bearer token has any, RFC 6750 §2.1) all count as no token.
    """
    parts = (header or "").split()
    if len(parts) != 2 or parts[0].lower() != SCHEME:
        return None
    return parts[1]


def request_token(request: web.Request) -> str | None:
    return bearer_token(request.headers.get("Authorization"))


def resolved(request: web.Request) -> bool:
    """Whether the request reached a route; an unknown path or method is answered as such, unauthenticated."""
    return request.match_info.http_exception is None
