"""Segments maintained through the API: each change reaches the vector store and the
term collections before the request returns, so the next search already sees it."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.api_keys.service import Caller
from core.database import paginate, utcnow
from core.datasets.models import Dataset, DocForm, IndexingTechnique
from core.documents.models import Document, IndexingStatus
from core.errors import InvalidParam, NotFound
from core.index.embedding_cache import text_hash
from core.index.writer import index_segments, remove_from_indexes, remove_nodes
from core.ingestion.process_rules import document_process_rule, segmentation_of
from core.segments.models import ChildChunk, Segment, SegmentStatus, new_child_chunk, new_segment
from core.settings import get_settings
from etl.splitting import Segmentation, split_general
from retrieval.tokenizer import extract_keywords

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class NewSegment:
    content: str
    answer: str | None = None
    keywords: list[str] | None = None


@dataclass(frozen=True)
class SegmentChanges:
    content: str | None = None
    answer: str | None = None
    keywords: list[str] | None = None
    enabled: bool | None = None
    regenerate_child_chunks: bool = False


def get_segment(session: Session, document: Document, segment_id: str) -> Segment:
    segment = session.scalar(
        select(Segment).where(
            Segment.id == segment_id,
            Segment.document_id == document.id,
            Segment.generation <= _live_generation(document),
        )
    )
    if segment is None:
        raise NotFound("Segment not found.")
    return segment


def document_of_segment(session: Session, dataset: Dataset, segment_id: str) -> str:
    """The id of the document a segment of this dataset belongs to (404 for any other segment)."""
    document_id = session.scalar(
        select(Segment.document_id).where(Segment.id == segment_id, Segment.dataset_id == dataset.id)
    )
    if document_id is None:
        raise NotFound("Segment not found.")
    return document_id


def segment_with_neighbours(
    session: Session, document: Document, segment_id: str, around: int
) -> list[Segment]:
    """The segment and up to `around` segments before and after it in its document, in order."""
    segment = get_segment(session, document, segment_id)
    return list(
        session.scalars(
            select(Segment)
            .where(
                Segment.document_id == document.id,
                Segment.generation <= _live_generation(document),
                Segment.position.between(segment.position - around, segment.position + around),
            )
            .order_by(Segment.position)
        )
    )


def list_segments(
    session: Session, document: Document, page: int, limit: int, statuses: list[str], keyword: str | None
) -> tuple[list[Segment], int]:
    # Chunks of a re-index still in progress are not the document's yet.
    query = select(Segment).where(
        Segment.document_id == document.id, Segment.generation <= _live_generation(document)
    )
    if statuses:
        query = query.where(Segment.status.in_(statuses))
    if keyword:
        query = query.where(Segment.content.icontains(keyword, autoescape=True))
    return paginate(session, query, page, min(limit, MAX_PAGE_SIZE), Segment.position)


def _live_generation(document: Document) -> int:
    if document.indexing_status == IndexingStatus.COMPLETED:
        return document.index_generation
    return document.index_generation - 1


def create_segments(
    session: Session, caller: Caller, dataset: Dataset, document: Document, items: list[NewSegment]
) -> list[Segment]:
    _check_can_add(document)
    limit = get_settings().dataset_max_segments_per_request
    if limit and len(items) > limit:
        raise InvalidParam(f"Exceeded maximum segments limit of {limit}.")
    for item in items:
        _check_content(document, item.content, item.answer)
    position = (
        session.scalar(select(func.max(Segment.position)).where(Segment.document_id == document.id)) or 0
    )
    now = utcnow()
    segments = []
    for offset, item in enumerate(items, start=1):
        answer = item.answer if document.doc_form == DocForm.QA else None
        segment = new_segment(
            document, position + offset, item.content, answer, created_by=caller.account.id, at=now,
            keywords=item.keywords, status=SegmentStatus.COMPLETED, enabled=True, completed_at=now,
            generation=document.index_generation,
        )  # fmt: skip
        session.add(segment)
        segments.append(segment)
    session.flush()
    for segment in segments:
        _make_children(session, document, segment, caller)
    _index_or_mark_error(session, dataset, segments)
    _refresh_document_counts(session, document)
    session.commit()
    return segments


def update_segment(
    session: Session,
    caller: Caller,
    dataset: Dataset,
    document: Document,
    segment: Segment,
    changes: SegmentChanges,
) -> Segment:
    if changes.enabled is False:
        _disable(session, dataset, segment, caller)
        session.commit()
        return segment
    if not segment.enabled and changes.enabled is not True:
        raise InvalidParam("Can't update disabled segment")
    if changes.regenerate_child_chunks and dataset.indexing_technique != IndexingTechnique.HIGH_QUALITY:
        raise InvalidParam("The knowledge base index technique is not high quality!")
    content = changes.content if changes.content is not None else segment.content
    answer = changes.answer if changes.answer is not None else segment.answer
    _check_content(document, content, answer)
    content_changed = content != segment.content
    segment.content, segment.answer = content, answer if document.doc_form == DocForm.QA else None
    if changes.keywords is not None:
        segment.keywords = changes.keywords
    elif content_changed and segment.keywords:
        # keywords are searched with the text: the old ones would keep finding the old content
        segment.keywords = extract_keywords(content)
    segment.word_count = _word_count(content, answer, document)
    segment.updated_by = caller.account.id
    segment.enabled, segment.disabled_at, segment.disabled_by = True, None, None
    if content_changed:
        segment.index_node_hash = text_hash(content)
        segment.indexing_at = segment.completed_at = utcnow()
    if document.doc_form == DocForm.HIERARCHICAL and (changes.regenerate_child_chunks or content_changed):
        remove_from_indexes(session, dataset, [segment])
        session.execute(delete(ChildChunk).where(ChildChunk.segment_id == segment.id))
        _make_children(session, document, segment, caller)
    session.flush()
    _index_or_mark_error(session, dataset, [segment])
    _refresh_document_counts(session, document)
    session.commit()
    return segment


def delete_segment(session: Session, dataset: Dataset, document: Document, segment: Segment) -> None:
    remove_from_indexes(session, dataset, [segment])
    session.delete(segment)
    session.flush()
    _refresh_document_counts(session, document)
    session.commit()


def _disable(session: Session, dataset: Dataset, segment: Segment, caller: Caller) -> None:
    if segment.enabled:
        remove_from_indexes(session, dataset, [segment])
        segment.enabled, segment.disabled_at, segment.disabled_by = False, utcnow(), caller.account.id


def _check_can_add(document: Document) -> None:
    if document.indexing_status != IndexingStatus.COMPLETED:
        raise NotFound("Document is not completed.")
    if not document.enabled:
        raise NotFound("Document is disabled.")


def _check_content(document: Document, content: str, answer: str | None) -> None:
    if not content or not content.strip():
        raise InvalidParam("Content is empty")
    if document.doc_form == DocForm.QA and (not answer or not answer.strip()):
        raise InvalidParam("Answer is required")


def _word_count(content: str, answer: str | None, document: Document) -> int:
    return len(content) + (len(answer or "") if document.doc_form == DocForm.QA else 0)


def _make_children(session: Session, document: Document, segment: Segment, caller: Caller) -> None:
    """Child chunks of a parent-child document's segment, split by the document's own rule."""
    if document.doc_form != DocForm.HIERARCHICAL:
        return
    rule = document_process_rule(session, document)
    rules = (rule.rules or {}) if rule else {}
    child = segmentation_of(rules.get("subchunk_segmentation")) or Segmentation()
    now = utcnow()
    for position, content in enumerate(split_general(segment.content, child), start=1):
        session.add(new_child_chunk(segment, position, content, created_by=caller.account.id, at=now,
                                    completed_at=now))  # fmt: skip
    session.flush()


def _index_or_mark_error(session: Session, dataset: Dataset, segments: list[Segment]) -> None:
    """As Dify: a segment that cannot be indexed is kept, disabled, with status `error` and the reason."""
    try:
        index_segments(session, dataset, segments)
    except Exception as error:  # noqa: BLE001 - recorded on the segments, the request still succeeds
        logger.warning("indexing segments failed: %s", error, exc_info=error)
        now = utcnow()
        for segment in segments:
            segment.enabled, segment.status, segment.error, segment.stopped_at = (
                False,
                SegmentStatus.ERROR,
                str(error),
                now,
            )
        remove_from_indexes(session, dataset, segments)


def _refresh_document_counts(session: Session, document: Document) -> None:
    totals = session.execute(
        select(
            func.coalesce(func.sum(Segment.word_count), 0), func.coalesce(func.sum(Segment.tokens), 0)
        ).where(
            Segment.document_id == document.id,
            Segment.status.in_((SegmentStatus.COMPLETED, SegmentStatus.ERROR)),
        )
    ).one()
    document.word_count, document.tokens = totals


def get_child_chunk(session: Session, segment: Segment, chunk_id: str) -> ChildChunk:
    chunk = session.scalar(
        select(ChildChunk).where(ChildChunk.id == chunk_id, ChildChunk.segment_id == segment.id)
    )
    if chunk is None:
        raise NotFound("Child chunk not found.")
    return chunk


def list_child_chunks(
    session: Session, segment: Segment, page: int, limit: int, keyword: str | None
) -> tuple[list[ChildChunk], int]:
    query = select(ChildChunk).where(ChildChunk.segment_id == segment.id)
    if keyword:
        query = query.where(ChildChunk.content.icontains(keyword, autoescape=True))
    return paginate(session, query, page, limit, ChildChunk.position)


def create_child_chunk(
    session: Session, caller: Caller, dataset: Dataset, segment: Segment, content: str
) -> ChildChunk:
    _check_child_content(content)
    position = session.scalar(
        select(func.max(ChildChunk.position)).where(ChildChunk.segment_id == segment.id)
    )
    now = utcnow()
    chunk = new_child_chunk(segment, (position or 0) + 1, content, created_by=caller.account.id, at=now,
                            type="customized", completed_at=now)  # fmt: skip
    session.add(chunk)
    _reindex_segment(session, dataset, segment)
    return chunk


def update_child_chunk(
    session: Session, caller: Caller, dataset: Dataset, segment: Segment, chunk: ChildChunk, content: str
) -> ChildChunk:
    _check_child_content(content)
    chunk.content, chunk.word_count, chunk.index_node_hash = content, len(content), text_hash(content)
    chunk.type, chunk.updated_by = "customized", caller.account.id
    _reindex_segment(session, dataset, segment)
    return chunk


def delete_child_chunk(session: Session, dataset: Dataset, segment: Segment, chunk: ChildChunk) -> None:
    session.delete(chunk)
    _reindex_segment(session, dataset, segment, gone=[chunk.index_node_id])


def _check_child_content(content: str) -> None:
    if not content or not content.strip():
        raise InvalidParam("Content is empty")


def _reindex_segment(session: Session, dataset: Dataset, segment: Segment, gone: Sequence[str] = ()) -> None:
    """A segment's child chunks are indexed in its stead, so any change to them re-indexes the segment
    (unchanged texts come from the embedding cache; same ids overwrite) and takes out what no longer
    stands for it. Unlike segment edits, a failure fails the request."""
    session.flush()
    try:
        if segment.enabled:
            index_segments(session, dataset, [segment])
        has_children = session.scalar(
            select(ChildChunk.id).where(ChildChunk.segment_id == segment.id).limit(1)
        )
        gone = [*gone, segment.index_node_id] if has_children else list(gone)
        remove_nodes(session, dataset, gone, {segment.document_id})
    except Exception as error:  # noqa: BLE001 - reported to the caller as Dify does
        session.rollback()
        raise InvalidParam(f"Vector store operation failed: {error}") from error
    session.commit()
