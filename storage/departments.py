"""Data-source departments (one data-source unit each) and their API keys.

A key is shown once when the department is added and only its SHA-256 is stored: a leaked
database does not let anyone write records. The key is long and random, so an unsalted fast
hash is enough and lets a request find its department with one indexed lookup.

A department is one 数据来源单位: its name (and USCC, when given) is what every record written
with its key carries, so `DepartmentInfo.scope` is all the API needs to bind writes to it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.intake import UnitScope
from storage.models import Department

DEPARTMENTS = Department.__table__
KEY_PREFIX = "cbk_"


class DepartmentExistsError(ValueError):
    pass


@dataclass(frozen=True)
class DepartmentInfo:
    id: int
    name: str
    domains: frozenset[int]
    created_at: datetime
    active: bool
    uscc: str = ""

    @property
    def scope(self) -> UnitScope:
        return UnitScope(unit=self.name, unit_uscc=self.uscc, domains=self.domains)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _info(row: object) -> DepartmentInfo:
    mapping = row._mapping  # type: ignore[attr-defined]
    domains = frozenset(int(part) for part in mapping["domains"].split(",") if part)
    return DepartmentInfo(
        mapping["id"], mapping["name"], domains, mapping["created_at"], mapping["active"], mapping["uscc"]
    )


async def add_department(
    connection: AsyncConnection, name: str, domains: Sequence[int], now: datetime, uscc: str = ""
) -> str:
    """Create the department and return its new API key, which is not stored anywhere.

    `uscc` is the unit's code, already validated (`core.uscc.validate_uscc`), or empty.
    """
    taken = await connection.execute(select(DEPARTMENTS.c.id).where(DEPARTMENTS.c.name == name))
    if taken.first() is not None:
        raise DepartmentExistsError(name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await connection.execute(
        insert(DEPARTMENTS).values(
            name=name,
            uscc=uscc,
            domains=",".join(str(number) for number in sorted(set(domains))),
            key_hash=key_hash(key),
            created_at=now,
            active=True,
        )
    )
    return key


async def list_departments(connection: AsyncConnection) -> list[DepartmentInfo]:
    rows = await connection.execute(select(DEPARTMENTS).order_by(DEPARTMENTS.c.id))
    return [_info(row) for row in rows]


async def department_for_key(connection: AsyncConnection, key: str) -> DepartmentInfo | None:
    """The active department this key belongs to, if any."""
    statement = select(DEPARTMENTS).where(
        DEPARTMENTS.c.key_hash == key_hash(key), DEPARTMENTS.c.active.is_(True)
    )
    row = (await connection.execute(statement)).first()
    return _info(row) if row is not None else None
