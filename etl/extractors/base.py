from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import charset_normalizer

WESTERN_ENCODINGS = ("cp1252", "latin_1", "iso8859_15")
WESTERN_CHAOS_MARGIN = 0.1


@dataclass
class ExtractedPart:
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


class PageProgress(Protocol):
    """Told after each page of a paged file is read: pages read so far, of how many, those by OCR."""

    def __call__(self, read: int, total: int, recognised: list[int]) -> None: ...


class ExtractionError(ValueError):
    """A file that cannot be read: corrupt, encrypted, empty or of the wrong type."""


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) when valid, else the encoding charset-normalizer detects."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise ExtractionError("The file is not text in any encoding that could be detected.")
    # Single-byte code pages are often equally plausible; Windows-1252 is by far the most common of them.
    for match in matches:
        if match.encoding in WESTERN_ENCODINGS and match.chaos <= best.chaos + WESTERN_CHAOS_MARGIN:
            return str(match)
    return str(best)


def rows_to_text(header: list[str], rows: list[list[str]]) -> str:
    """A table as readable text: one row a line, each value named by its column header."""
    lines = []
    for row in rows:
        cells = [
            f"{name}: {value}" if name else value
            for name, value in zip(header + [""] * (len(row) - len(header)), row, strict=False)
            if value != ""
        ]
        if cells:
            lines.append("; ".join(cells))
    return "\n".join(lines)


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def table_text(rows: Sequence[Sequence[object]]) -> str:
    """The first non-empty row names the columns of the rows below it."""
    texts = [[cell_text(cell) for cell in row] for row in rows]
    texts = [row for row in texts if any(row)]
    if not texts:
        return ""
    return rows_to_text(texts[0], texts[1:]) if len(texts) > 1 else "; ".join(filter(None, texts[0]))
