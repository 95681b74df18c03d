"""`creditbot import` end to end: real files, the real command, a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from core.intake import HEADERS, LAYOUTS, REASON_HEADER, IntakeKind
from core.personal_data import id_number_hash, id_tail_hash
from storage.db import create_engine
from storage.models import Entity, Record, RecordVersion
from storage.secrets import load_or_create_secret
from tests.intake_rows import ID_NUMBER, PHONE, USCC_A, USCC_B, read_csv, row, write_csv


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CREDITBOT_DATA_DIR", str(data_dir))
    return data_dir


def run_import(capsys: pytest.CaptureFixture[str], kind: str, path: Path) -> tuple[int, list[str]]:
    code = main(["import", kind, str(path)])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, lines


def fetch(db_url: str, statement):
    async def query():
        engine = create_engine(db_url)
        try:
            async with engine.connect() as connection:
                return (await connection.execute(statement)).mappings().all()
        finally:
            await engine.dispose()

    return asyncio.run(query())


@pytest.mark.parametrize("kind", [k for k in IntakeKind if k is not IntakeKind.ENTITIES])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_every_record_kind_imports_in_every_encoding(
    kind: IntakeKind, encoding: str, cli_env: Path, db_url: str, tmp_path: Path, capsys
) -> None:
    second = row(kind, 统一社会信用代码=USCC_B)
    if kind is not IntakeKind.LISTS:
        doc_header = {
            IntakeKind.PENALTIES: "行政处罚决定书文号",
            IntakeKind.ENFORCEMENTS: "行政强制决定书文号",
            IntakeKind.JUDGMENTS: "裁判文书号",
        }[kind]
        second[doc_header] += "-2"
    path = write_csv(tmp_path / f"{kind.value}.csv", kind, [row(kind), second], encoding)
    code, lines = run_import(capsys, kind.value, path)
    assert (code, lines[-1]) == (0, "imported 2, updated 0, rejected 0")
    stored = fetch(db_url, select(Record.__table__).order_by(Record.__table__.c.uscc))
    assert [r["uscc"] for r in stored] == [USCC_A, USCC_B]
    assert {r["kind"] for r in stored} == {LAYOUTS[kind].kind.value}
    assert stored[0]["fields"] and all(r["version"] == 1 for r in stored)
    assert not (tmp_path / f"{kind.value}.csv.rejected.csv").exists()


def test_entities_keep_only_hashes_of_the_id_number(
    cli_env: Path, db_url: str, tmp_path: Path, capsys
) -> None:
    path = write_csv(tmp_path / "entities.csv", IntakeKind.ENTITIES, [row(IntakeKind.ENTITIES)], "gbk")
    code, lines = run_import(capsys, "entities", path)
    assert (code, lines[-1]) == (0, "imported 1, updated 0, rejected 0")
    [entity] = fetch(db_url, select(Entity.__table__))
    secret = load_or_create_secret(cli_env)
    assert entity["legal_rep_id_hash"] == id_number_hash(secret, ID_NUMBER)
    assert entity["legal_rep_id_tail_hash"] == id_tail_hash(secret, ID_NUMBER[-6:])
    assert entity["legal_rep_id_last4"] == "1236" and entity["phone"] == PHONE
    assert ID_NUMBER not in str(dict(entity))


def test_reject_paths_row_numbers_and_the_rejected_file(
    cli_env: Path, db_url: str, tmp_path: Path, capsys
) -> None:
    kind = IntakeKind.PENALTIES
    rows = [
        row(kind),  # row 2: good
        row(kind, 统一社会信用代码="91140105MA0L2QXW3X", 行政处罚决定书文号="a"),  # 3: check character
        row(kind, 领域="航天", 行政处罚决定书文号="b"),  # 4: unknown domain
        row(kind, 违法事实="", 行政处罚决定书文号="c"),  # 5: missing field
        row(kind, 处罚决定日期="2024-02-31", 行政处罚决定书文号="d"),  # 6: impossible date
        row(kind, 处罚决定日期="2099-01-01", 行政处罚决定书文号="e"),  # 7: future date
        row(kind, 违法事实="重复报送"),  # 8: duplicate of row 2
        row(kind, 领域="公积金", 行政处罚决定书文号="f"),  # 9: good
    ]
    path = write_csv(tmp_path / "penalties.csv", kind, rows)
    code, lines = run_import(capsys, "penalties", path)
    assert code == 1
    assert lines[-1] == "imported 2, updated 0, rejected 6"
    assert any(line.startswith("第3行：统一社会信用代码无效：第18位校验码不符") for line in lines)
    assert "第4行：领域“航天”不是40个实施领域之一" in lines
    assert "第5行：缺少必填项：违法事实" in lines
    assert any(line.startswith("第6行：处罚决定日期“2024-02-31”无法识别") for line in lines)
    assert any(line.startswith("第7行：处罚决定日期 2099-01-01 晚于今天") for line in lines)
    assert "第8行：文书号与第2行重复（同一数据来源单位），已保留第2行" in lines

    rejected = read_csv(tmp_path / "penalties.csv.rejected.csv")
    assert list(rejected[0]) == [*HEADERS[kind], REASON_HEADER]
    assert [r["行政处罚决定书文号"] for r in rejected] == ["a", "b", "c", "d", "e", "晋市监罚〔2024〕12号"]
    assert rejected[-1]["违法事实"] == "重复报送"
    assert rejected[1][REASON_HEADER] == "领域“航天”不是40个实施领域之一"
    stored = fetch(db_url, select(Record.__table__.c.doc_no).order_by(Record.__table__.c.doc_no))
    assert [r["doc_no"] for r in stored] == ["f", "晋市监罚〔2024〕12号"]


def test_a_corrected_rejected_file_can_be_imported_as_is(cli_env: Path, tmp_path: Path, capsys) -> None:
    kind = IntakeKind.JUDGMENTS
    path = write_csv(tmp_path / "j.csv", kind, [row(kind, 领域="天文")])
    assert run_import(capsys, "judgments", path)[0] == 1
    rejected = tmp_path / "j.csv.rejected.csv"
    fixed = rejected.read_text(encoding="utf-8-sig").replace(",天文,", ",法院执行,")
    rejected.write_text(fixed, encoding="utf-8-sig")
    code, lines = run_import(capsys, "judgments", rejected)
    assert (code, lines[-1]) == (0, "imported 1, updated 0, rejected 0")


def test_rejected_entities_are_masked_on_screen_and_in_the_file(
    cli_env: Path, tmp_path: Path, capsys
) -> None:
    kind = IntakeKind.ENTITIES
    path = write_csv(tmp_path / "e.csv", kind, [row(kind, 主体类型="公司")])
    code, lines = run_import(capsys, "entities", path)
    assert (code, lines[-1]) == (1, "imported 0, updated 0, rejected 1")
    written = (tmp_path / "e.csv.rejected.csv").read_text(encoding="utf-8-sig")
    for text in ("\n".join(lines), written):
        assert ID_NUMBER not in text and PHONE not in text
    assert "**************1236" in written and "138****5678" in written


def test_scope_warning_is_printed_and_the_row_kept(cli_env: Path, tmp_path: Path, capsys) -> None:
    kind = IntakeKind.ENFORCEMENTS
    path = write_csv(
        tmp_path / "e.csv", kind, [row(kind, 领域="税务"), row(kind, 领域="档案", 行政强制决定书文号="x")]
    )
    code, lines = run_import(capsys, "enforcements", path)
    assert code == 0 and lines[-1] == "imported 2, updated 0, rejected 0"
    assert "第3行：警告：领域“档案管理”的数据范围不含行政强制，已接收，请核对领域" in lines


def test_corrections_keep_the_earlier_version_and_identical_rows_change_nothing(
    cli_env: Path, db_url: str, tmp_path: Path, capsys
) -> None:
    kind = IntakeKind.PENALTIES
    first = write_csv(tmp_path / "v1.csv", kind, [row(kind)])
    assert run_import(capsys, "penalties", first)[1][-1] == "imported 1, updated 0, rejected 0"
    code, lines = run_import(capsys, "penalties", first)
    assert (code, lines[-1]) == (0, "imported 0, updated 0, rejected 0")
    assert "未变化 1 行：与库中记录完全相同，未作改动" in lines

    corrected = write_csv(tmp_path / "v2.csv", kind, [row(kind, 修复状态="已修复", 修复日期="2025-03-01")])
    assert run_import(capsys, "penalties", corrected)[1][-1] == "imported 0, updated 1, rejected 0"
    [record] = fetch(db_url, select(Record.__table__))
    assert (record["version"], record["repair_status"], str(record["repair_date"])) == (
        2,
        "已修复",
        "2025-03-01",
    )
    [version] = fetch(db_url, select(RecordVersion.__table__))
    assert version["record_id"] == record["id"] and version["version"] == 1
    assert version["snapshot"]["repair_status"] == "未修复" and version["snapshot"]["version"] == 1
    assert version["snapshot"]["decision_date"] == "2024-05-10"
    assert version["replaced_by"] == "import:v2.csv"


def test_entity_corrections_count_as_updates(cli_env: Path, db_url: str, tmp_path: Path, capsys) -> None:
    kind = IntakeKind.ENTITIES
    assert run_import(capsys, "entities", write_csv(tmp_path / "a.csv", kind, [row(kind)]))[0] == 0
    moved = write_csv(tmp_path / "b.csv", kind, [row(kind, 注册地址="山西省阳城县凤城镇1号")])
    assert run_import(capsys, "entities", moved)[1][-1] == "imported 0, updated 1, rejected 0"
    [entity] = fetch(db_url, select(Entity.__table__))
    assert entity["address"] == "山西省阳城县凤城镇1号"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "找不到文件"),
        (b"", "文件是空的"),
        ("统一社会信用代码,名称\n".encode(), "表头与“penalties”的格式不符：缺少列"),
        (b"\xff\xfe\x00\x81\xff" * 10, "无法识别文件编码"),
    ],
)
def test_unusable_files_exit_with_2(
    content: bytes | None, message: str, cli_env: Path, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_bytes(content)
    code = main(["import", "penalties", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert captured.out.strip().splitlines()[-1] == "imported 0, updated 0, rejected 0"


def test_an_unknown_kind_exits_with_2(cli_env: Path, tmp_path: Path, capsys) -> None:
    assert main(["import", "fines", str(tmp_path / "x.csv")]) == 2
    assert "无法识别的数据类别“fines”" in capsys.readouterr().err


def test_a_row_with_the_wrong_number_of_cells_is_rejected(cli_env: Path, tmp_path: Path, capsys) -> None:
    kind = IntakeKind.JUDGMENTS
    path = write_csv(tmp_path / "j.csv", kind, [row(kind)])
    with path.open("a", encoding="utf-8") as handle:
        handle.write("只有,三,列\n")
    code, lines = run_import(capsys, "judgments", path)
    assert code == 1 and "第3行：列数与表头不符：应为11列，实为3列" in lines


def test_a_file_mixing_new_changed_and_identical_rows(cli_env: Path, tmp_path: Path, capsys) -> None:
    kind = IntakeKind.JUDGMENTS
    first, second = row(kind), row(kind, 裁判文书号="（2024）晋0502刑初46号")
    assert run_import(capsys, "judgments", write_csv(tmp_path / "a.csv", kind, [first, second]))[0] == 0
    third = row(kind, 裁判文书号="（2024）晋0502刑初47号")
    changed = {**second, "判决结果": "判处罚金人民币三十万元"}
    code, lines = run_import(
        capsys, "judgments", write_csv(tmp_path / "b.csv", kind, [first, changed, third])
    )
    assert (code, lines[-1]) == (0, "imported 1, updated 1, rejected 0")
    assert "未变化 1 行：与库中记录完全相同，未作改动" in lines
