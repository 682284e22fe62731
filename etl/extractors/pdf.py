"""PDF text through PDFium (pypdfium2): every page in reading order, with no limit that refuses a large
legitimate file. Pages without a text layer (scans, image-only pages) are read by OCR when a
recogniser is given. Around the text:

- running headers and footers (lines repeated at the top or bottom of most pages) and page numbers
  are removed, and words hyphenated at line ends are joined;
- headings become Markdown heading lines (`## 2.1 Study design`), found from the PDF's outline when it
  has one, else from the fonts (a line set larger than the body text, or wholly bold) and numbering
  (`2.1`), so that later stages know each chunk's heading path;
- tables, found from where their words sit (etl/extractors/pdf_tables.py), become Markdown tables, so
  that chunking keeps their rows whole and repeats their header.
"""

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.extractors.base import ExtractedPart, ExtractionError, PageProgress
from etl.extractors.ocr import TextRecognizer
from etl.extractors.pdf_tables import Cell, find_tables, split_cells

logger = logging.getLogger(__name__)

# A page with fewer visible characters than this has no usable text layer.
MIN_PAGE_CHARS = 20
HEADING_SIZE_RATIO = 1.12  # a line this much larger than the body text is a heading
# A size (or boldness) that sets more of the text than this is a kind of body text, not headings.
MAX_HEADING_SHARE = 0.1
MAX_HEADING_CHARS = 100
FURNITURE_ZONE = 3  # lines at the top and at the bottom of a page where headers and footers live
PAGE_NUMBER = re.compile(r"(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?", re.IGNORECASE)
NUMBERED_HEADING = re.compile(r"(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+\S.*")
HYPHENATED = re.compile(r"([a-z])-\n([a-z])")


@dataclass
class Line:
    text: str
    size: float = 0.0  # font size of the line (0: unknown, e.g. read by OCR)
    bold: bool = False
    heading_level: int = 0
    cells: list[Cell] = field(default_factory=list)  # the line's cells where wide gaps part its words
    table: bool = False  # a row of a table written as Markdown


@dataclass
class Page:
    number: int
    lines: list[Line] = field(default_factory=list)
    ocr: bool = False


def extract_pdf(
    path: Path, recognizer: TextRecognizer | None = None, progress: PageProgress | None = None
) -> list[ExtractedPart]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        raise ExtractionError(_open_failure(str(error))) from error
    try:
        pages, without_text = _read_pages(document, recognizer, progress)
        outline = _outline(document)
    finally:
        document.close()
    if without_text and all(not page.lines for page in pages):
        raise ExtractionError(
            "The PDF has no text layer (a scan?) and OCR is turned off (OCR_ENABLED): nothing could be read."
        )
    _remove_furniture(pages)
    for page in pages:
        _write_tables(page)
    _mark_headings(pages, outline)
    return [
        ExtractedPart(_page_text(page), {"page": page.number} | ({"ocr": True} if page.ocr else {}))
        for page in pages
        if page.lines
    ]


def _open_failure(message: str) -> str:
    if "password" in message.lower():
        return "The PDF file is encrypted and cannot be read without its password."
    return f"The PDF file is damaged or not a PDF ({message.rstrip('.')})."


def _read_pages(
    document: Any, recognizer: TextRecognizer | None, progress: PageProgress | None
) -> tuple[list[Page], list[int]]:
    """The pages, and the numbers of those left without text (no text layer and no OCR for them)."""
    pages: list[Page] = []
    without_text: list[int] = []
    recognised: list[int] = []
    for index in range(len(document)):
        page = document[index]
        try:
            read = Page(index + 1, _text_lines(page))
            if sum(len(line.text.strip()) for line in read.lines) < MIN_PAGE_CHARS:
                read.lines = []
                if recognizer is None or len(recognised) >= recognizer.settings.max_pages:
                    without_text.append(read.number)
                else:
                    recognised.append(read.number)
                    read.lines, read.ocr = _recognised_lines(page, recognizer), True
            pages.append(read)
        finally:
            page.close()
        if progress is not None:
            progress(index + 1, len(document), recognised)
    return pages, without_text


def _text_lines(page: Any) -> list[Line]:
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        # PDFium joins a word hyphenated at a line's end itself, leaving U+FFFE where the hyphen was.
        text = textpage.get_text_range()
        lines, offset = [], 0
        for raw in text.split("\r\n"):
            line = raw.strip()
            if line:
                first = offset + raw.index(line[0])
                last = first + len(line) - 1
                size = pdfium_c.FPDFText_GetFontSize(textpage.raw, first)
                bold = all(_is_bold(pdfium_c, textpage.raw, index) for index in (first, last))
                characters = _placed_characters(pdfium_c, textpage.raw, raw, offset, first, last)
                lines.append(
                    Line(
                        re.sub(r"\s+", " ", line.replace("\ufffe", "")),
                        round(size, 1),
                        bold,
                        cells=split_cells(characters, size),
                    )
                )
            offset += len(raw) + 2
        return lines
    finally:
        textpage.close()


