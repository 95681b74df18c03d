"""`creditbot dept add|list`: open API access for a data-source department, see who has it.

The department is one 数据来源单位: its name and, with `--uscc`, its 统一社会信用代码 are what
every record written with its key carries.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from bot.config import Settings
from core.domains import Domain, domain_by_number, resolve_domain
from core.uscc import UsccError, validate_uscc
from storage.db import create_engine, upgrade
from storage.departments import DepartmentExistsError, DepartmentInfo, add_department, list_departments


def parse_domain_list(text: str) -> tuple[list[Domain], list[str]]:
    """Domains named in `市场监管,知识产权` (commas or 顿号; aliases accepted), and the unknown names."""
    known: list[Domain] = []
    unknown: list[str] = []
    for part in text.replace("、", ",").replace("，", ",").split(","):
        if not part.strip():
            continue
        domain = resolve_domain(part)
        if domain is None:
            unknown.append(part.strip())
        elif domain not in known:
            known.append(domain)
    return known, unknown


async def _add(name: str, domains: list[Domain], uscc: str) -> str:
    engine = create_engine(Settings.from_env().effective_database_url)
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            numbers = [d.number for d in domains]
            return await add_department(connection, name, numbers, datetime.now(UTC), uscc)
    finally:
        await engine.dispose()


def _run_add(args: argparse.Namespace) -> int:
    name = args.name.strip()
    domains, unknown = parse_domain_list(args.domains)
    if unknown or not domains:
        print(f"无法识别的领域：{'、'.join(unknown) or '（未填写）'}", file=sys.stderr)
        return 2
    uscc = ""
    if args.uscc is not None:
        try:
            uscc = validate_uscc(args.uscc)
        except UsccError as error:
            print(f"单位统一社会信用代码无效：{error.message}", file=sys.stderr)
            return 2
    try:
        key = asyncio.run(_add(name, domains, uscc))
    except DepartmentExistsError:
        print(f"数据来源单位“{name}”已存在", file=sys.stderr)
        return 1
    print(f"已开通数据来源单位：{name}")
    if uscc:
        print(f"单位统一社会信用代码：{uscc}")
    print(f"可写入的领域：{'、'.join(d.name for d in domains)}")
    print("API 密钥（只显示这一次，库中只保存其摘要，请妥善保存）：")
    print(key)
    return 0


async def _list() -> list[DepartmentInfo]:
    engine = create_engine(Settings.from_env().effective_database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as connection:
            return await list_departments(connection)
    finally:
        await engine.dispose()


def _run_list(_args: argparse.Namespace) -> int:
    departments = asyncio.run(_list())
    if not departments:
        print("尚未开通任何数据来源单位")
        return 0
    for department in departments:
        names = "、".join(domain_by_number(n).name for n in sorted(department.domains))
        state = "启用" if department.active else "停用"
        opened = department.created_at.date().isoformat()
        print(f"{department.id}\t{department.name}\t{state}\t{opened}\t{names}\t{department.uscc}".rstrip())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dept", help="管理通过接口报送数据的数据来源单位")
    sub = parser.add_subparsers(dest="dept_command", required=True)
    add = sub.add_parser("add", help="开通一个数据来源单位并生成 API 密钥（只显示一次）")
    add.add_argument("name", metavar="NAME", help="单位名称，如 太原市市场监督管理局")
    add.add_argument("--uscc", metavar="USCC", help="单位的统一社会信用代码（可选）；写入的记录都带上它")
    add.add_argument("--domains", required=True, help="可写入的领域，逗号分隔，如 市场监管,知识产权")
    add.set_defaults(func=_run_add)
    sub.add_parser("list", help="列出已开通的数据来源单位").set_defaults(func=_run_list)
