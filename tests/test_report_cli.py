"""The counter command issues a real report; `creditbot verify` checks it with no service running."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli import main
from bot.handlers.report_users import verification_json
from core.records import RecordKind
from core.uscc import make_uscc
from storage.db import create_engine, session_factory, upgrade
from storage.models import IssuedReport
from tests.report_support import USCC, pdf_text, record, store_entity, store_records


@pytest.fixture
async def cli_env(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CREDITBOT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CREDITBOT_PUBLIC_URL", "https://xy.example.cn")
    engine = create_engine(db_url)
    await upgrade(engine)
    sessions = session_factory(engine)
    await store_entity(engine)
    await store_records(sessions, [record(RecordKind.PENALTY, 13, "晋税罚〔2024〕5号", date(2024, 5, 5))])
    await engine.dispose()
    return data_dir


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_report_then_offline_verify(cli_env: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "report.pdf"
    code = await run(
        "report",
        USCC,
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
        "--domains",
        "税务,环保",
        "--out",
        str(out),
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    text = "".join(pdf_text(out.read_bytes()))
    assert "晋税罚〔2024〕5号" in text and "生态环境" in text and "https://xy.example.cn" in text
    assert "报告编号：SX" in printed and "核验码：" in printed

    keys_file = tmp_path / "keys.json"
    assert await run("keys", "export", "--out", str(keys_file)) == 0
    assert json.loads(keys_file.read_text())["keys"][0]["status"] == "current"

    assert await run("verify", str(out), "--keys", str(keys_file)) == 0
    assert "核验通过" in capsys.readouterr().out

    tampered = tmp_path / "tampered.pdf"
    data = bytearray(out.read_bytes())
    data[len(data) // 3] ^= 0x20
    tampered.write_bytes(bytes(data))
    assert await run("verify", str(tampered), "--keys", str(keys_file)) == 1
    assert "核验未通过" in capsys.readouterr().out


async def test_report_refusals_are_explained(cli_env: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.pdf"
    assert await run("report", USCC, "--from", "2024-12-31", "--to", "2024-01-01", "--out", str(out)) == 1
    assert capsys.readouterr().err == (
        "无法出具报告：开始日期（2024-12-31）晚于结束日期（2024-01-01），请检查时间的先后顺序。\n"
    )
    # The national notice allows at most five years; this asked for six.
    assert await run("report", USCC, "--from", "2020-12-31", "--to", "2026-12-01", "--out", str(out)) == 1
    assert capsys.readouterr().err == (
        "无法出具报告：报告期间最长为5年，所选期间（2020-12-31 至 2026-12-01）超过了5年，"
        "请选择从2021-12-02或更晚开始的期间。\n"
    )
    assert (
        await run(
            "report",
            USCC,
            "--from",
            "2024-01-01",
            "--to",
            "2024-12-31",
            "--domains",
            "火星",
            "--out",
            str(out),
        )
        == 1
    )
    assert "未知领域：火星" in capsys.readouterr().err
    assert (
        await run("report", USCC[:-1] + "0", "--from", "2024-01-01", "--to", "2024-12-31", "--out", str(out))
        == 1
    )
    assert "校验码" in capsys.readouterr().err
    unknown = make_uscc("91140525MA0K8U2R8")
    assert await run("report", unknown, "--from", "2024-01-01", "--to", "2024-12-31", "--out", str(out)) == 1
    assert f"未找到统一社会信用代码为 {unknown} 的经营主体" in capsys.readouterr().err
    assert not out.exists()


# --- offline verification of JSON and of damaged files ----------------------------------------

NOT_A_REPORT = "文件不是有效的报告签名数据（不是本平台出具的报告 JSON，或内容已损坏）。"


@pytest.fixture
async def issued(cli_env: Path, tmp_path: Path, db_url: str, capsys) -> dict:
    """A counter-issued report: its PDF, the exported keys and the verification page's JSON."""
    out = tmp_path / "report.pdf"
    argv = ("report", USCC, "--from", "2024-01-01", "--to", "2024-12-31", "--domains", "税务,环保")
    assert await run(*argv, "--out", str(out)) == 0
    keys = tmp_path / "keys.json"
    assert await run("keys", "export", "--out", str(keys)) == 0
    engine = create_engine(db_url)
    async with session_factory(engine)() as session:
        row = (await session.exec(select(IssuedReport))).one()
    await engine.dispose()
    capsys.readouterr()
    return {"pdf": out, "keys": keys, "page": verification_json(row, True)}


