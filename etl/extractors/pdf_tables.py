"""Tables in a PDF page, found from where its text sits: a PDF has no table structure, only text placed
at positions. A line whose words are set apart by wide gaps is a row of cells; a run of such lines, in
columns that line up, is a table. It is written as a Markdown table (a header row, then a row per
line), so that later stages cut it between rows and repeat its header (see etl/tables.py).

The header is the table's lines above its first row of amounts, merged column by column: the
"Three Months Ended" / "July 1, 2023" lines of a financial statement become one header cell each.
"""

import re
from collections import Counter
from dataclasses import dataclass

# Words further apart than this many font sizes are in different cells (a word space is about a
# quarter of the font size; justified text stretches it to about half).
CELL_GAP = 1.0
MIN_TABLE_ROWS = 3
# A short line of one cell inside a table (a row label such as "Assets:") does not end the table.
MAX_INNER_LABEL_CHARS = 60
FIGURE = re.compile(r"\d")
AMOUNT = re.compile(r"[-–(]?[$€£]?\s*\d[\d.,]*\s*%?\)?")  # a figure, not a date or a name
LIST_MARKER = re.compile(r"[•●▪◦○■□\-–*o]|\(?[0-9a-zA-Z]{1,3}[.)]")
ALIGNMENT_TOLERANCE = 4.0  # points: how far the edges of one column's cells may stray


@dataclass(frozen=True)
class Cell:
    text: str
    left: float
    right: float


def split_cells(characters: list[tuple[str, float, float]], font_size: float) -> list[Cell]:
    """A line's cells from its characters (text, left edge, right edge), in reading order."""
    gap = CELL_GAP * (font_size or 10.0)
    cells: list[Cell] = []
    text, left, right = "", 0.0, 0.0
    for character, char_left, char_right in characters:
        if character.isspace():
            text += " " if text else ""
            continue
        if text and char_left - right > gap:
            cells.append(Cell(text.strip(), left, right))
            text = ""
        if not text:
            left, right = char_left, char_right
        text += character
        right = max(right, char_right)
    if text:
        cells.append(Cell(text.strip(), left, right))
    return cells


def find_tables(lines: list[list[Cell]]) -> list[tuple[int, int, list[str]]]:
    """The tables among a page's lines: (first line, line after the last, the table's Markdown lines)."""
    tables, index = [], 0
    while index < len(lines):
        end = _run_end(lines, index)
        rows = lines[index:end]
        if end > index and _is_table(rows):
            tables.append((index, end, _markdown(rows)))
            index = end
        else:
            index += 1
    return tables


def _run_end(lines: list[list[Cell]], start: int) -> int:
    """Where a run of multi-cell lines starting at `start` ends; a lone short label inside goes with it."""
    end = start
    while end < len(lines) and (len(lines[end]) >= 2 or _inner_label(lines, start, end)):
        end += 1
    return end


def _inner_label(lines: list[list[Cell]], start: int, index: int) -> bool:
    return (
        start < index < len(lines) - 1
        and len(lines[index]) == 1
        and len(lines[index][0].text) <= MAX_INNER_LABEL_CHARS
        and len(lines[index + 1]) >= 2
    )


def _is_table(rows: list[list[Cell]]) -> bool:
    """Rows whose cells keep to a few columns that line up, with three columns or figures in most rows.
    Justified prose set with wide letter spacing also breaks into "cells", but their number and
    places change from line to line; two wide-apart words on a few lines (a two-column page) have no
    figures. A form (rows that start with a label, "Location:"), a list (rows that start with a
    bullet or a number) and a table of contents (dot leaders) read well as they are: left as text."""
    wide = [row for row in rows if len(row) >= 2]
    if len(wide) < MIN_TABLE_ROWS or sum(_reads_as_text(row) for row in wide) * 2 > len(wide):
        return False
    columns = Counter(len(row) for row in wide).most_common(1)[0][0]
    regular = [row for row in wide if len(row) == columns]
    if len(regular) * 2 < len(wide) or any(len(row) > columns + 1 for row in wide):
        return False
    if not all(_lined_up([row[j] for row in regular]) for j in range(columns)):
        return False
    with_figures = sum(any(FIGURE.search(cell.text) for cell in row[1:]) for row in wide)
    return columns >= 3 or with_figures * 2 >= len(wide)


def _reads_as_text(row: list[Cell]) -> bool:
    first = row[0].text
    leaders = any("...." in cell.text for cell in row)
    return first.endswith(":") or bool(LIST_MARKER.fullmatch(first)) or leaders


def _lined_up(cells: list[Cell]) -> bool:
    """The cells of one column start, end or centre at one place (left, right or centred text)."""
    edges = (
        [cell.left for cell in cells],
        [cell.right for cell in cells],
        [(cell.left + cell.right) / 2 for cell in cells],
    )
    return any(max(values) - min(values) <= ALIGNMENT_TOLERANCE for values in edges)


def _markdown(rows: list[list[Cell]]) -> list[str]:
    columns = _columns(rows)
    first_figures = next(
        (i for i, row in enumerate(rows) if any(AMOUNT.fullmatch(cell.text) for cell in row[1:])), 0
    )
    header_rows = rows[: max(first_figures, 1)]
    header = [" ".join(texts) for texts in zip(*(_placed(row, columns) for row in header_rows), strict=True)]
    body = [_placed(row, columns) for row in rows[len(header_rows) :]]
    return [_row_line(header), _row_line(["---"] * len(columns)), *(_row_line(cells) for cells in body)]


def _columns(rows: list[list[Cell]]) -> list[tuple[float, float]]:
    """The column spans: those of the row with the most cells (its first such row)."""
    widest = max(rows, key=len)
    return [(cell.left, cell.right) for cell in widest]


def _placed(row: list[Cell], columns: list[tuple[float, float]]) -> list[str]:
    """The row's texts by column: each cell in the column it overlaps most (else the nearest one)."""
    texts: list[list[str]] = [[] for _ in columns]
    for cell in row:
        texts[_column_of(cell, columns)].append(cell.text)
    return [" ".join(parts) for parts in texts]


def _column_of(cell: Cell, columns: list[tuple[float, float]]) -> int:
    def overlap(column: tuple[float, float]) -> float:
        return min(cell.right, column[1]) - max(cell.left, column[0])

    def distance(column: tuple[float, float]) -> float:
        return abs((cell.left + cell.right) - (column[0] + column[1]))

    best = max(range(len(columns)), key=lambda j: overlap(columns[j]))
    if overlap(columns[best]) > 0:
        return best
    return min(range(len(columns)), key=lambda j: distance(columns[j]))


def _row_line(cells: list[str]) -> str:
    texts = (cell.replace("|", "/").strip() for cell in cells)
    return "|" + "|".join(f" {text} " if text else " " for text in texts) + "|"
