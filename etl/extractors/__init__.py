"""File extraction: a file in, its text out as parts (pages, sheets, slides) with their metadata.

Each extension has an extractor made for it. Failures raise `ExtractionError` with a message fit to
show a user (the document is marked `error` with it); nothing here may take the worker down.
"""

from etl.extractors.base import ExtractedPart, ExtractionError
from etl.extractors.registry import extract_file, supported_extensions

__all__ = ["ExtractedPart", "ExtractionError", "extract_file", "supported_extensions"]