def _placed_characters(
    pdfium_c: Any, textpage: Any, raw: str, offset: int, first: int, last: int
) -> list[tuple[str, float, float]]:
    """The line's characters with their left and right edges on the page."""
    left, right, bottom, top = (pdfium_c.c_double() for _ in range(4))
    characters = []
    for index in range(first, last + 1):
        character = raw[index - offset]
        if character == "\ufffe":
            continue
        pdfium_c.FPDFText_GetCharBox(textpage, index, left, right, bottom, top)
        characters.append((character, left.value, right.value))
    return characters


def _is_bold(pdfium_c: Any, textpage: Any, index: int) -> bool:
    if pdfium_c.FPDFText_GetFontWeight(textpage, index) >= 600:
        return True
    buffer = (pdfium_c.c_char * 128)()
    flags = pdfium_c.c_int()
    length = pdfium_c.FPDFText_GetFontInfo(textpage, index, buffer, 128, flags)
    return b"bold" in bytes(buffer[: max(length - 1, 0)]).lower()


def _recognised_lines(page: Any, recognizer: TextRecognizer) -> list[Line]:
    """A page OCR cannot read is left empty: the document's other pages still count."""
    try:
        image = page.render(scale=recognizer.settings.render_dpi / 72).to_pil()
        text = recognizer.read(image)
    except Exception:  # noqa: BLE001 - the recogniser's own failure on one page
        logger.warning("a page could not be read by OCR", exc_info=True)
        return []
    return [Line(text) for text in text.splitlines() if text.strip()]


def _outline(document: Any) -> dict[int, list[tuple[str, int]]]:
    """The outline's entries by page number: (normalised title, level from 1)."""
    entries: dict[int, list[tuple[str, int]]] = {}
    for bookmark in document.get_toc():
        destination = bookmark.get_dest()
        title = _normalised(bookmark.get_title() or "")
        if destination is not None and destination.get_index() is not None and title:
            entries.setdefault(destination.get_index() + 1, []).append((title, bookmark.level + 1))
    return entries


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _remove_furniture(pages: list[Page]) -> None:
    """Page numbers at a page's top or bottom, and lines there that repeat (numbers aside) on at least
    half the pages, and on two at least."""
    seen = Counter(
        key for page in pages for key in {_furniture_key(line.text) for line in _zones(page.lines)}
    )
    repeated = {key for key, count in seen.items() if count >= max(2, len(pages) / 2)}
    for page in pages:
        zone = {id(line) for line in _zones(page.lines)}
        page.lines = [
            line
            for line in page.lines
            if id(line) not in zone
            or not (PAGE_NUMBER.fullmatch(line.text.strip()) or _furniture_key(line.text) in repeated)
        ]


def _zones(lines: list[Line]) -> list[Line]:
    return lines[:FURNITURE_ZONE] + lines[max(FURNITURE_ZONE, len(lines) - FURNITURE_ZONE) :]


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", _normalised(text))


def _write_tables(page: Page) -> None:
    """Lines that form a table become its Markdown rows (never headings)."""
    for start, end, rows in reversed(find_tables([line.cells for line in page.lines])):
        page.lines[start:end] = [Line(row, table=True) for row in rows]


def _mark_headings(pages: list[Page], outline: dict[int, list[tuple[str, int]]]) -> None:
    if sum(len(entries) for entries in outline.values()) >= 3:
        for page in pages:
            titles = dict(outline.get(page.number, []))
            for line in page.lines:
                line.heading_level = titles.get(_normalised(line.text), 0)
        return
    shares: Counter[tuple[float, bool]] = Counter()
    for page in pages:
        for line in page.lines:
            if line.size:
                shares[line.size, line.bold] += len(line.text)
    if not shares:
        return
    total = sum(shares.values())
    regular = Counter({size: share for (size, bold), share in shares.items() if not bold})
    body = regular.most_common(1)[0][0] if regular else 0.0
    rare = {style for style, share in shares.items() if share <= MAX_HEADING_SHARE * total}
    larger = sorted({size for size, _ in rare if size >= body * HEADING_SIZE_RATIO}, reverse=True)
    for page in pages:
        for line in page.lines:
            if line.table or (line.size, line.bold) not in rare or not _could_be_heading(line.text):
                continue
            if line.size in larger:
                line.heading_level = min(larger.index(line.size) + 1, 5)
            elif line.bold and line.size >= body:
                line.heading_level = min(len(larger) + 1, 6)
            else:
                continue
            if numbered := NUMBERED_HEADING.fullmatch(line.text):
                line.heading_level = min(numbered.group(1).count(".") + 1, 6)


def _could_be_heading(text: str) -> bool:
    text = text.strip()
    return (
        len(text) <= MAX_HEADING_CHARS
        and any(character.isalpha() for character in text)
        and not text.endswith((".", ",", ":", ";"))
        and "...." not in text  # a table of contents' line, not the heading itself
    )


def _page_text(page: Page) -> str:
    text = "\n".join(
        f"{'#' * line.heading_level} {line.text}" if line.heading_level else line.text for line in page.lines
    )
    return HYPHENATED.sub(r"\1\2", text)
