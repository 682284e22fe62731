"""Where a chunk sits in its document: its pages and its heading path.

Extractors give a document as parts (a PDF page, a slide, a sheet, or the whole text) whose headings
are Markdown heading lines (`## 2.1 Study design`; DOCX, HTML and PDF extractors write them so).
`DocumentText` cleans each part on its own and joins them, so that every offset of the text it
splits is known to belong to one page, and every heading line to one offset. A chunk is then placed
by finding it in that text.
"""

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

from etl.extractors.base import ExtractedPart

HEADING_LINE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
# How much of a chunk's start is looked for to find where it is (chunks of overlapping splits repeat
# text, so the search goes on from the previous chunk's start).
PROBE_CHARS = 64


@dataclass(frozen=True)
class Heading:
    offset: int
    level: int
    title: str


@dataclass(frozen=True)
class Place:
    page_start: int | None
    page_end: int | None
    heading_path: tuple[str, ...]


class DocumentText:
    def __init__(self, parts: list[ExtractedPart], clean: Callable[[str], str] = lambda text: text):
        pieces, self._page_starts, self._pages, offset = [], [], [], 0
        for part in parts:
            cleaned = clean(part.text)
            if not cleaned.strip():
                continue
            page = part.metadata.get("page") or part.metadata.get("slide")
            if page is not None:
                self._page_starts.append(offset)
                self._pages.append(int(page))
            pieces.append(cleaned)
            offset += len(cleaned) + 1
        self.text = "\n".join(pieces)
        self.headings = [
            Heading(match.start(), len(match.group(1)), match.group(2).strip())
            for match in HEADING_LINE.finditer(self.text)
        ]
        self._heading_offsets = [heading.offset for heading in self.headings]
        self._paths = _paths_at_headings(self.headings)

    def places(self, chunks: list[str]) -> list[Place]:
        """Each chunk's place, the chunks in document order (as the splitters return them)."""
        places, cursor = [], 0
        for chunk in chunks:
            probe = chunk.strip()[:PROBE_CHARS]
            start = self.text.find(probe, cursor) if probe else -1
            if start < 0:
                start = cursor  # text the splitter changed: the previous place is the best guess
            else:
                cursor = start + 1
            places.append(self.place(start, start + max(len(chunk.strip()), 1)))
        return places

    def place(self, start: int, end: int) -> Place:
        page_start, page_end = self._page_at(start), self._page_at(end - 1)
        return Place(page_start, page_end, self._heading_path(start))

    def _page_at(self, offset: int) -> int | None:
        index = bisect.bisect_right(self._page_starts, offset) - 1
        return self._pages[index] if index >= 0 else (self._pages[0] if self._pages else None)

    def _heading_path(self, offset: int) -> tuple[str, ...]:
        """The headings in force at `offset` (a heading starting on the chunk's first line included)."""
        line_end = self.text.find("\n", offset)
        limit = len(self.text) if line_end < 0 else line_end
        last = bisect.bisect_left(self._heading_offsets, limit) - 1
        return self._paths[last] if last >= 0 else ()


def _paths_at_headings(headings: list[Heading]) -> list[tuple[str, ...]]:
    """The heading path in force from each heading on, built in one pass (a chunk looks its up)."""
    paths: list[tuple[str, ...]] = []
    path: list[Heading] = []
    for heading in headings:
        while path and path[-1].level >= heading.level:
            path.pop()
        path.append(heading)
        paths.append(tuple(item.title for item in path))
    return paths


def context_line(title: str, heading_path: tuple[str, ...] | list[str]) -> str:
    """What the indexes read before a chunk: its document and where in it the chunk is."""
    return " › ".join(part for part in [title, *heading_path] if part)


def document_title(name: str) -> str:
    """A document's name as a title worth reading before each chunk: without its file extension, and
    nothing at all when it holds no word (an id such as `4983.txt` or `20080124X00101.pdf` tells a
    search nothing, and would only add noise to every chunk)."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", name.strip())
    return stem if re.search(r"(?<![^\W\d_])[^\W\d_]{2,}(?![^\W\d_])", stem) else ""
