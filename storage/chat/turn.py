"""What a chat turn loads, and how it can lose a race.

Both backends (`storage.chat.core_backend`, `storage.chat.sqlite_backend`) give the same
guarantees: the state, the replies remembered for a message id and whatever the dialogs wrote
are saved together or not at all; a turn that lost a race to another process raises
`VersionConflictError` (run it again) or `DuplicateMessageError` (answer with what the winner
remembered).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


class VersionConflictError(Exception):
    """Another process changed the conversation since it was loaded; the turn is run again."""


class DuplicateMessageError(Exception):
    """Another process answered the same message id first; its replies are the answer."""


@dataclass
class Loaded:
    state: dict[str, Any]
    version: int
    updated_at: datetime | None
    replies: list[dict[str, Any]] | None

    @property
    def exists(self) -> bool:
        return self.updated_at is not None


def new_conversation() -> Loaded:
    """A user with no saved state yet (a fresh dict each time: dialogs change it in place)."""
    return Loaded({}, 0, None, None)
