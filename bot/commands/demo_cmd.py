"""`creditbot demo-data`: fill an empty store with the synthetic demo dataset.

The same generator runs at start-up in demo mode; this command is for other sizes (up to the
benchmarks' 1,000,000 entities) and seeds. It prints the fixed demo entities' credentials:
the ID number only as its last six characters, which is all the identity dialog asks for.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tqdm import tqdm

from bot.config import Settings
from core.personal_data import mask_phone
from storage.db import create_engine, upgrade
from storage.demo import (
    DEFAULT_SEED,
    DEMO_ENTITIES,
    DemoGenerator,
    DemoSummary,
    has_entities,
    write_demo_data,
)
from storage.secrets import load_or_create_secret


async def _generate(args: argparse.Namespace) -> DemoSummary | None:
    settings = Settings.from_env()
    engine = create_engine(settings.effective_database_url)
    try:
        await upgrade(engine)
        if await has_entities(engine):
            return None
        secret = load_or_create_secret(settings.data_dir)
        generator = DemoGenerator(args.seed, args.records_per_entity)
        bar = tqdm(total=args.entities, unit="主体", file=sys.stderr) if sys.stderr.isatty() else None

        def progress(summary: DemoSummary) -> None:
            if bar is not None:
                bar.update(summary.entities - bar.n)

        try:
            return await write_demo_data(engine, secret, generator, args.entities, progress)
        finally:
            if bar is not None:
                bar.close()
    finally:
        await engine.dispose()


def run(args: argparse.Namespace) -> int:
    if args.entities < 1 or args.records_per_entity < 0:
        print("--entities 至少为 1，--records-per-entity 不能为负数", file=sys.stderr)
        return 2
    summary = asyncio.run(_generate(args))
    if summary is None:
        print("库中已有主体数据，演示数据只写入空库；如需重新生成，请换用新的数据目录或 DATABASE_URL")
        return 1
    print(f"已生成演示数据：{summary.entities} 个主体，{summary.records} 条记录（随机种子 {args.seed}）")
    print("固定的演示主体（统一社会信用代码 / 名称 / 法定代表人 / 证件号码后6位 / 手机）：")
    for demo in DEMO_ENTITIES[: summary.entities]:
        phone = mask_phone(demo.phone)
        print(f"  {demo.uscc}  {demo.name}  {demo.legal_rep}  {demo.id_last6}  {phone}  {demo.note}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo-data", help="向空库写入模拟的演示数据")
    parser.add_argument("--entities", type=int, required=True, help="主体数量（含固定的演示主体）")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="随机种子：同一种子生成同样的数据")
    parser.add_argument("--records-per-entity", type=float, default=10.0, help="平均每个主体的记录数")
    parser.set_defaults(func=run)
