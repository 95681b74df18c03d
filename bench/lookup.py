"""Lookup benchmark: one entity's report lookup (a domain set and a date range) at 10 million records.

Usage: .venv/bin/python bench/lookup.py [--records 10000000] [--lookups 5000] [--db PATH]

The store is filled by the demo generator (about ten records per entity, 40 % of entities
without any), then `storage.queries.records_for_report` — the statement of
`storage.queries.report_lookup` executed and turned into report values, exactly as the report
service does — runs for random entities, each with a random set of domains and a random
period. With --db an existing file of the right size is reused instead of regenerated.
Goal on SQLite: median ≤ 2 ms, p99 ≤ 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from core.domains import DOMAINS
from core.records import DATA_START
from storage.db import create_engine, session_factory, upgrade
from storage.demo import DemoGenerator, DemoSummary, write_demo_data
from storage.intake import ENTITIES, RECORDS
from storage.queries import records_for_report

MEDIAN_GOAL_MS, P99_GOAL_MS = 2.0, 10.0
RECORDS_PER_ENTITY = 10


async def fill(url: str, records: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    async with engine.connect() as connection:
        stored = (await connection.execute(select(func.count()).select_from(RECORDS))).scalar_one()
    if stored >= records * 0.95:
        print(f"reusing {stored:,} records")
        await engine.dispose()
        return
    if stored:
        raise SystemExit("the database holds a different dataset; use a new --db path")
    entities = records // RECORDS_PER_ENTITY
    started = time.perf_counter()
    last = [started]

    def progress(summary: DemoSummary) -> None:
        now = time.perf_counter()
        if now - last[0] > 30:
            last[0] = now
            rate = summary.records / (now - started)
            print(
                f"  {summary.entities:,} entities, {summary.records:,} records, {rate:,.0f} records/s",
                flush=True,
            )

    # The count per entity is random; 1 % extra makes the store reach the requested size.
    generator = DemoGenerator(seed=1, records_per_entity=RECORDS_PER_ENTITY * 1.01)
    summary = await write_demo_data(engine, b"bench-secret", generator, entities, progress)
    elapsed = time.perf_counter() - started
    print(
        f"generated {summary.entities:,} entities and {summary.records:,} records in {elapsed:.0f} s "
        f"({summary.records / elapsed:,.0f} records/s)"
    )
    await engine.dispose()


async def measure(url: str, lookups: int, seed: int) -> tuple[list[float], list[float]]:
    """Timings (ms) of a first pass over random entities and of a second pass with new domains and periods."""
    engine = create_engine(url)
    rng = random.Random(seed)
    async with engine.connect() as connection:
        usccs = (
            await connection.execute(select(ENTITIES.c.uscc).order_by(func.random()).limit(lookups))
        ).scalars()
        usccs = list(usccs)
    numbers = [d.number for d in DOMAINS]
    today = date.today()
    span = (today - DATA_START).days
    timings: tuple[list[float], list[float]] = ([], [])
    found = 0
    async with session_factory(engine)() as session:
        for index, uscc in enumerate(usccs * 2):
            domains = numbers if rng.random() < 0.3 else rng.sample(numbers, rng.randint(1, 39))
            start = DATA_START + timedelta(days=rng.randrange(span))
            end = min(today, start + timedelta(days=rng.randint(30, 3 * 365)))
            began = time.perf_counter()
            views = await records_for_report(session, uscc, domains, start, end)
            elapsed = time.perf_counter() - began
            timings[index >= len(usccs)].append(elapsed * 1000)
            found += len(views)
    await engine.dispose()
    print(f"{2 * len(usccs):,} lookups, {found / (2 * len(usccs)):.1f} records returned on average")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--db", type=Path, default=Path("var/bench-lookup.db"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    url = f"sqlite+aiosqlite:///{args.db}"
    asyncio.run(fill(url, args.records))
    first, second = asyncio.run(measure(url, args.lookups, args.seed))
    for label, timings in (("first visit of each entity", first), ("second visit (warm cache)", second)):
        timings.sort()
        median = statistics.median(timings)
        p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
        verdict = "OK" if median <= MEDIAN_GOAL_MS and p99 <= P99_GOAL_MS else "BELOW GOAL"
        print(f"report lookup, {label}: median {median:.2f} ms, p99 {p99:.2f} ms (goal 2 / 10 ms: {verdict})")


if __name__ == "__main__":
    main()
