"""The chunk preview: a document's text split exactly as indexing would split it, with nothing stored,
so a person can choose the chunking before anything is embedded."""

from pathlib import Path

from sqlalchemy.orm import Session

from core.datasets.models import Dataset
from core.documents.lookup import get_document
from core.documents.models import UploadFile
from core.documents.schemas import ChunkPreviewOptions
from core.errors import InvalidParam
from core.files.storage import file_storage
from core.ingestion.planning import IndexingFailed, PlannedSegment, extract_parts, plan_segments
from core.ingestion.process_rules import AUTOMATIC_RULES
from core.settings import Settings
from etl.extractors.base import ExtractedPart, ExtractionError
from etl.splitting import SegmentationError

PREVIEW_SEGMENTS = 50  # shown of a longer document; the total is still counted


def preview_chunks(
    settings: Settings, options: ChunkPreviewOptions, file: tuple[Path, str, str] | None = None
) -> dict:
    """`file` is (path, extension, name) of an upload to split instead of `options.text`."""
    rule = options.process_rule or {"mode": "automatic", "rules": AUTOMATIC_RULES}
    path, extension, name = file or (None, "txt", None)
    try:
        parts = _parts_of(settings, options, path, extension)
        planned = plan_segments(
            settings, options.doc_form, options.doc_language, rule, parts, path, extension, title=name
        )
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


def preview_stored_document(
    session: Session, settings: Settings, dataset: Dataset, document_id: str, options: ChunkPreviewOptions
) -> dict:
    """A stored document's source (its uploaded file, pasted text or fetched page) split under another
    rule, before that rule is applied to it by a re-index."""
    document = get_document(session, dataset, document_id)
    upload = session.get(UploadFile, document.upload_file_id) if document.upload_file_id else None
    if upload is None:
        raise InvalidParam("The document has no stored source to preview.")
    with file_storage(settings).local_copy(upload.storage_key) as path:
        return preview_chunks(settings, options, (path, upload.extension, document.name))


def _parts_of(
    settings: Settings, options: ChunkPreviewOptions, path: Path | None, extension: str
) -> list[ExtractedPart]:
    if path is None:
        if not options.text or not options.text.strip():
            raise InvalidParam("text or a file is required.")
        return [ExtractedPart(options.text)]
    try:
        return extract_parts(settings, path, extension)
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
        "context": plan.context,
        "page_start": plan.place.page_start if plan.place else None,
        "page_end": plan.place.page_end if plan.place else None,
        "heading_path": list(plan.place.heading_path) if plan.place else [],
    }
