"""The one builder of test entities, used by the tests and the benchmarks alike.

An entity is built as the register would send it (`core.intake.EntityValues`: a valid USCC, a
valid resident ID number in clear) and stored through `storage.intake.entity_row`, the row
builder the demo data uses, so its ID hashes are the service's own (`core.personal_data`) and
the identity dialog can match them. It lives in tests/, not in storage/: it is test data, not
service code, and the benchmarks run from a checkout, where `tests` is importable.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from core.intake import EntityValues
from core.resident_id import make_resident_id
from core.uscc import make_uscc
from storage.bulk import insert_rows
from storage.intake import ENTITIES, ENTITY_COLUMNS, entity_row

#: The hash secret of tests that never check an ID number against the stored hashes.
TEST_SECRET = b"creditbot-test-secret-32-bytes!!"


def serial_uscc(serial: int, region: str = "140525") -> str:
    """A valid 企业 USCC (prefix 91) in a Shanxi region, a different one for each serial below 10**7."""
    return make_uscc(f"91{region}MA{serial:07d}")


def entity_values(
    uscc: str,
    name: str = "泽州县金鼎矿业有限公司",
    *,
    entity_type: str = "企业",
    legal_rep: str = "李卫东",
    id_number: str | None = None,
    phone: str = "13800001234",
    address: str = "山西省晋城市泽州县南村镇",
    registered_on: date | None = date(2012, 5, 8),
    registration_authority: str = "泽州县市场监督管理局",
) -> EntityValues:
    """A valid entity; the ID number defaults to a valid one (check character computed)."""
    return EntityValues(
        uscc=uscc,
        name=name,
        entity_type=entity_type,
        legal_rep=legal_rep,
        id_number=id_number or make_resident_id("14052519800101123"),
        phone=phone,
        address=address,
        registered_on=registered_on,
        registration_authority=registration_authority,
    )


async def store_entities(
    engine: AsyncEngine,
    entities: Iterable[EntityValues],
    *,
    secret: bytes = TEST_SECRET,
    false_commitment: Iterable[str] = (),
) -> None:
    """Store new entities in one transaction; `false_commitment` lists the USCCs flagged 虚假承诺."""
    now = datetime.now(UTC)
    flagged = set(false_commitment)
    rows = [entity_row(entity, secret, now, entity.uscc in flagged) for entity in entities]
    async with engine.begin() as connection:
        await insert_rows(connection, ENTITIES, ENTITY_COLUMNS, rows)
