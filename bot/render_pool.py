"""The process pool that renders and PDF-signs reports, off the event loop.

WeasyPrint holds the GIL for the whole layout, so rendering in a thread would still stall the
chat; separate processes keep every request answered while reports render. Each worker loads
templates and the CJK font in its initializer, so no user waits for that.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor

from bot.keys import SigningMaterial
from core.pdf_signing import sign_pdf
from core.render import html_to_pdf, render_html, warm_up
from core.report import Report


def _init_worker() -> None:
    warm_up()


def _ready() -> bool:
    return True


def render_signed_pdf(
    report: Report, code: str, base_url: str, envelope_json: bytes, material: SigningMaterial
) -> bytes:
    """HTML → PDF with the signed content attached → PAdES signature over the whole file."""
    html = render_html(report, code=code, base_url=base_url)
    return sign_pdf(html_to_pdf(html, envelope_json), material.identity())


def create_pool(workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: the parent runs an event loop and database connections a fork would copy.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
    )


async def start_workers(pool: Executor, workers: int) -> None:
    """Start every worker now (the pool spawns lazily), so their warm-up happens at start-up."""
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(pool, _ready) for _ in range(workers)))
