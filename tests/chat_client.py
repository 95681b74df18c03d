"""A small chat client for tests: send text, tap an option by its label, assert on the replies.

`ChatClient` talks to anything that takes a request dict and returns the reply list: the
engine directly (`engine_sender`, no HTTP) or `POST /api/chat` (`http_sender`). `ChatWorld`
builds a real engine on the test database with real report issuing, a movable clock, and the
businesses the dialog tests act for.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.chat_issuer import ServiceIssuer
from bot.dialogs.base import Services
from bot.engine import Engine
from bot.keys import KeyStore
from bot.reports import ReportService
from bot.sms import OutboxSmsSender
from core.resident_id import make_resident_id
from core.uscc import make_uscc
from storage.chat import backend_for
from storage.db import session_factory
from storage.models import OutboxMessage
from tests.fixtures import entity_values, store_entities

Reply = dict[str, Any]
Sender = Callable[[dict[str, Any]], Awaitable[list[Reply]]]


class Replies(list):
    """The replies to one message, with the assertions dialog tests need."""

    @property
    def text(self) -> str:
        return "\n".join(reply.get("text", "") for reply in self)

    def says(self, *fragments: str) -> Replies:
        for fragment in fragments:
            assert fragment in self.text, f"{fragment!r} not in replies:\n{self.text}"
        return self

    def says_line(self, line: str) -> Replies:
        """An exact line, e.g. the confirmation's "领域：…" with nothing more on it."""
        assert line in self.text.splitlines(), f"no line {line!r} in replies:\n{self.text}"
        return self

    def never_says(self, *fragments: str) -> Replies:
        for fragment in fragments:
            assert fragment not in self.text, f"{fragment!r} unexpectedly in replies:\n{self.text}"
        return self

    def options(self) -> list[dict[str, str]]:
        return [option for reply in self if reply["type"] == "choices" for option in reply["options"]]

    def labels(self) -> list[str]:
        return [option["label"] for option in self.options()]

    def option(self, label: str) -> dict[str, str]:
        exact = [o for o in self.options() if o["label"] == label]
        partial = [o for o in self.options() if label in o["label"]]
        found = exact or partial
        assert len(found) >= 1, f"no option {label!r} in {self.labels()}"
        return found[0]

    def multi(self) -> Reply:
        found = [reply for reply in self if reply["type"] == "choices" and reply["multi"]]
        assert found, f"no multi-select in replies:\n{self.text}"
        return found[0]

    def report(self) -> Reply:
        found = [reply for reply in self if reply["type"] == "report"]
        assert len(found) == 1, f"expected one report reply, got:\n{self}"
        return found[0]


class ChatClient:
    def __init__(self, send: Sender, user: str) -> None:
        self._send = send
        self.user = user
        self.last = Replies()

    async def request(self, **fields: Any) -> Replies:
        self.last = Replies(await self._send({"user": self.user, **fields}))
        return self.last

    async def say(self, text: str, msg_id: str | None = None) -> Replies:
        return await self.request(text=text, **({"msg_id": msg_id} if msg_id else {}))

    async def act(self, action: str, msg_id: str | None = None) -> Replies:
        return await self.request(action=action, **({"msg_id": msg_id} if msg_id else {}))

    async def tap(self, label: str) -> Replies:
        """Tap the option whose label is (or contains) `label` in the last replies."""
        return await self.act(self.last.option(label)["action"])

    async def tap_many(self, *labels: str) -> Replies:
        """Choose several options of the last multi-select and submit them, as the web page does."""
        options = {o["label"]: o["action"] for o in self.last.multi()["options"]}
        return await self.act("|".join(options[label] for label in labels))


def engine_sender(engine: Engine, address: str = "") -> Sender:
    """`address` is the client's network address, as the HTTP channel passes it."""

    async def send(request: dict[str, Any]) -> list[Reply]:
        return await engine.handle(
            request["user"],
            text=request.get("text"),
            action=request.get("action"),
            msg_id=request.get("msg_id"),
            client=address,
        )

    return send


def http_sender(client: Any) -> Sender:
    """`client` is pytest-aiohttp's test client."""

    async def send(request: dict[str, Any]) -> list[Reply]:
        response = await client.post("/api/chat", json=request)
        assert response.status == 200, await response.text()
        return (await response.json())["replies"]

    return send


#: Where every chat test's clock starts: a fixed moment, so that no dated expectation ages.
#: (10:00 in Beijing, well inside the day, and before the real clock of any test run.)
CLOCK_START = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = CLOCK_START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Business:
    uscc: str
    name: str
    legal_rep: str
    id_number: str
    phone: str
    false_commitment: bool = False

    @property
    def id_tail(self) -> str:
        return self.id_number[-6:]


