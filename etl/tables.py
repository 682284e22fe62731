"""Tables stay whole: a Markdown (pipe) table longer than a chunk is cut between rows, never inside one,
and every piece starts with the table's header rows, so no piece of numbers is left without the
names of its columns. A caption (the line just above the table) goes with the first piece.
"""

import re
from dataclasses import dataclass

TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
HEADER_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


@dataclass(frozen=True)
class Run:
    """A stretch of a text: prose to split as usual, or a piece of a table to keep as it is."""

    text: str
    is_table: bool = False


def table_runs(text: str, max_length: int) -> list[Run]:
    """The text as prose runs and table pieces, in order; a text without tables is one prose run."""
    lines = text.split("\n")
    runs: list[Run] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        end = _table_end(lines, index)
        if end == index:
            prose.append(lines[index])
            index += 1
            continue
        caption = prose.pop() if prose and prose[-1].strip() and len(prose[-1]) < max_length // 2 else None
        if any(line.strip() for line in prose):
            runs.append(Run("\n".join(prose)))
        prose = []
        runs += [Run(piece, is_table=True) for piece in _pieces(lines[index:end], caption, max_length)]
        index = end
    if any(line.strip() for line in prose):
        runs.append(Run("\n".join(prose)))
    return runs


def _table_end(lines: list[str], start: int) -> int:
    """Where a table starting at `start` ends (`start` itself when none starts there): a header row,
    its rule (`|---|---|`), then rows."""
    if (
        start + 1 >= len(lines)
        or not TABLE_ROW.match(lines[start])
        or not HEADER_RULE.match(lines[start + 1])
    ):
        return start
    end = start + 2
    while end < len(lines) and TABLE_ROW.match(lines[end]):
        end += 1
    return end


def _pieces(table: list[str], caption: str | None, max_length: int) -> list[str]:
    header, rows = table[:2], table[2:]
    pieces: list[list[str]] = []
    current: list[str] = []
    for row in rows:
        size = len("\n".join([*header, *current, row])) + (len(caption) + 1 if caption and not pieces else 0)
        if current and size > max_length:
            pieces.append(current)
            current = []
        current.append(row)
    pieces.append(current)
    texts = ["\n".join([*header, *piece]) for piece in pieces]
    if caption:
        texts[0] = f"{caption}\n{texts[0]}"
    return texts