async def _verify(capsys, path: Path, keys: Path) -> tuple[int, str, str]:
    status = await run("verify", str(path), "--keys", str(keys))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _passing_json_output(content: dict) -> str:
    lines = [
        "✔ 核验通过：报告内容的电子签名有效，内容未被修改。",
        f"报告编号：{content['report_no']}",
        f"主体：泽州县金鼎矿业有限公司（{USCC}）",
        "报告期间：2024-01-01 至 2024-12-31",
        f"出具时间：{content['issued_at']}",
        *(f"  {d['name']}：{d['result']}" for d in content["domains"]),
        "注意：JSON 中的 sha256（PDF 文件的摘要）不在签名内容之内，JSON 无法证明它，本次未核验；"
        "已核验的是签名内容和与之一致的各字段。要核验 PDF 文件本身，请对 PDF 运行 creditbot verify，"
        "或在核验页面上传 PDF 比对。",
    ]
    return "\n".join(lines) + "\n"


async def test_a_page_json_passes_on_its_signed_fields_and_says_sha256_is_not_one(
    issued: dict, tmp_path: Path, capsys
) -> None:
    page = issued["page"]
    assert [d["name"] for d in page["content"]["domains"]] == ["生态环境", "税务"]
    good = tmp_path / "page.json"
    good.write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
    expected = _passing_json_output(page["content"])
    assert await _verify(capsys, good, issued["keys"]) == (0, expected, "")
    # The edited digest cannot be told from the real one: the same verdict, the same warning.
    edited = tmp_path / "edited-sha256.json"
    edited.write_text(json.dumps({**page, "sha256": "0" * 64}, ensure_ascii=False), encoding="utf-8")
    assert await _verify(capsys, edited, issued["keys"]) == (0, expected, "")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"valid": False},
            "JSON 中的 valid 不是 true（出具方判定报告无效，或该字段缺失、被改动），不能据此认定报告有效。",
        ),
        (
            {"valid": "true"},
            "JSON 中的 valid 不是 true（出具方判定报告无效，或该字段缺失、被改动），不能据此认定报告有效。",
        ),
        ({"note": "已作废"}, "JSON 中含有无法核验的字段：note。"),
        ({"report_no": "SX202401010000019"}, "JSON 中的字段与签名内容不一致：report_no。"),
        ({"issued_at": "2024-01-01T00:00:00+00:00"}, "JSON 中的字段与签名内容不一致：issued_at。"),
        ({"key_id": "0123456789abcdef"}, "签名密钥 0123456789abcdef 不在本服务公布的密钥中。"),
        ({"signature": "AAAA"}, "报告数据的签名无效：内容已被修改。"),
    ],
)
async def test_a_page_json_with_any_unverifiable_or_disagreeing_field_fails(
    issued: dict, tmp_path: Path, capsys, change: dict, problem: str
) -> None:
    path = tmp_path / "changed.json"
    path.write_text(json.dumps({**issued["page"], **change}, ensure_ascii=False), encoding="utf-8")
    assert await _verify(capsys, path, issued["keys"]) == (1, f"✘ 核验未通过：\n  - {problem}\n", "")


async def test_malformed_deep_and_missing_files_get_a_chinese_answer(
    issued: dict, tmp_path: Path, capsys
) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    refused = (1, f"✘ 核验未通过：\n  - {NOT_A_REPORT}\n", "")
    assert await _verify(capsys, nested, issued["keys"]) == refused
    deep_content = tmp_path / "deep-content.json"
    deep_content.write_text(
        '{"key_id": "k", "signature": "s", "content": ' + "{" * 50_000 + "}" * 50_000 + "}"
    )
    assert await _verify(capsys, deep_content, issued["keys"]) == refused
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"report_no": "SX\xff')
    assert await _verify(capsys, broken, issued["keys"]) == refused
    missing = tmp_path / "missing.pdf"
    assert await _verify(capsys, missing, issued["keys"]) == (2, "", f"无法核验：找不到文件：{missing}\n")
    assert await _verify(capsys, issued["pdf"], tmp_path) == (
        2,
        "",
        f"无法读取公钥：不是文件而是目录：{tmp_path}（用 --keys 指定保存的 creditbot-keys.json）\n",
    )


async def test_damaged_pdfs_print_the_verdict_and_no_library_log(
    issued: dict, tmp_path: Path, capsys
) -> None:
    data = issued["pdf"].read_bytes()
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(data[: len(data) // 2])
    status, out, err = await _verify(capsys, truncated, issued["keys"])
    assert (status, err) == (1, "")
    assert out == (
        "✘ 核验未通过：\n  - 文件不是可读取的 PDF 或已损坏。\n  - PDF 中没有内嵌的报告签名数据。\n"
    )
    flipped = tmp_path / "flipped.pdf"
    changed = bytearray(data)
    changed[len(changed) - 200] ^= 0x20  # inside the cross-reference section at the end
    flipped.write_bytes(bytes(changed))
    status, out, err = await _verify(capsys, flipped, issued["keys"])
    assert (status, err) == (1, "")
    assert out.startswith("✘ 核验未通过：\n  - ")