ACME = Business(
    make_uscc("91140100MA0K8U2R7"),
    "太原市晋阳建材有限公司",
    "王建国",
    make_resident_id("14010219800101104"),
    "13812341234",
)
RIVER = Business(
    make_uscc("91140500MA0K1A2B3"),
    "晋城市清河环保科技有限公司",
    "李秀英",
    make_resident_id("14050219850505234"),
    "13900005678",
)
LIAR = Business(
    make_uscc("91140700MA0K9C8D1"),
    "晋中市诚信商贸有限公司",
    "赵明",
    make_resident_id("14070219770303345"),
    "13700009876",
    True,
)
BUSINESSES = (ACME, RIVER, LIAR)

_ids = itertools.count(1)


async def add_businesses(db: AsyncEngine, secret: bytes, *businesses: Business) -> None:
    """Store the test businesses with their ID numbers hashed under the service secret."""
    chosen = businesses or BUSINESSES
    entities = [
        entity_values(
            b.uscc,
            b.name,
            legal_rep=b.legal_rep,
            id_number=b.id_number,
            phone=b.phone,
            address="山西省太原市",
            registered_on=date(2015, 3, 1),
            registration_authority="太原市行政审批服务管理局",
        )
        for b in chosen
    ]
    await store_entities(
        db, entities, secret=secret, false_commitment=[b.uscc for b in chosen if b.false_commitment]
    )


class ChatWorld:
    """A real engine on the test database; `restart()` gives a fresh engine as after kill -9."""

    def __init__(self, db: AsyncEngine, data_dir: Path, secret: bytes) -> None:
        self.db = db
        self.clock = FakeClock()
        keys = KeyStore(data_dir)
        keys.ensure()
        self.executor = ThreadPoolExecutor(max_workers=2)
        service = ReportService(session_factory(db), keys, self.executor, data_dir, "http://creditbot.test")
        self.services = Services(hash_secret=secret, sms=OutboxSmsSender(), issuer=ServiceIssuer(service))
        self._engines: list[Engine] = []
        self.engine = self.new_engine()

    def new_engine(self, services: Services | None = None) -> Engine:
        """Another engine on the same database: a restarted or a second service process."""
        engine = Engine(backend_for(self.db), services or self.services, self.clock)
        self._engines.append(engine)
        return engine

    def restart(self) -> Engine:
        self.engine = self.new_engine()
        return self.engine

    def client(self, user: str | None = None, address: str = "") -> ChatClient:
        world = self

        async def send(request: dict[str, Any]) -> list[Reply]:
            return await engine_sender(world.engine, address)(request)

        return ChatClient(send, user or f"user-{next(_ids)}")

    async def add_businesses(self, *businesses: Business) -> None:
        await add_businesses(self.db, self.services.hash_secret, *businesses)

    async def sms_code(self, phone: str) -> str:
        """The code in the latest message to `phone`, read from the outbox like the demo banner."""
        table = OutboxMessage.__table__
        async with self.db.connect() as conn:
            body = (
                await conn.execute(
                    select(table.c.body)
                    .where(table.c.recipient == phone)
                    .order_by(table.c.id.desc())
                    .limit(1)
                )
            ).scalar()
        assert body is not None, "no SMS sent"
        match = re.search(r"\d{6}", body)
        assert match is not None
        return match.group(0)

    async def outbox_count(self) -> int:
        table = OutboxMessage.__table__
        async with self.db.connect() as conn:
            return len((await conn.execute(select(table.c.id))).all())

    async def close(self) -> None:
        for engine in self._engines:
            await engine.close()
        self.executor.shutdown(wait=True)


async def verify(world: ChatWorld, chat: ChatClient, business: Business = ACME) -> Replies:
    """Walk the identity dialog from the USCC prompt to a binding."""
    await chat.say(business.uscc)
    await chat.tap("是")
    await chat.say(business.legal_rep)
    (await chat.say(business.id_tail)).says(
        "验证码已发送至", business.phone[:3] + "****" + business.phone[-4:]
    )
    return (await chat.say(await world.sms_code(business.phone))).says("身份核验成功")


async def open_world(db: AsyncEngine, tmp_path: Path) -> ChatWorld:
    world = ChatWorld(db, tmp_path / "data", b"chat-test-secret-32-bytes-long!!")
    await world.add_businesses()
    return world
