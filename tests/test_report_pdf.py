"""Laboratory report PDF (decision 0012 §9): text read back with pypdf, determinism, QR drawing, pagination."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
import segno

from envtrust.report_pdf import (
    MAX_FIELD,
    QR_SIZE,
    ReportDoc,
    ResultLine,
    SampleLine,
    Signer,
    qr_matrix,
    qr_payload,
    render_report,
)

LEAF = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
URL = qr_payload("https://envtrust.example.gov.cn/", 1234, LEAF)


def _result(i: int, **kw: object) -> ResultLine:
    base = ResultLine(
        sample_no="S-20250601-01",
        parameter="w01018",
        parameter_name="化学需氧量",
        method="HJ 828-2017 重铬酸盐法",
        instrument="INS-07 滴定管 50 mL",
        lots=("GBW(E)080123 批号 2105 有效期至 2027-05-31",),
        result=f"{i}.{i % 10}7",
        unit="mg/L",
        analyst="王五",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def _doc(**kw: object) -> ReportDoc:
    base = ReportDoc(
        report_no="ET-LAB-2025-0042",
        title="检测报告",
        laboratory="某市环境监测中心站",
        issued_at="2025-06-03T16:00:00+08:00",
        samples=(
            SampleLine(
                "S-20250601-01",
                "1号排放口",
                "废水",
                "2025-06-01T09:12:00+08:00",
                "张三",
                "2025-06-01T11:40:00+08:00",
                "李四",
                "完好，已冷藏",
            ),
            SampleLine(
                "S-20250601-02", "2号排放口", "废水", "2025-06-01T09:40:00+08:00", "张三", None, None, "在途"
            ),
        ),
        results=(
            _result(1),
            _result(
                2, parameter="w21003", parameter_name="氨氮", result="0.412", lots=("NH-2024-11", "R-7788")
            ),
            _result(3, result="38.6", retest_of="RES-0007"),
        ),
        signers=(
            Signer("sampler", "张三", "zhangsan", "1a2b3c4d", "2025-06-01T09:15:00+08:00"),
            Signer("receiver", "李四", "lisi", "5e6f7a8b", "2025-06-01T11:41:00+08:00"),
            Signer("analyst", "王五", "wangwu", "9c0d1e2f", "2025-06-02T15:00:00+08:00"),
            Signer("reviewer", "赵六", "zhaoliu", "3a4b5c6d", "2025-06-03T10:00:00+08:00"),
            Signer("signatory", "钱七", "qianqi", "7e8f9a0b", "2025-06-03T16:00:00+08:00"),
        ),
        ledger_index=1234,
        leaf_hex=LEAF,
        verify_url=URL,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def _reader(pdf: bytes) -> pypdf.PdfReader:
    assert pdf.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(pdf))


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in _reader(pdf).pages)


def _flat(text: str) -> str:
    """Text without whitespace: table cells wrap long values over several lines."""
    return re.sub(r"\s+", "", text)


def test_payload() -> None:
    assert URL == "https://envtrust.example.gov.cn/verify/entry/1234#9f86d081884c7d65"
    assert (
        qr_payload("https://h.example", 0, "ab" * 32) == "https://h.example/verify/entry/0#abababababababab"
    )


def test_text_and_metadata_read_back() -> None:
    doc = _doc(supersedes="ET-LAB-2025-0040")
    pdf = render_report(doc)
    reader = _reader(pdf)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4
    text = _text(pdf)
    for needle in (
        "检测报告",
        doc.report_no,
        doc.laboratory,
        doc.issued_at,
        "1234",
        URL,
        "envtrust verify-bundle",
    ):
        assert needle in text
    for signer in doc.signers:
        assert (
            signer.name in text and signer.account in text and signer.key in text and signer.signed_at in text
        )
    for role in ("采样人", "样品接收人", "分析人", "审核人", "授权签字人", "Authorized signatory"):
        assert role in text
    for line in doc.results:
        assert f"{line.result} mg/L" in text
    flat = _flat(text)
    assert _flat("GBW(E)080123 批号 2105 有效期至 2027-05-31") in flat and "NH-2024-11" in text
    assert _flat("复测 of RES-0007") in flat and _flat("retest of RES-0007") in flat
    assert "ET-LAB-2025-0040" in text and "supersedes" in text
    assert "未接收" in text  # sample not yet received: custody summary says so
    assert reader.metadata is not None and reader.metadata.subject == URL
    assert reader.metadata.title == "检测报告 ET-LAB-2025-0042"


def test_deterministic_bytes(tmp_path: Path) -> None:
    first, second = render_report(_doc()), render_report(_doc())
    assert first == second
    (tmp_path / "a.pdf").write_bytes(first)
    assert (tmp_path / "a.pdf").read_bytes() == render_report(_doc())
    changed = _doc(results=(_result(1), _result(2, result="0.413"), _result(3)))
    assert render_report(changed) != first
    assert render_report(_doc(verify_url=qr_payload("https://x.example", 1235, LEAF))) != first


def test_deterministic_across_processes() -> None:
    """``verify`` re-renders in another process: hash seeds and object ids must not leak into the bytes."""
    script = (
        f"import sys, hashlib; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "from test_report_pdf import _doc; from envtrust.report_pdf import render_report; "
        "print(hashlib.sha256(render_report(_doc())).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert digests == {hashlib.sha256(render_report(_doc())).hexdigest()}


def _drawn_matrix(page: pypdf.PageObject, n: int) -> list[list[bool]]:
    """Rebuild the module grid from the filled rectangles of module height in the QR corner."""
    module = QR_SIZE / (n + 8)
    content = page.get_contents()
    assert content is not None
    ops = re.findall(r"([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+) re f", content.get_data().decode("latin-1"))
    rects = [tuple(map(float, op)) for op in ops]
    rects = [r for r in rects if abs(r[3] - module) < 1e-3 and r[0] > 595 - 15 * 72 / 25.4 - QR_SIZE]
    x0, top = min(r[0] for r in rects), max(r[1] + r[3] for r in rects)
    grid = [[False] * n for _ in range(n)]
    for x, y, w, h in rects:
        row, col, span = round((top - y - h) / module), round((x - x0) / module), round(w / module)
        for c in range(col, col + span):
            assert not grid[row][c]
            grid[row][c] = True
    return grid


def test_qr_is_segno_matrix_on_every_page() -> None:
    expected = [list(row) for row in qr_matrix(URL)]
    reference = segno.make_qr(URL, error="m", boost_error=False)
    assert reference.error == "M"
    assert expected == [[bool(v) for v in row] for row in reference.matrix]
    pdf = render_report(_doc(results=tuple(_result(i) for i in range(40))))
    reader = _reader(pdf)
    assert len(reader.pages) > 1
    for page in reader.pages:
        assert _drawn_matrix(page, len(expected)) == expected
        assert URL in page.extract_text()  # payload printed under the code


def test_sixty_results_span_pages() -> None:
    results = tuple(_result(i, result=f"{i + 100}.{i:02d}") for i in range(60))
    pdf = render_report(_doc(results=results))
    reader = _reader(pdf)
    assert len(reader.pages) > 1
    text = _text(pdf)
    for line in results:
        assert f"{line.result} mg/L" in text
    pages = len(reader.pages)
    assert f"第 1 页 共 {pages} 页" in reader.pages[0].extract_text()
    assert f"page {pages} of {pages}" in reader.pages[-1].extract_text()
    assert "钱七" in reader.pages[-1].extract_text()  # signatures after the last results


@pytest.mark.parametrize(
    "hostile",
    [
        "<b>bold</b> & <i>x</i> <br/> <para>",
        "&amp; &lt; &#x41; ]]> <![CDATA[ x ]]>",
        "A" * 3000,
        "超长中文" * 800,
        "emoji 😀 and control \x00\x07 and tab\tend",
        "",
    ],
)
def test_hostile_text_renders(hostile: str) -> None:
    doc = _doc(
        title=hostile or "检测报告",
        laboratory=hostile,
        report_no=f"R-{hostile}",
        samples=(SampleLine(hostile, hostile, hostile, hostile, hostile, hostile, hostile, hostile),),
        results=(
            _result(
                1, method=hostile, lots=(hostile, hostile), retest_of=hostile, result=hostile, unit=hostile
            ),
        ),
        signers=(Signer(hostile, hostile, hostile, hostile, hostile),),
        supersedes=hostile or None,
    )
    pdf = render_report(doc)
    assert pdf == render_report(doc)
    text = _flat(_text(pdf))
    if hostile.startswith("<b>"):
        assert _flat("<b>bold</b> & <i>x</i>") in text  # shown literally, not interpreted
    if hostile.startswith("A"):  # cut at MAX_FIELD with a visible note
        assert text.count("A") >= MAX_FIELD * 10 and _flat("truncated, 3000 字符 chars") in text
    if hostile.startswith("超长"):
        assert text.count("超长中文") >= MAX_FIELD // 4 * 10 and _flat("truncated, 3200 字符 chars") in text


def test_field_up_to_limit_shown_whole() -> None:
    method = "鑫" * (MAX_FIELD - 1) + "末"  # taller than a page: the cell continues on the next one
    text = _flat(_text(render_report(_doc(results=(_result(1, method=method),)))))
    assert text.count("鑫") == MAX_FIELD - 1 and "鑫末" in text and "truncated" not in text
