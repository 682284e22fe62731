"""Chunking as Dify does it, with lengths counted in characters.

General chunks: split on the user's separator; a piece that fits is a chunk of its own, a longer one
is split recursively on "\\n\\n", "。", ". ", " " and finally characters, its pieces packed greedily up
to the maximum with overlap. Separators stay attached to the text they end, so no character is lost.
"""

import re
from dataclasses import dataclass, field

RECURSIVE_SEPARATORS = ("\n\n", "。", ". ", " ", "")
AUTOMATIC_MAX_LENGTH = 500
AUTOMATIC_OVERLAP = 50
FULL_DOC_PARENT_MAX_LENGTH = 10_000
MIN_CHUNK_LENGTH = 50


@dataclass(frozen=True)
class Segmentation:
    separator: str = "\n"
    max_length: int = AUTOMATIC_MAX_LENGTH
    overlap: int = 0


@dataclass
class ParentChunk:
    content: str
    children: list[str] = field(default_factory=list)


class SegmentationError(ValueError):
    pass


def check_segmentation(segmentation: Segmentation, max_allowed: int) -> None:
    """The indexing-time check of Dify: sizes outside [50, max] or overlap above size fail the document."""
    if (
        not MIN_CHUNK_LENGTH <= segmentation.max_length <= max_allowed
        or segmentation.overlap > segmentation.max_length
    ):
        raise SegmentationError(
            f"Custom segment length should be between {MIN_CHUNK_LENGTH} and {max_allowed}."
        )
    if segmentation.overlap < 0:
        raise SegmentationError("Chunk overlap must not be negative.")


def decode_separator(separator: str) -> str:
    r"""`\n`, `\t`, `\uXXXX` typed as text become the characters they name."""
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return chr(int(match.group(1), 16))
        return escapes[match.group(2)]

    return re.sub(r"\\(?:u([0-9a-fA-F]{4})|([ntr\\]))", replace, separator)


def split_automatic(text: str) -> list[str]:
    return _finish(split_recursive(text, AUTOMATIC_MAX_LENGTH, AUTOMATIC_OVERLAP))


def split_general(text: str, segmentation: Segmentation) -> list[str]:
    separator = decode_separator(segmentation.separator)
    pieces = text.split(separator) if separator else [text]
    chunks: list[str] = []
    for piece in pieces:
        if len(piece) <= segmentation.max_length:
            chunks.append(piece)
        else:
            chunks.extend(split_recursive(piece, segmentation.max_length, segmentation.overlap))
    return _finish(chunks)


def split_parent_child(
    text: str, parent_mode: str, parent: Segmentation | None, child: Segmentation
) -> list[ParentChunk]:
    if parent_mode == "full-doc":
        parents = [text[:FULL_DOC_PARENT_MAX_LENGTH].strip()]
    else:
        parents = split_general(text, parent or Segmentation())
    result = []
    for content in parents:
        children = split_general(content, child)
        if content and children:
            result.append(ParentChunk(content=content, children=children))
    return result


def split_recursive(
    text: str, max_length: int, overlap: int, separators: tuple[str, ...] = RECURSIVE_SEPARATORS
) -> list[str]:
    separator, remaining = _first_present(text, separators)
    pieces = _split_keeping(text, separator)
    chunks: list[str] = []
    fitting: list[str] = []
    for piece in pieces:
        if len(piece) <= max_length:
            fitting.append(piece)
            continue
        chunks.extend(_pack(fitting, max_length, overlap))
        fitting = []
        if remaining:
            chunks.extend(split_recursive(piece, max_length, overlap, remaining))
        else:
            chunks.append(piece)
    chunks.extend(_pack(fitting, max_length, overlap))
    return chunks


def _first_present(text: str, separators: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    for index, separator in enumerate(separators):
        if separator == "" or separator in text:
            return separator, tuple(separators[index + 1 :])
    return "", ()


def _split_keeping(text: str, separator: str) -> list[str]:
    if not separator:
        return list(text)
    parts = text.split(separator)
    return [part + separator for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _pack(pieces: list[str], max_length: int, overlap: int) -> list[str]:
    """Greedy packing up to max_length; each new chunk starts with the last pieces of the previous
    one, up to `overlap` characters, so context carries across the boundary."""
    chunks: list[str] = []
    window: list[str] = []
    length = 0
    for piece in pieces:
        if window and length + len(piece) > max_length:
            chunks.append("".join(window))
            while window and (length > overlap or length + len(piece) > max_length):
                length -= len(window.pop(0))
        window.append(piece)
        length += len(piece)
    if window:
        chunks.append("".join(window))
    return chunks


def _finish(chunks: list[str]) -> list[str]:
    finished = []
    for chunk in chunks:
        chunk = chunk.strip()
        if chunk[:1] in (".", "。"):
            chunk = chunk[1:].lstrip()
        if chunk:
            finished.append(chunk)
    return finished
