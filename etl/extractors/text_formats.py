"""Plain-text formats: txt, Markdown, properties, WebVTT, CSV."""

import csv
import io
import re
from pathlib import Path

from etl.extractors.base import ExtractedPart, decode_text, table_text

_VTT_TIMING = re.compile(r"^\s*(\d{2}:)?\d{2}:\d{2}[.,]\d{3}\s*-->")
_VTT_VOICE = re.compile(r"<v(?:\.[^ >]*)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]+>")


def extract_plain_text(path: Path) -> list[ExtractedPart]:
    return [ExtractedPart(decode_text(path.read_bytes()))]


def extract_vtt(path: Path) -> list[ExtractedPart]:
    """Cue text only, consecutive lines of one speaker merged as `Speaker: "..."`."""
    blocks = re.split(r"\n\s*\n", decode_text(path.read_bytes()).replace("\r\n", "\n"))
    turns: list[tuple[str, list[str]]] = []
    for block in blocks:
        lines = block.strip().split("\n")
        if not lines or lines[0].startswith(("WEBVTT", "NOTE", "STYLE", "REGION")):
            continue
        timing = next((i for i, line in enumerate(lines) if _VTT_TIMING.match(line)), None)
        if timing is None:
            continue
        for line in lines[timing + 1 :]:
            voice = _VTT_VOICE.search(line)
            speaker = voice.group(1).strip() if voice else ""
            text = _TAG.sub("", line).strip()
            if not text:
                continue
            if turns and turns[-1][0] == speaker:
                turns[-1][1].append(text)
            else:
                turns.append((speaker, [text]))
    lines = [f'{speaker}: "{" ".join(texts)}"' if speaker else " ".join(texts) for speaker, texts in turns]
    return [ExtractedPart("\n".join(lines))]


def extract_csv(path: Path) -> list[ExtractedPart]:
    return [ExtractedPart(table_text(read_csv_rows(path)))]


def read_csv_rows(path: Path) -> list[list[str]]:
    text = decode_text(path.read_bytes())
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO(text), dialect) if row]
