"""`creditbot report`, `creditbot verify` and `creditbot keys`: the counter, the verifier, the operator.

`report` issues through the same service as the chat, so a window clerk's paper copy is a
real, verifiable report. `verify` needs no service: only a saved key set (or, on the service
machine, the data directory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

from bot.commands.dept_cmd import parse_domain_list
from bot.config import Settings
from bot.keys import KeyStore
from bot.render_pool import create_pool
from bot.reports import ReportService
from core.domains import DOMAINS, Domain
from core.keyring import PublishedKeys, parse_published_keys
from core.offline_verify import Verification, verify_file
from core.periods import Period, validate_period
from core.records import china_today
from core.report import ReportError
from core.uscc import validate_uscc
from storage.db import create_engine, session_factory, upgrade
from storage.processes import ServiceProcesses

ALL_DOMAINS = {"全部", "all", "ALL"}


def parse_domains(text: str) -> list[Domain]:
    """`全部` or a comma/顿号 separated list of names or aliases; unknown names are an error."""
    if text.strip() in ALL_DOMAINS:
        return list(DOMAINS)
    chosen, unknown = parse_domain_list(text)
    if unknown:
        raise ValueError(f"未知领域：{unknown[0]}")
    if not chosen:
        raise ValueError("请至少指定一个领域。")
    return chosen


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD：{text}") from None


async def _issue(settings: Settings, uscc: str, period: Period, domains: list[Domain]) -> bytes:
    engine = create_engine(settings.effective_database_url)
    await upgrade(engine)
    keys = KeyStore(settings.data_dir)
    keys.ensure()
    pool: ProcessPoolExecutor = create_pool(1)
    sessions = session_factory(engine)
    # Registered like a service process, so a service starting meanwhile leaves its file alone.
    processes = ServiceProcesses(sessions)
    await processes.register()
    try:
        service = ReportService(
            sessions, keys, pool, settings.data_dir, settings.base_url, processes=processes
        )
        issued = await service.issue(uscc, period, domains, channel="counter")
        print(f"报告编号：{issued.row.report_no}")
        print(f"核验码：{issued.row.verify_code}")
        print(f"SHA-256：{issued.row.pdf_sha256}")
        return issued.pdf
    finally:
        pool.shutdown()
        await processes.stop()
        await engine.dispose()


def _report(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        domains = parse_domains(args.domains)
        uscc = validate_uscc(args.uscc)
        period = validate_period(Period(args.start, args.end), china_today(datetime.now(UTC)))
        pdf = asyncio.run(_issue(settings, uscc, period, domains))
    except (ReportError, ValueError) as exc:
        print(f"无法出具报告：{exc}", file=sys.stderr)
        return 1
    Path(args.out).write_bytes(pdf)
    print(f"已保存：{args.out}")
    return 0


def _load_keys(path: str | None) -> PublishedKeys:
    if path:
        return parse_published_keys(Path(path).read_bytes())
    return KeyStore(Settings.from_env().data_dir).published()


def _read_error(path: str, error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return f"找不到文件：{path}"
    if isinstance(error, IsADirectoryError):
        return f"不是文件而是目录：{path}"
    if isinstance(error, PermissionError):
        return f"没有读取权限：{path}"
    return f"无法读取文件：{path}"


@contextlib.contextmanager
def _quiet_libraries() -> Iterator[None]:
    """The verdict is the whole output: no library's English log line or warning reaches the console.

    pyHanko logs every failed path validation with a traceback and pypdf warns about each
    oddity of a damaged file; the problems they stand for are in the verdict, in Chinese.
    """
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def _verify(args: argparse.Namespace) -> int:
    with _quiet_libraries():
        try:
            keys = _load_keys(args.keys)
        except OSError as exc:
            reason = _read_error(args.keys, exc) if args.keys else "本机数据目录中没有签名密钥"
            print(f"无法读取公钥：{reason}（用 --keys 指定保存的 creditbot-keys.json）", file=sys.stderr)
            return 2
        except (ValueError, KeyError, TypeError, RecursionError):
            print("无法读取公钥：文件不是有效的 creditbot-keys.json。", file=sys.stderr)
            return 2
        try:
            data = Path(args.file).read_bytes()
        except OSError as exc:
            print(f"无法核验：{_read_error(args.file, exc)}", file=sys.stderr)
            return 2
        result = verify_file(data, keys)
    return _print_verdict(result)


def _print_verdict(result: Verification) -> int:
    if not result.ok:
        print("✘ 核验未通过：")
        for problem in result.problems:
            print(f"  - {problem}")
        return 1
    content = result.content or {}
    if result.kind == "pdf":
        print("✔ 核验通过：报告真实、完整，未被修改。")
    else:
        print("✔ 核验通过：报告内容的电子签名有效，内容未被修改。")
    print(f"报告编号：{content.get('report_no')}")
    print(f"主体：{content['entity']['name']}（{content['entity']['uscc']}）")
    print(f"报告期间：{content['period']['start']} 至 {content['period']['end']}")
    print(f"出具时间：{content.get('issued_at')}")
    for domain in content.get("domains", []):
        print(f"  {domain['name']}：{domain['result']}")
    for note in result.notes:
        print(f"注意：{note}")
    return 0


def _keys_rotate(_args: argparse.Namespace) -> int:
    store = KeyStore(Settings.from_env().data_dir)
    store.ensure()
    print(f"新的签名密钥：{store.rotate()}（旧密钥继续公布，已出具的报告仍可核验）")
    return 0


def _keys_export(args: argparse.Namespace) -> int:
    store = KeyStore(Settings.from_env().data_dir)
    store.ensure()
    text = json.dumps(store.published().to_json(), ensure_ascii=False, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser("report", help="出具专项信用报告（政务服务窗口、自助终端）")
    report.add_argument("uscc", help="统一社会信用代码")
    report.add_argument("--from", dest="start", type=_date, required=True, help="开始日期 YYYY-MM-DD")
    report.add_argument("--to", dest="end", type=_date, required=True, help="结束日期 YYYY-MM-DD")
    report.add_argument("--domains", default="全部", help="全部，或以逗号分隔的领域名称")
    report.add_argument("--out", required=True, help="输出 PDF 文件")
    report.set_defaults(func=_report)

    verify = subparsers.add_parser(
        "verify",
        help="离线核验报告 PDF 或签名 JSON",
        description=(
            "不联网核验报告。PDF：核验覆盖整个文件的电子签名和内嵌的签名内容，改动任何一个字节都会失败。"
            "JSON（核验页面的 JSON 或签名数据）：核验签名内容，并要求 valid 为 true、"
            "其余各字段与签名内容一致，含有无法核验的字段即不通过；"
            "其中 sha256（PDF 文件的摘要）不在签名内容之内，JSON 无法证明它，"
            "输出会注明未核验。退出码：0 通过，1 未通过，2 文件或公钥无法读取。"
        ),
    )
    verify.add_argument("file", help="报告 PDF 或 JSON 文件")
    verify.add_argument("--keys", help="保存的 creditbot-keys.json（默认读取本机数据目录）")
    verify.set_defaults(func=_verify)

    keys = subparsers.add_parser("keys", help="报告签名密钥")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("rotate", help="启用新的签名密钥").set_defaults(func=_keys_rotate)
    export = keys_sub.add_parser("export", help="导出公布的公钥（离线核验用）")
    export.add_argument("--out", help="输出文件（默认打印）")
    export.set_defaults(func=_keys_export)
