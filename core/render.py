"""HTML and PDF rendering of a report (Jinja2 + WeasyPrint).

The HTML is self-contained (CSS inlined, QR code as a data URI) so that the same string can be
rendered anywhere, and the benchmark can time the raw WeasyPrint render of exactly that HTML.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from pathlib import Path

import qrcode
import weasyprint
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from qrcode.image.svg import SvgPathImage

from core.domains import DOMAINS
from core.periods import Period
from core.records import EntityInfo, RecordKind, cn_date
from core.report import KIND_ORDER, Report, ReportItem, assemble_report
from core.report_identity import verify_url

#: The checkout's templates/ folder, installed as the package `creditbot_templates` (pyproject.toml).
TEMPLATES_DIR = Path(str(resources.files("creditbot_templates")))
ATTACHMENT_NAME = "creditbot-report.json"
ISSUER = "专项信用报告服务平台（creditbot）"


@dataclass(frozen=True)
class Cell:
    text: str
    css: str = ""
    note: str = ""


def _date_cell(day: date | None) -> Cell:
    return Cell(day.isoformat() if day else "—", "date")


def _detail(item: ReportItem, label: str) -> str:
    return dict(item.details).get(label) or "—"


def _penalty_cells(item: ReportItem) -> list[Cell]:
    kind_and_content = "：".join(
        part for part in (dict(item.details).get("处罚类别"), dict(item.details).get("处罚内容")) if part
    )
    return [
        Cell(item.doc_no, note="简易程序" if item.procedure == "简易程序" else ""),
        _date_cell(item.decision_date),
        Cell(_detail(item, "违法行为类型")),
        Cell(kind_and_content or "—"),
        Cell(dict(item.details).get("处罚机关") or item.source_dept),
    ]


def _enforcement_cells(item: ReportItem) -> list[Cell]:
    return [
        Cell(item.doc_no),
        _date_cell(item.decision_date),
        Cell(_detail(item, "强制类别")),
        Cell(_detail(item, "强制内容")),
        Cell(dict(item.details).get("实施机关") or item.source_dept),
        _date_cell(item.end_date),
    ]


def _list_cells(item: ReportItem) -> list[Cell]:
    return [
        # A list entry has no document number: its key (name|USCC|date) means nothing to a reader.
        Cell(_detail(item, "名单名称")),
        Cell(_detail(item, "列入事由")),
        Cell(dict(item.details).get("认定部门") or item.source_dept),
        _date_cell(item.decision_date),
        _date_cell(item.end_date),
    ]


def _judgment_cells(item: ReportItem) -> list[Cell]:
    return [
        Cell(item.doc_no),
        _date_cell(item.decision_date),
        Cell(_detail(item, "案由")),
        Cell(_detail(item, "判决结果")),
        Cell(dict(item.details).get("审判法院") or item.source_dept),
    ]


#: Per kind: (column title, width in % of the table) and the cell builder. 序号 (5%), 领域 (11%)
#: and 状态 (14%) frame every table; the widths below fill the remaining 70%.
_COLUMNS: dict[RecordKind, tuple[tuple[tuple[str, int], ...], Callable[[ReportItem], list[Cell]]]] = {
    RecordKind.PENALTY: (
        (
            ("决定书文号", 16),
            ("决定日期", 11),
            ("违法行为类型", 17),
            ("处罚类别及内容", 16),
            ("处罚机关", 10),
        ),
        _penalty_cells,
    ),
    RecordKind.ENFORCEMENT: (
        (
            ("决定书文号", 15),
            ("决定日期", 11),
            ("强制类别", 10),
            ("强制内容", 14),
            ("实施机关", 10),
            ("解除日期", 10),
        ),
        _enforcement_cells,
    ),
    RecordKind.LIST: (
        (("名单名称", 18), ("列入事由", 17), ("认定部门", 13), ("列入日期", 11), ("移出日期", 11)),
        _list_cells,
    ),
    RecordKind.JUDGMENT: (
        (("裁判文书号", 17), ("判决日期", 11), ("案由", 14), ("判决结果", 17), ("审判法院", 11)),
        _judgment_cells,
    ),
}


@dataclass(frozen=True)
class DetailTable:
    kind: RecordKind
    items: tuple[ReportItem, ...]

    @property
    def columns(self) -> tuple[tuple[str, int], ...]:
        return _COLUMNS[self.kind][0]

    def cells(self, item: ReportItem) -> list[Cell]:
        return _COLUMNS[self.kind][1](item)


_ORDINALS = "一二三四五六七八九十"


def _cn_datetime(moment: datetime) -> str:
    return f"{cn_date(moment.date())} {moment:%H:%M:%S}"


@cache
def environment() -> Environment:
    """The one Jinja environment over templates/: the report and every page of the service.

    Here, not in the web layer, because the report renders in worker processes that never
    import aiohttp. Undefined names fail loudly rather than rendering as empty text.
    """
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cn_date"] = cn_date
    env.filters["cn_datetime"] = _cn_datetime
    env.filters["cn_ordinal"] = lambda n: _ORDINALS[n - 1]
    return env


def qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=SvgPathImage, box_size=10, border=1)
    return image.to_string(encoding="unicode")


def qr_data_uri(url: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(url).encode("utf-8")).decode("ascii")


def render_html(report: Report, *, code: str, base_url: str) -> str:
    tables = [DetailTable(k, items) for k in KIND_ORDER if (items := report.items_of(k))]
    return (
        environment()
        .get_template("report.html")
        .render(
            r=report,
            code=code,
            kinds=KIND_ORDER,
            detail_tables=tables,
            qr_data_uri=qr_data_uri(verify_url(base_url, report.report_no, code)),
            verify_base=f"{base_url.rstrip('/')}/v/{report.report_no}",
            issuer=ISSUER,
        )
    )


def html_to_pdf(html: str, envelope_json: bytes | None = None) -> bytes:
    """WeasyPrint render; the signed content travels inside the PDF as an attachment."""
    attachments = []
    if envelope_json is not None:
        attachments.append(
            weasyprint.Attachment(
                string=envelope_json,
                name=ATTACHMENT_NAME,
                description="专项信用报告签名数据（Ed25519）",
                relationship="Data",
            )
        )
    return weasyprint.HTML(string=html, base_url=str(TEMPLATES_DIR)).write_pdf(attachments=attachments)


def warm_up() -> None:
    """Load templates and the CJK font once, so the first real report is not the slow one."""
    issued = datetime(2025, 1, 2, tzinfo=UTC)
    entity = EntityInfo(uscc="91140000000000000X", name="预热", entity_type="企业", legal_rep="预热")
    period = Period(date(2024, 1, 1), date(2024, 12, 31))
    report = assemble_report(entity, [], period, DOMAINS[:2], report_no="SX0", issued_at=issued)
    html_to_pdf(render_html(report, code="AAAAAAAA", base_url="http://localhost"), b"{}")
