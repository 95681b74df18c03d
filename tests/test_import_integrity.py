"""`creditbot import`: a broken file lands nothing, rejected cells stay inert, every write is audited."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.commands.import_cmd import OPERATOR_NOTE, inert_cell
from core.intake import HEADERS, REASON_HEADER, IntakeKind
from storage.models import IntakeAudit, Record
from tests.intake_rows import USCC_AGENCY, read_csv, row, write_csv
from tests.test_import_cli import fetch, run_import

OPERATOR = "ops-zhang"
UNIT = "晋城市市场监督管理局"


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CREDITBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOGNAME", OPERATOR)  # what getpass.getuser() reads first
    return tmp_path / "data"


def county_row() -> dict[str, str]:
    return row(IntakeKind.PENALTIES, 行政处罚决定书文号="b", 数据来源单位="阳城县市场监督管理局")


def audit(db_url: str) -> list[dict[str, object]]:
    table = IntakeAudit.__table__
    return [dict(r) for r in fetch(db_url, select(table).order_by(table.c.id))]


def test_a_file_that_breaks_as_csv_mid_file_lands_nothing(
    cli_env: Path, db_url: str, tmp_path: Path, capsys
) -> None:
    kind = IntakeKind.PENALTIES
    good = [row(kind, 行政处罚决定书文号=f"晋市监罚〔2024〕{n}号") for n in range(15_000)]  # rows 2–15,001
    over_limit = row(kind, 行政处罚决定书文号="x", 违法事实="违" * (csv.field_size_limit() + 1))  # row 15,002
    after = row(kind, 行政处罚决定书文号="y")  # row 15,003
    path = write_csv(tmp_path / "big.csv", kind, [*good, over_limit, after])
    code = main(["import", "penalties", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines()[-1] == (
        "文件无法导入：第15002行无法按 CSV 解析（有单元格超过 131,072 个字符）。"
        "整个文件均未导入，请修正后重新导入"
    )
    assert captured.out.strip().splitlines()[-1] == "imported 0, updated 0, rejected 0"
    assert fetch(db_url, select(func.count()).select_from(Record.__table__)) == [{"count_1": 0}]
    assert audit(db_url) == []
    assert not (tmp_path / "big.csv.rejected.csv").exists()


def test_cells_a_spreadsheet_would_run_are_written_inert(cli_env: Path, tmp_path: Path, capsys) -> None:
    kind = IntakeKind.PENALTIES
    formulas = row(
        kind,
        领域="航天",  # refused, so the row goes to the rejected file
        违法事实='=HYPERLINK("http://evil.example","点击")',
        处罚内容="+1+1",
        备注="-2",
        违法行为类型="@SUM(A1)",
        处罚依据="\t第十八条",
        暂扣或吊销证照名称及编号="\r许可证",
        **{"没收违法所得、没收非法财物的金额（万元）": "-5"},
    )
    path = write_csv(tmp_path / "p.csv", kind, [formulas])
    assert run_import(capsys, "penalties", path)[0] == 1
    [written] = read_csv(tmp_path / "p.csv.rejected.csv")
    assert written["违法事实"] == '\'=HYPERLINK("http://evil.example","点击")'
    assert written["处罚内容"] == "'+1+1"
    assert written["备注"] == "'-2"
    assert written["违法行为类型"] == "'@SUM(A1)"
    assert written["处罚依据"] == "'\t第十八条"
    assert written["暂扣或吊销证照名称及编号"] == "'\r许可证"
    assert written["没收违法所得、没收非法财物的金额（万元）"] == "'-5"
    assert written["行政相对人名称"] == "山西晋城测试煤业有限公司"  # ordinary cells as they were
    assert written[REASON_HEADER] == (
        "领域“航天”不是40个实施领域之一；没收违法所得、没收非法财物的金额（万元）“-5”"
        "应为不小于0的数字（单位：万元），整数部分最多12位，小数部分最多6位"
    )
    assert list(written) == [*HEADERS[kind], REASON_HEADER]


@pytest.mark.parametrize(
    ("cell", "written"),
    [("=1+1", "'=1+1"), ("-", "'-"), ("\r", "'\r"), ("@", "'@"), ("1-2", "1-2"), ("", ""), ("'=x", "'=x")],
)
def test_inert_cell(cell: str, written: str) -> None:
    """The rule every cell of FILE.rejected.csv goes through, the 拒绝原因 column included."""
    assert inert_cell(cell) == written


def test_imports_are_audited_per_batch_and_per_correction(
    cli_env: Path, db_url: str, tmp_path: Path, capsys
) -> None:
    kind = IntakeKind.PENALTIES
    first = write_csv(
        tmp_path / "v1.csv",
        kind,
        [row(kind), county_row(), row(kind, 领域="航天")],
    )
    assert run_import(capsys, "penalties", first)[1][-1] == "imported 2, updated 0, rejected 1"
    # The operator may move a record to another domain: a correction, audited before → after.
    second = write_csv(tmp_path / "v2.csv", kind, [row(kind, 领域="知识产权"), county_row()])
    assert run_import(capsys, "penalties", second)[1][-1] == "imported 0, updated 1, rejected 0"

    batch1, batch2_correction, batch2 = audit(db_url)
    [record, _other] = fetch(db_url, select(Record.__table__).order_by(Record.__table__.c.id))
    operator_row = {
        "channel": "csv",
        "department_id": None,
        "actor": f"operator:{OPERATOR}",
        "unit": "",
        "action": "import_batch",
        "record_kind": "",
        "record_key": "",
        "before": None,
    }
    assert batch1 == {
        **operator_row,
        "id": batch1["id"],
        "at": record["created_at"],
        "after": {
            "file": "v1.csv",
            "operator": OPERATOR,
            "kind": "penalties",
            "imported": 2,
            "updated": 0,
            "unchanged": 0,
            "rejected": 1,
            "units": ["晋城市市场监督管理局", "阳城县市场监督管理局"],
            "note": OPERATOR_NOTE,
        },
    }
    assert batch2["after"] == {
        **batch1["after"],
        "file": "v2.csv",
        "imported": 0,
        "updated": 1,
        "unchanged": 1,
        "rejected": 0,
    }
    assert (batch2_correction["at"], batch2["at"]) == (record["updated_at"], record["updated_at"])
    assert {k: batch2_correction[k] for k in ("channel", "department_id", "actor", "unit", "action")} == {
        "channel": "csv",
        "department_id": None,
        "actor": f"operator:{OPERATOR}",
        "unit": UNIT,
        "action": "correct_domain",
    }
    key = (batch2_correction["record_kind"], batch2_correction["record_key"])
    assert key == ("penalty", "晋市监罚〔2024〕12号")
    before, after = batch2_correction["before"], batch2_correction["after"]
    assert (before["domain"], after["domain"]) == (6, 14)
    assert before == {**after, "domain": 6}
    assert after["source_dept_uscc"] == USCC_AGENCY
    assert after["fields"]["违法事实"] == "该公司未按规定期限公示2023年度报告"
