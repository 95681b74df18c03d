"""Ingest benchmark: penalty rows through `creditbot import` versus plain sqlite3.executemany.

Usage: .venv/bin/python bench/ingest.py [--rows 1000000] [--keep DIR]

Both sides write the same rows into the same table (the `record` table's DDL and indexes are
copied from the migrated database) on SQLite with the same pragmas. The import side is timed
from the command's start to its exit: reading and decoding the CSV, validating every row,
looking up existing keys, and inserting. The baseline is timed only around executemany and
commit, with its rows already built in memory, so the ratio is a conservative one.
Goal: import rate ≥ 0.4 × baseline rate.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.cli import build_parser
from bot.cli import main as creditbot
from core.domains import DOMAINS, domain_by_number
from core.intake import HEADERS, IntakeKind, parse_date
from core.uscc import make_uscc
from storage.bulk import sqlite_datetime
from storage.demo_catalog import AREAS, DEPARTMENTS, VIOLATIONS

GOAL = 0.4
_INDUSTRIES = ("煤业", "焦化", "建材", "商贸", "物流", "科技", "食品", "化工")


def _rows(count: int, seed: int):
    """Realistic penalty rows: ~count/5 entities, a few hundred departments, unique document numbers."""
    rng = random.Random(seed)
    domains = [
        number for number, (level, _) in DEPARTMENTS.items() if level != "province" and number in VIOLATIONS
    ]
    counters: dict[str, int] = {}
    start = date(2022, 8, 1)
    span = (date.today() - start).days
    for index in range(count):
        area = AREAS[index % len(AREAS)]
        entity = rng.randrange(max(count // 5, 1))
        uscc = make_uscc(f"91{area.code}MA{entity:07d}")
        domain = rng.choice(domains)
        law, violations = VIOLATIONS[domain]
        dept = f"{area.county}{DEPARTMENTS[domain][1]}"
        counters[dept] = number = counters.get(dept, 0) + 1
        decided = start + timedelta(days=rng.randrange(span))
        violation = rng.choice(violations)
        simple = rng.random() < 0.25
        yield [
            f"山西{area.county}{entity}{rng.choice(_INDUSTRIES)}有限公司",
            "法人及非法人组织",
            uscc,
            "王建国",
            f"{area.abbr}{domain}罚〔{decided.year}〕{number}号",
            violation,
            f"经查，当事人{violation}。",
            law,
            "警告" if simple else "罚款",
            "警告" if simple else "罚款人民币0.5万元",
            "" if simple else "0.5",
            "",
            "",
            decided.isoformat() if rng.random() < 0.8 else f"{decided.year}/{decided.month}/{decided.day}",
            "",
            (decided + timedelta(days=1095)).isoformat(),
            dept,
            "",
            dept,
            "",
            "",
            domain_by_number(domain).name,
            "简易程序" if simple else "普通程序",
            "有效",
            "未修复",
            "",
        ]


def write_csv(path: Path, count: int, seed: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS[IntakeKind.PENALTIES])
        writer.writerows(_rows(count, seed))


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its finished children (the import's checking process)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_import(csv_path: Path, work: Path) -> tuple[float, float, str, Path]:
    db_path = work / "import.db"
    os.environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{db_path}"
    os.environ["CREDITBOT_DATA_DIR"] = str(work / "data")
    build_parser()  # load the command modules (and their imports) before the clock starts
    out = io.StringIO()
    started, cpu_started = time.perf_counter(), _cpu_with_children()
    with contextlib.redirect_stdout(out):
        code = creditbot(["import", "penalties", str(csv_path)])
    elapsed, cpu = time.perf_counter() - started, _cpu_with_children() - cpu_started
    if code != 0:
        sys.exit(f"import failed with exit status {code}:\n{out.getvalue()[-2000:]}")
    return elapsed, cpu, out.getvalue().strip().splitlines()[-1], db_path


def baseline_rows(csv_path: Path) -> list[tuple]:
    """The rows the importer stores, built the obvious way (not timed)."""
    header = HEADERS[IntakeKind.PENALTIES]
    columns = {
        "统一社会信用代码",
        "行政处罚决定书文号",
        "处罚决定日期",
        "数据来源单位",
        "数据来源单位统一社会信用代码",
    }
    columns |= {"领域", "程序类型", "记录状态", "修复状态", "修复日期"}
    now = sqlite_datetime(datetime.now(UTC))
    domain_numbers = {domain.name: domain.number for domain in DOMAINS}
    rows = []
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for cells in reader:
            row = dict(zip(header, cells, strict=True))
            fields = {k: v for k, v in row.items() if v and k not in columns}
            decided = parse_date(row["处罚决定日期"]).isoformat()
            rows.append(
                (
                    "penalty",
                    row["统一社会信用代码"],
                    domain_numbers[row["领域"]],
                    row["行政处罚决定书文号"],
                    row["数据来源单位"],
                    "",
                    decided,
                    None,
                    row["记录状态"],
                    row["程序类型"],
                    row["修复状态"],
                    None,
                    json.dumps(fields, ensure_ascii=False),
                    1,
                    now,
                    now,
                )
            )
    return rows


def run_baseline(rows: list[tuple], schema_from: Path, work: Path) -> tuple[float, float]:
    source = sqlite3.connect(schema_from)
    ddl = [
        sql
        for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'record' AND sql IS NOT NULL"
        )
    ]
    source.close()
    target = sqlite3.connect(work / "baseline.db")
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=NORMAL")
    for statement in ddl:
        target.execute(statement)
    target.commit()
    columns = (
        "kind, uscc, domain, doc_no, source_dept, source_dept_uscc, decision_date, end_date, status, "
        "procedure, repair_status, repair_date, fields, version, created_at, updated_at"
    )
    insert = f"INSERT INTO record ({columns}) VALUES ({', '.join('?' * 16)})"
    started, cpu_started = time.perf_counter(), time.process_time()
    target.executemany(insert, rows)
    target.commit()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    stored = target.execute("SELECT count(*) FROM record").fetchone()[0]
    target.close()
    assert stored == len(rows), (stored, len(rows))
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep the files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="creditbot-ingest-") as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        for stale in [*work.glob("import.db*"), *work.glob("baseline.db*")]:
            stale.unlink()  # both sides start from an empty database
        csv_path = work / "penalties.csv"
        started = time.perf_counter()
        write_csv(csv_path, args.rows, args.seed)
        size = csv_path.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} penalty rows ({size:,.0f} MB) in {time.perf_counter() - started:.1f} s"
        )

        import_seconds, import_cpu, last_line, db_path = run_import(csv_path, work)
        rate = args.rows / import_seconds
        print(f"creditbot import:     {rate:9,.0f} rows/s  ({import_seconds:.1f} s; {last_line})")
        rows = baseline_rows(csv_path)
        baseline_seconds, baseline_cpu = run_baseline(rows, db_path, work)
        print(
            f"sqlite3.executemany:  {len(rows) / baseline_seconds:9,.0f} rows/s  ({baseline_seconds:.1f} s)"
        )
        ratio = baseline_seconds / import_seconds
        verdict = "OK" if ratio >= GOAL else "BELOW GOAL"
        print(f"ratio import/baseline: {ratio:.2f}  (goal ≥ {GOAL}: {verdict})")
        # On a shared machine wall time depends on the neighbours; CPU time (all threads and
        # processes) does not.
        cpu_ratio = baseline_cpu / import_cpu
        print(f"CPU seconds: import {import_cpu:.1f}, baseline {baseline_cpu:.1f}, ratio {cpu_ratio:.2f}")


if __name__ == "__main__":
    main()
