"""HTML, XML and EPUB."""

import re
from pathlib import Path

from bs4 import BeautifulSoup
from lxml import etree

from etl.extractors.base import ExtractedPart, ExtractionError, decode_text, table_text

_BLANK_LINES = re.compile(r"\n\s*\n\s*(\n\s*)+")
HEADING_TAGS = ["h1", "h2", "h3", "h4", "h5", "h6"]


def html_to_text(html: str) -> str:
    soup = BeautifulSoup(html, "lxml")
    for element in soup(["script", "style", "noscript", "template"]):
        element.decompose()
    for table in soup.find_all("table"):
        rows = [
            [cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])]
            for row in table.find_all("tr")
        ]
        table.replace_with(soup.new_string("\n" + table_text(rows) + "\n"))
    for heading in soup.find_all(HEADING_TAGS):  # as Markdown headings: chunks learn their section
        title = heading.get_text(" ", strip=True)
        marks = "#" * int(heading.name[1])
        heading.replace_with(soup.new_string(f"\n{marks} {title}\n" if title else "\n"))
    text = soup.get_text("\n")
    lines = [line.strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def extract_html(path: Path) -> list[ExtractedPart]:
    return [ExtractedPart(html_to_text(decode_text(path.read_bytes())))]


def extract_xml(path: Path) -> list[ExtractedPart]:
    # No entity expansion and no network: a hostile XML file cannot read files or explode in memory.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as error:
        raise ExtractionError(f"The XML file is not well-formed: {error}") from error
    lines = [text.strip() for text in root.itertext() if text and text.strip()]
    return [ExtractedPart("\n".join(lines))]


def extract_epub(path: Path) -> list[ExtractedPart]:
    import ebooklib
    from ebooklib import epub

    try:
        book = epub.read_epub(str(path), {"ignore_ncx": True})
    except Exception as error:
        raise ExtractionError(f"The EPUB file could not be read: {error}") from error
    parts = []
    for number, item in enumerate(book.get_items_of_type(ebooklib.ITEM_DOCUMENT), start=1):
        text = html_to_text(item.get_content().decode("utf-8", errors="replace"))
        if text:
            parts.append(ExtractedPart(text, {"chapter": number}))
    return parts
