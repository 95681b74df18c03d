"""The service secret behind keyed hashes of ID numbers, kept in the data directory (mode 0600).

The importer and the chat must hash with the same key, so it lives beside the database
rather than in one process's memory.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_secret(data_dir: Path, name: str = "hash.key") -> bytes:
    path = data_dir / name
    try:
        return path.read_bytes()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_bytes(32)
        # O_EXCL: if another process created it meanwhile, use theirs.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(value)
        return value
