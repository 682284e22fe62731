"""The office formats: docx, xlsx, xls, pptx, and doc through a converter when installed."""

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etl.extractors.base import ExtractedPart, ExtractionError, table_text

DOC_CONVERSION_TIMEOUT_SECONDS = 120


def extract_docx(path: Path) -> list[ExtractedPart]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = _open_zip_format(lambda: docx.Document(str(path)), "DOCX", path)
    blocks = []
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            blocks.append(_docx_paragraph(Paragraph(element, document)))
        elif tag == "tbl":
            table = Table(element, document)
            blocks.append(table_text([[cell.text for cell in row.cells] for row in table.rows]))
    return [ExtractedPart("\n".join(block for block in blocks if block))]


def _docx_paragraph(paragraph: Any) -> str:
    text: str = paragraph.text.strip()
    style: str = (paragraph.style.name if paragraph.style is not None else "") or ""
    if text and style.startswith("Heading"):
        level = style.removeprefix("Heading").strip()
        return "#" * (int(level) if level.isdigit() else 1) + " " + text
    return text


def extract_xlsx(path: Path) -> list[ExtractedPart]:

    workbook = _open_workbook(path)
    try:
        return [
            ExtractedPart(text, {"sheet": sheet.title})
            for sheet in workbook.worksheets
            if (text := table_text([list(row) for row in sheet.iter_rows(values_only=True)]))
        ]
    finally:
        workbook.close()


def extract_xls(path: Path) -> list[ExtractedPart]:
    import xlrd

    try:
        workbook = xlrd.open_workbook(str(path), on_demand=True)
    except xlrd.XLRDError as error:
        raise ExtractionError(f"The XLS file could not be read: {error}") from error
    parts = []
    for sheet in workbook.sheets():
        rows = [sheet.row_values(index) for index in range(sheet.nrows)]
        if text := table_text(rows):
            parts.append(ExtractedPart(text, {"sheet": sheet.name}))
    return parts


def extract_pptx(path: Path) -> list[ExtractedPart]:
    from pptx import Presentation

    presentation = _open_zip_format(lambda: Presentation(str(path)), "PPTX", path)
    parts = []
    for number, slide in enumerate(presentation.slides, start=1):
        blocks = []
        for shape in slide.shapes:
            if shape.has_text_frame and shape.text_frame.text.strip():
                blocks.append(shape.text_frame.text.strip())
            elif getattr(shape, "has_table", False) and shape.has_table:
                blocks.append(table_text([[cell.text for cell in row.cells] for row in shape.table.rows]))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame.text.strip():
            blocks.append(slide.notes_slide.notes_text_frame.text.strip())
        if blocks:
            parts.append(ExtractedPart("\n".join(blocks), {"slide": number}))
    return parts


def doc_converter() -> list[str] | None:
    if shutil.which("antiword"):
        return ["antiword"]
    if office := shutil.which("libreoffice") or shutil.which("soffice"):
        return [office, "--headless", "--cat"]
    return None


def extract_doc(path: Path) -> list[ExtractedPart]:
    command = doc_converter()
    if command is None:
        raise ExtractionError("Reading .doc files needs antiword or LibreOffice installed on the server.")
    result = subprocess.run(
        [*command, str(path)], capture_output=True, timeout=DOC_CONVERSION_TIMEOUT_SECONDS, check=False
    )
    if result.returncode != 0:
        raise ExtractionError(
            "The DOC file could not be read: " + result.stderr.decode(errors="replace")[:200]
        )
    return [ExtractedPart(result.stdout.decode("utf-8", errors="replace"))]


def _open_workbook(path: Path) -> Any:
    import openpyxl

    return _open_zip_format(
        lambda: openpyxl.load_workbook(str(path), read_only=True, data_only=True), "XLSX", path
    )


def _open_zip_format(opener: Callable[[], Any], kind: str, path: Path) -> Any:
    """The archive's bounds were checked before extraction (`archives.check_archive`)."""
    import zipfile

    try:
        return opener()
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ExtractionError(f"The {kind} file is damaged or not a {kind} file: {error}") from error


def first_sheet_rows(path: Path, extension: str) -> list[list[str]]:
    from etl.extractors.base import cell_text

    if extension == "xls":
        import xlrd

        sheet = xlrd.open_workbook(str(path)).sheet_by_index(0)
        return [[cell_text(value) for value in sheet.row_values(i)] for i in range(sheet.nrows)]

    workbook = _open_workbook(path)
    try:
        return [
            [cell_text(value) for value in row] for row in workbook.worksheets[0].iter_rows(values_only=True)
        ]
    finally:
        workbook.close()
