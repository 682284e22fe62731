"""Reading text from images (scanned pages, image-only pages, image uploads) with RapidOCR: PP-OCR
detection and recognition models that ship inside its wheel and run on ONNX Runtime, so nothing is
downloaded at run time. One engine per process, made on first use and used by one thread at a time
(an ONNX session is not cheap to hold twice, and OCR is CPU-bound anyway).

Lines come out in reading order: the recognised boxes are grouped into lines by their vertical
centre, left to right within a line. A page scanned sideways (its boxes taller than wide) is turned a
quarter and read again with the direction classifier on, which turns each line that then stands on
its head: one more reading instead of one for each way (a sideways page: 19 s against 11 s on one
core).
"""

import functools
import threading
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

# A page whose boxes are mostly this much taller than wide is text on its side.
SIDEWAYS_RATIO = 2.0
# Pixels darker than this much below white are ink; the margin is kept around the ink found.
INK_THRESHOLD = 40
INK_MARGIN = 40


@dataclass(frozen=True)
class OcrSettings:
    threads: int = 1  # ONNX Runtime threads of one recognition (0: every core)
    render_dpi: int = 200  # PDF pages are rendered at this resolution for recognition
    min_score: float = 0.5  # boxes recognised with less confidence are dropped
    max_pages: int = 100  # pages of one document read by OCR; the rest are left out


@dataclass
class RecognisedBox:
    text: str
    score: float
    left: float
    top: float
    bottom: float
    width: float
    height: float


class TextRecognizer:
    def __init__(self, settings: OcrSettings = OcrSettings()):
        self.settings = settings
        self._engine: Any = None
        self._lock = threading.Lock()

    def read(self, image: Image.Image) -> str:
        """The image's text, a line per recognised line, in reading order ("" when there is none)."""
        inked = _inked_area(image.convert("RGB"))
        if inked is None:
            return ""
        with self._lock:
            boxes = self._recognise(inked)
            if _mostly_sideways(boxes):
                boxes = self._recognise(inked.rotate(90, expand=True), classify_direction=True)
        return "\n".join(_lines(boxes))

    def _recognise(self, image: Image.Image, classify_direction: bool = False) -> list[RecognisedBox]:
        output = self._load()(image, use_det=True, use_cls=classify_direction, use_rec=True)
        if output.boxes is None:
            return []
        found = []
        for box, text, score in zip(output.boxes, output.txts, output.scores, strict=True):
            if score < self.settings.min_score or not text.strip():
                continue
            xs, ys = [point[0] for point in box], [point[1] for point in box]
            left, top, bottom = min(xs), min(ys), max(ys)
            found.append(
                RecognisedBox(text.strip(), float(score), left, top, bottom, max(xs) - left, bottom - top)
            )
        return found

    def _load(self) -> Any:
        if self._engine is None:
            from rapidocr import RapidOCR

            self._engine = RapidOCR(
                params={
                    "Global.log_level": "warning",
                    "EngineConfig.onnxruntime.intra_op_num_threads": self.settings.threads or -1,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        return self._engine


@functools.cache
def shared_recognizer(settings: OcrSettings) -> TextRecognizer:
    """The process's recogniser for these settings (its models load once, on first use)."""
    return TextRecognizer(settings)


def ocr_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import rapidocr  # noqa: F401
    except ImportError:
        return False
    return True


def _inked_area(image: Image.Image) -> Image.Image | None:
    """The part of the page that has ink on it (None for a blank page): the detector scales a page
    down to its size limit, and a few lines on a white page would shrink below what it can find."""
    ink = ImageOps.invert(image.convert("L")).point(lambda value: 255 if value > INK_THRESHOLD else 0)
    box = ink.getbbox()
    if box is None:
        return None
    left, top, right, bottom = box
    margin = INK_MARGIN
    return image.crop(
        (
            max(left - margin, 0),
            max(top - margin, 0),
            min(right + margin, image.width),
            min(bottom + margin, image.height),
        )
    )


def _mostly_sideways(boxes: list[RecognisedBox]) -> bool:
    tall = sum(1 for box in boxes if box.height > SIDEWAYS_RATIO * box.width)
    return bool(boxes) and tall > len(boxes) / 2


def _lines(boxes: list[RecognisedBox]) -> list[str]:
    """Boxes whose vertical centres lie within half a box height of a line's join that line."""
    lines: list[list[RecognisedBox]] = []
    for box in sorted(boxes, key=lambda b: (b.top + b.bottom) / 2):
        centre = (box.top + box.bottom) / 2
        if lines:
            last = lines[-1]
            last_centre = sum((b.top + b.bottom) / 2 for b in last) / len(last)
            if abs(centre - last_centre) <= min(box.height, last[0].height) / 2:
                last.append(box)
                continue
        lines.append([box])
    return [" ".join(box.text for box in sorted(line, key=lambda b: b.left)) for line in lines]
