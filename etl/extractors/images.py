"""Image uploads (PNG, JPEG, TIFF, BMP, WebP) are read by OCR, a page per frame (multi-page TIFF)."""

from pathlib import Path

from etl.extractors.base import ExtractedPart, ExtractionError
from etl.extractors.ocr import TextRecognizer

IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp")


def extract_image(path: Path, recognizer: TextRecognizer | None) -> list[ExtractedPart]:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    if recognizer is None:
        raise ExtractionError("Images are read by OCR, which is turned off (OCR_ENABLED).")
    try:
        with Image.open(path) as image:
            frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ExtractionError(f"The image could not be read: {error}") from error
    parts = []
    for number, frame in enumerate(frames[: recognizer.settings.max_pages], start=1):
        text = recognizer.read(frame)
        if text.strip():
            parts.append(ExtractedPart(text, {"page": number, "ocr": True}))
    return parts
