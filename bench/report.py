"""Benchmark: issuing a report against the raw WeasyPrint render it is built on, and service latency.

Run: .venv/bin/python -m bench.report [--runs N]

1. Median wall time of a full issue (lookup + assembly + signing + render + PDF signature +
   storage) for a typical entity (10 records) and a heavy one (300 records), next to the
   median raw `weasyprint.HTML(string=...).write_pdf()` of the same HTML. Goal: ≤ 1.25×.
2. p99 latency of GET /healthz while 8 reports render concurrently. Goal: ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import weasyprint
from aiohttp import web

from bot.app import create_app
from bot.appkeys import ENGINE, HASH_SECRET, SESSIONS
from bot.config import Settings
from bot.reports import REPORTS, ReportService
from core.domains import DOMAINS
from core.periods import Period
from core.records import RecordKind, RecordStatus, RepairStatus
from core.render import render_html, warm_up
from core.report import assemble_report
from core.uscc import make_uscc
from storage.models import Record
from storage.queries import entity_info, find_entity, records_for_report
from tests.fixtures import entity_values, store_entities

START, END = date(2023, 1, 1), date(2025, 10, 31)
KIND_FIELDS = {
    RecordKind.PENALTY: {
        "违法行为类型": "未按规定进行安全生产教育培训",
        "处罚类别": "罚款",
        "处罚内容": "罚款人民币三万元",
        "处罚机关": "晋城市应急管理局",
    },
    RecordKind.ENFORCEMENT: {
        "强制类别": "查封设施",
        "强制内容": "查封提升设备",
        "实施机关": "泽州县应急管理局",
    },
    RecordKind.LIST: {
        "名单名称": "失信被执行人名单",
        "列入事由": "拒不履行",
        "认定部门": "晋城市中级人民法院",
    },
    RecordKind.JUDGMENT: {"案由": "重大责任事故罪", "判决结果": "判处罚金", "审判法院": "泽州县人民法院"},
}


def _uscc(n: int) -> str:
    return make_uscc(f"9114052{n:06d}MA0K"[:17].ljust(17, "1"))


async def _seed(app: web.Application, uscc: str, count: int) -> None:
    """An entity with `count` valid records spread over domains and kinds, all inside the period."""
    now = datetime.now(UTC)
    scoped = [(d.number, k) for d in DOMAINS for k in RecordKind if d.holds(k)]
    await store_entities(
        app[ENGINE], [entity_values(uscc, f"晋城市基准测试煤业有限公司{count}")], secret=app[HASH_SECRET]
    )
    async with app[SESSIONS]() as session:
        for i in range(count):
            domain, kind = scoped[(i * 7) % len(scoped)]
            session.add(
                Record(
                    kind=kind.value,
                    uscc=uscc,
                    domain=domain,
                    doc_no=f"晋市罚〔2024〕{count}-{i}号",
                    source_dept="晋城市数据局",
                    decision_date=date(2023 + i % 2, 1 + i % 12, 1 + i % 28),
                    status=RecordStatus.VALID.value,
                    repair_status=(RepairStatus.REPAIRED if i % 6 == 0 else RepairStatus.NOT_REPAIRED).value,
                    repair_date=date(2025, 1, 1) if i % 6 == 0 else None,
                    fields=KIND_FIELDS[kind],
                    created_at=now,
                    updated_at=now,
                )
            )
        await session.commit()


async def _same_html(app: web.Application, uscc: str) -> str:
    async with app[SESSIONS]() as session:
        entity = await find_entity(session, uscc)
        assert entity is not None
        records = await records_for_report(session, uscc, [d.number for d in DOMAINS], START, END)
    report = assemble_report(
        entity_info(entity),
        records,
        Period(START, END),
        DOMAINS,
        report_no="SX202511200000017",
        issued_at=datetime.now(UTC),
    )
    return render_html(report, code="K7HP3WXA", base_url="http://127.0.0.1:8080")


async def _issue_vs_raw(
    service: ReportService, app: web.Application, uscc: str, runs: int
) -> tuple[list[float], float]:
    issue_times = []
    for _ in range(runs):
        started = time.perf_counter()
        await service.issue(uscc, Period(START, END), DOMAINS)
        issue_times.append(time.perf_counter() - started)
    html = await _same_html(app, uscc)
    raw_times = []
    for _ in range(runs):
        started = time.perf_counter()
        weasyprint.HTML(string=html).write_pdf()
        raw_times.append(time.perf_counter() - started)
    return issue_times, statistics.median(raw_times)


async def _healthz_under_load(base: str, service: ReportService, uscc: str, reports: int) -> list[float]:
    latencies: list[float] = []
    done = asyncio.Event()

    async def poll() -> None:
        async with aiohttp.ClientSession() as http:
            while not done.is_set():
                started = time.perf_counter()
                async with http.get(f"{base}/healthz") as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)

    poller = asyncio.create_task(poll())
    await asyncio.gather(*(service.issue(uscc, Period(START, END), DOMAINS) for _ in range(reports)))
    done.set()
    await poller
    return latencies


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), port=0, render_workers=2)
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        try:
            typical, heavy = _uscc(10), _uscc(300)
            await _seed(app, typical, 10)
            await _seed(app, heavy, 300)
            warm_up()  # the raw render runs in this process: give it the same warm fonts
            service = app[REPORTS]
            await service.ready()
            print(f"issue vs raw WeasyPrint render, median of {runs} runs, all 40 domains")
            for label, uscc in (("typical (10 records)", typical), ("heavy (300 records)", heavy)):
                issue_times, raw = await _issue_vs_raw(service, app, uscc, runs)
                issue = statistics.median(issue_times)
                print(
                    f"  {label:22s} issue {issue * 1000:8.1f} ms   raw {raw * 1000:8.1f} ms"
                    f"   ratio {issue / raw:5.2f}   (first issue {issue_times[0] * 1000:.1f} ms)"
                )
            latencies = sorted(await _healthz_under_load(base, service, typical, 8))
            p50 = latencies[len(latencies) // 2] * 1000
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
            print(
                f"GET /healthz while 8 reports render: n={len(latencies)} p50 {p50:.1f} ms  p99 {p99:.1f} ms"
            )
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
