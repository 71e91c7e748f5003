"""Laboratory test report (检测报告) as PDF — a pure rendering of ledgered records (decision 0012 §9).

reportlab with the built-in Adobe CID font ``STSong-Light`` (no font file, not embedded), ``invariant=1`` so
identical input gives byte-identical output (``verify`` re-renders and compares ``pdf_sha256``), and a QR code
from segno (error level M) drawn as rectangles from ``qr.matrix`` on every page, bottom right, with its payload
as small text under it and as the PDF Subject.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

MARGIN = 15 * mm
QR_SIZE = 24 * mm  # the whole symbol including its 4-module quiet zone
FOOTER_H = QR_SIZE + 12 * mm  # space kept free at the bottom of every page
MAX_FIELD = 1000  # characters shown per field
ROLES = {
    "sampler": ("采样人", "Sampler"),
    "receiver": ("样品接收人", "Sample receiver"),
    "analyst": ("分析人", "Analyst"),
    "reviewer": ("审核人", "Reviewer"),
    "signatory": ("授权签字人", "Authorized signatory"),
}
FOOTER = (
    "本报告是账本（ledger）中已签名记录的呈现，记录本身才是依据。核验：扫描右下角二维码，或下载证明包后运行 envtrust verify-bundle。",
    "This report is a rendering of ledgered, signed records; the records are authoritative. To verify, scan the "
    "code at the bottom right, or download the proof bundle and run `envtrust verify-bundle`.",
)


@dataclass(frozen=True, slots=True)
class Signer:
    role: str  # sampler / receiver / analyst / reviewer / signatory
    name: str
    account: str
    key: str  # key hash (hex, 8 chars) of the key that signed
    signed_at: str  # ISO 8601 with offset


@dataclass(frozen=True, slots=True)
class SampleLine:
    sample_no: str
    point: str
    matrix: str
    sampled_at: str
    sampler: str
    received_at: str | None
    receiver: str | None
    condition: str


@dataclass(frozen=True, slots=True)
class ResultLine:
    sample_no: str
    parameter: str
    parameter_name: str
    method: str
    instrument: str
    lots: tuple[str, ...]  # e.g. "GBW(E)080123 批号 2105 有效期至 2027-05-31"
    result: str
    unit: str
    analyst: str
    retest_of: str | None = None


@dataclass(frozen=True, slots=True)
class ReportDoc:
    report_no: str
    title: str
    laboratory: str
    issued_at: str
    samples: tuple[SampleLine, ...]
    results: tuple[ResultLine, ...]
    signers: tuple[Signer, ...]
    ledger_index: int
    leaf_hex: str
    verify_url: str  # the QR payload
    supersedes: str | None = None


def qr_payload(public_url: str, index: int, leaf_hex: str) -> str:
    """The verification address: the ledger entry page, the leaf hash prefix as fragment."""
    return f"{public_url.rstrip('/')}/verify/entry/{index}#{leaf_hex[:16]}"


def qr_matrix(payload: str) -> tuple[tuple[bool, ...], ...]:
    """Dark (True) / light modules of the QR symbol for ``payload`` (error level M, no quiet zone)."""
    qr = segno.make_qr(payload, error="m", boost_error=False)
    return tuple(tuple(bool(v) for v in row) for row in qr.matrix)


def _style(size: float, *, leading: float | None = None, align: int = 0) -> ParagraphStyle:
    return ParagraphStyle(
        f"s{size}-{align}",
        fontName=FONT,
        fontSize=size,
        leading=leading or size * 1.3,
        alignment=align,
        wordWrap="CJK",  # break anywhere: CJK text has no spaces, hostile strings may have none either
    )


TITLE, BODY, CELL, HEAD = _style(16, align=1), _style(9), _style(7.5), _style(7.5)


def _clean(text: str) -> str:
    """Control characters and characters outside the BMP (the CID font's UCS-2 encoding) become U+FFFD; a field
    longer than ``MAX_FIELD`` is cut with a visible note (layout cost grows faster than linearly with cell size,
    and no real field comes near; the ledgered record keeps the whole text)."""
    if len(text) > MAX_FIELD:
        text = f"{text[:MAX_FIELD]}…〔截断 truncated, {len(text)} 字符 chars〕"
    return "".join(c if ord(c) <= 0xFFFF and (c >= " " or c == "\n") else "\ufffd" for c in text)


def _p(text: str, style: ParagraphStyle = CELL) -> Paragraph:
    """A paragraph showing ``text`` literally (markup escaped, line breaks kept)."""
    return Paragraph(escape(_clean(text)).replace("\n", "<br/>"), style)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> Table:
    data = [[_p(h, HEAD) for h in header], *[[_p(c) for c in row] for row in rows]]
    table = Table(data, colWidths=list(widths), repeatRows=1, splitInRow=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _received(s: SampleLine) -> str:
    return f"{s.received_at}\n{s.receiver}" if s.received_at else "未接收 not received"


def _tail(r: ResultLine) -> tuple[str, str, str, str]:
    retest = f"复测 of {r.retest_of}\nretest of {r.retest_of}" if r.retest_of else ""
    return "\n".join(r.lots), f"{r.result} {r.unit}".strip(), r.analyst, retest


def _story(doc: ReportDoc, width: float) -> list[Any]:
    def section(heading: str, header: str, rows: Sequence[Sequence[str]], fractions: str) -> list[Any]:
        parts = [float(f) for f in fractions.split()]
        widths = [width * f / sum(parts) for f in parts]
        return [
            Spacer(1, 4 * mm),
            _p(heading, BODY),
            Spacer(1, 1 * mm),
            _table(header.split("|"), rows, widths),
        ]

    story: list[Any] = [
        _p(doc.title, TITLE),
        Spacer(1, 3 * mm),
        _p(f"报告编号 Report no.: {doc.report_no}", BODY),
        _p(f"检测单位 Laboratory: {doc.laboratory}", BODY),
        _p(f"签发时间 Issued at: {doc.issued_at}", BODY),
        _p(f"账本序号 Ledger index: {doc.ledger_index}    叶哈希 Leaf hash: {doc.leaf_hex[:16]}", BODY),
    ]
    if doc.supersedes:
        story.append(
            _p(f"本报告替代报告 {doc.supersedes} / This report supersedes report {doc.supersedes}", BODY)
        )
    samples = [
        (s.sample_no, s.point, s.matrix, f"{s.sampled_at}\n{s.sampler}", _received(s), s.condition)
        for s in doc.samples
    ]
    results = [
        (r.sample_no, f"{r.parameter_name}\n{r.parameter}", r.method, r.instrument, *_tail(r))
        for r in doc.results
    ]
    signers = [
        ("{} {}".format(*ROLES.get(s.role, (s.role, ""))).strip(), s.name, s.account, s.key, s.signed_at)
        for s in doc.signers
    ]
    story += section(
        "样品及流转 Samples and chain of custody",
        "样品编号 Sample no.|点位 Point|类型 Matrix|采样 Sampled|接收 Received|状态 Condition",
        samples,
        "1.2 1.3 0.8 1.4 1.4 1.0",
    )
    story += section(
        "检测结果 Results",
        "样品编号 Sample|参数 Parameter|方法 Method|仪器 Instrument|标准物质/批号 Lots|结果 Result|分析 Analyst|备注 Note",
        results,
        "1.0 1.0 1.1 1.0 1.6 0.9 0.7 0.9",
    )
    story += section(
        "签名 Signatures",
        "角色 Role|姓名 Name|账号 Account|密钥 Key hash|签名时间 Signed at",
        signers,
        "1.4 1.0 1.0 0.8 1.4",
    )
    return story


def _draw_qr(canvas: Any, matrix: Sequence[Sequence[bool]], right: float, bottom: float) -> None:
    """The symbol as merged horizontal runs of dark modules (one ``re`` per run), quiet zone left blank."""
    n = len(matrix)
    module = QR_SIZE / (n + 8)
    x0, y_top = right - QR_SIZE + 4 * module, bottom + QR_SIZE - 4 * module
    canvas.setFillColor(colors.black)
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if not row[c]:
                c += 1
                continue
            start = c
            while c < n and row[c]:
                c += 1
            canvas.rect(
                x0 + start * module, y_top - (r + 1) * module, (c - start) * module, module, stroke=0, fill=1
            )


def _footer(doc: ReportDoc, total: int) -> Any:
    matrix, payload = qr_matrix(doc.verify_url), _clean(doc.verify_url)

    def draw(canvas: Any, template: Any) -> None:
        width, _ = A4
        right, text_w = width - MARGIN, width - 2 * MARGIN - QR_SIZE - 5 * mm
        canvas.saveState()
        _draw_qr(canvas, matrix, right, MARGIN + 4 * mm)
        size = min(5.5, (QR_SIZE + 40 * mm) / max(pdfmetrics.stringWidth(payload, FONT, 1), 1))
        canvas.setFont(FONT, size)  # payload under the code, shrunk to fit if long
        canvas.drawRightString(right, MARGIN + 1.5 * mm, payload)
        y = MARGIN + QR_SIZE
        no = doc.report_no if len(doc.report_no) <= 40 else doc.report_no[:39] + "…"  # in full on page 1
        for line in (
            f"报告编号 Report no. {no} · 第 {template.page} 页 共 {total} 页 "
            f"(page {template.page} of {total}) · 账本序号 ledger index {doc.ledger_index}",
            *FOOTER,
        ):
            para = _p(line, _style(7))
            _, h = para.wrap(text_w, QR_SIZE)
            para.drawOn(canvas, MARGIN, y - h)
            y -= h + 1.5 * mm
        canvas.restoreState()

    return draw


def _build(doc: ReportDoc, total: int) -> tuple[bytes, int]:
    out = io.BytesIO()
    template = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + FOOTER_H,
        title=f"{doc.title} {doc.report_no}",
        author=doc.laboratory,
        subject=doc.verify_url,
        creator="envtrust",
        producer="envtrust (reportlab)",
        invariant=1,
    )
    on_page = _footer(doc, total)
    template.build(_story(doc, template.width), onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue(), template.page


def render_report(doc: ReportDoc) -> bytes:
    """The report as an A4 PDF; identical ``doc`` gives identical bytes."""
    _, pages = _build(doc, 0)
    return _build(doc, pages)[0]  # second pass knows the page count for “共 N 页”
