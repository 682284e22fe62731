"""The chunk preview: a document's text split exactly as indexing would split it, with nothing stored,
so a person can choose the chunking before anything is embedded."""

from pathlib import Path

from core.documents.process_rules import AUTOMATIC_RULES
from core.documents.schemas import ChunkPreviewOptions
from core.errors import InvalidParam
from core.indexing.pipeline import IndexingFailed, PlannedSegment, extract_text, plan_segments
from core.settings import Settings
from etl.extractors.base import ExtractionError
from etl.splitting import SegmentationError

PREVIEW_SEGMENTS = 50  # shown of a longer document; the total is still counted


def preview_chunks(
    settings: Settings, options: ChunkPreviewOptions, file: tuple[Path, str] | None = None
) -> dict:
    """`file` is (path, extension) of an upload to split instead of `options.text`."""
    rule = options.process_rule or {"mode": "automatic", "rules": AUTOMATIC_RULES}
    path, extension = file or (None, "txt")
    try:
        text = _text_of(settings, options, path, extension)
        planned = plan_segments(settings, options.doc_form, options.doc_language, rule, text, path, extension)
    except (IndexingFailed, SegmentationError, ExtractionError) as error:
        raise InvalidParam(str(error)) from None
    return {
        "doc_form": options.doc_form,
        "total_segments": len(planned),
        "total_characters": sum(len(plan.content) + len(plan.answer or "") for plan in planned),
        "segments": [
            _describe(position, plan) for position, plan in enumerate(planned[:PREVIEW_SEGMENTS], 1)
        ],
    }


def _text_of(settings: Settings, options: ChunkPreviewOptions, path: Path | None, extension: str) -> str:
    if path is None:
        if not options.text or not options.text.strip():
            raise InvalidParam("text or a file is required.")
        return options.text
    try:
        return extract_text(settings, path, extension)
    except ExtractionError:
        raise
    except Exception as error:  # noqa: BLE001 - a parser's own error on a broken file, as indexing reports it
        raise InvalidParam(f"The file could not be read: {str(error) or type(error).__name__}") from None


def _describe(position: int, plan: PlannedSegment) -> dict:
    return {
        "position": position,
        "content": plan.content,
        "answer": plan.answer,
        "word_count": len(plan.content) + len(plan.answer or ""),
        "child_chunks": plan.children,
    }
