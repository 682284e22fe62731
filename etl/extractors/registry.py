"""Which extractor reads which extension, under each ETL type."""

from collections.abc import Callable
from pathlib import Path

from etl.extractors import documents, email_formats, markup, text_formats
from etl.extractors.archives import ARCHIVE_FORMATS, ArchiveLimits, check_archive
from etl.extractors.base import ExtractedPart, ExtractionError, PageProgress
from etl.extractors.images import IMAGE_EXTENSIONS, extract_image
from etl.extractors.ocr import TextRecognizer, ocr_available
from etl.extractors.pdf import extract_pdf
from etl.extractors.unstructured_api import extract_with_unstructured_api

Extractor = Callable[[Path], list[ExtractedPart]]

_DEFAULT: dict[str, Extractor] = {
    "txt": text_formats.extract_plain_text,
    "markdown": text_formats.extract_plain_text,
    "md": text_formats.extract_plain_text,
    "mdx": text_formats.extract_plain_text,
    "properties": text_formats.extract_plain_text,
    "vtt": text_formats.extract_vtt,
    "csv": text_formats.extract_csv,
    "html": markup.extract_html,
    "htm": markup.extract_html,
    "docx": documents.extract_docx,
    "xlsx": documents.extract_xlsx,
    "xls": documents.extract_xls,
}
# Formats Dify reads only through Unstructured; here each has a library of its own, so they work offline.
_EXTENDED: dict[str, Extractor] = {
    "eml": email_formats.extract_eml,
    "msg": email_formats.extract_msg,
    "pptx": documents.extract_pptx,
    "xml": markup.extract_xml,
    "epub": markup.extract_epub,
    "doc": documents.extract_doc,
}
# With ETL_TYPE=unstructured these go to the Unstructured API; the rest stay local, as in Dify.
_SENT_TO_UNSTRUCTURED = {"md", "markdown", "mdx", "doc", "msg", "eml", "ppt", "pptx", "xml", "epub"}


# Read with the OCR engine when there is one: PDF pages without a text layer, and images.
_WITH_OCR = {"pdf", *IMAGE_EXTENSIONS}


def supported_extensions(
    etl_type: str = "default", unstructured_api_url: str | None = None, ocr: bool = False
) -> set[str]:
    """`ocr`: whether an OCR engine is on, which makes images readable."""
    images = set(IMAGE_EXTENSIONS) if ocr and ocr_available() else set()
    if etl_type == "unstructured":
        extensions = set(_DEFAULT) | {"pdf"} | (_SENT_TO_UNSTRUCTURED - {"ppt"}) | images
        return extensions | {"ppt"} if unstructured_api_url else extensions
    extensions = set(_DEFAULT) | {"pdf"} | set(_EXTENDED) | images
    return extensions if documents.doc_converter() else extensions - {"doc"}


def extract_file(
    path: Path,
    extension: str,
    *,
    etl_type: str = "default",
    unstructured_api_url: str | None = None,
    unstructured_api_key: str | None = None,
    archive_limits: ArchiveLimits = ArchiveLimits(),
    recognizer: TextRecognizer | None = None,
    progress: PageProgress | None = None,
) -> list[ExtractedPart]:
    extension = extension.lower().lstrip(".")
    if extension not in supported_extensions(etl_type, unstructured_api_url, ocr=recognizer is not None):
        raise ExtractionError(f"File type not allowed: .{extension}")
    if etl_type == "unstructured" and extension in _SENT_TO_UNSTRUCTURED:
        if not unstructured_api_url:
            raise ExtractionError("ETL_TYPE=unstructured needs UNSTRUCTURED_API_URL to read this file type.")
        parts = extract_with_unstructured_api(path, unstructured_api_url, unstructured_api_key)
    elif extension in _WITH_OCR:
        parts = (
            extract_pdf(path, recognizer, progress) if extension == "pdf" else extract_image(path, recognizer)
        )
    else:
        if extension in ARCHIVE_FORMATS:  # inflated here, so bounded here (a remote parser bounds its own)
            check_archive(path, extension, archive_limits)
        parts = {**_DEFAULT, **_EXTENDED}[extension](path)
    parts = [part for part in parts if part.text.strip()]
    if not parts:
        raise ExtractionError("No text could be extracted from the file.")
    return parts


def read_table_rows(
    path: Path, extension: str, archive_limits: ArchiveLimits = ArchiveLimits()
) -> list[list[str]] | None:
    """The raw rows of a csv, xlsx or xls file (first sheet), for Q&A tables; None for other types."""
    extension = extension.lower().lstrip(".")
    if extension == "csv":
        return text_formats.read_csv_rows(path)
    if extension == "xlsx":
        check_archive(path, extension, archive_limits)
    if extension in ("xlsx", "xls"):
        return documents.first_sheet_rows(path, extension)
    return None
