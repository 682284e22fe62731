"""The Segment and ChildChunk objects of the API."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.database import unix_seconds
from core.datasets.models import DocForm
from core.segments.models import ChildChunk, Segment


def describe_segments(session: Session, doc_form: str, segments: list[Segment]) -> list[dict]:
    """Segments with their child chunks, which only parent-child documents have."""
    children: dict[str, list[ChildChunk]] = {}
    if doc_form == DocForm.HIERARCHICAL and segments:
        for chunk in session.scalars(
            select(ChildChunk)
            .where(ChildChunk.segment_id.in_([segment.id for segment in segments]))
            .order_by(ChildChunk.position)
        ):
            children.setdefault(chunk.segment_id, []).append(chunk)
    return [
        describe_segment(segment)
        | {"child_chunks": [describe_child_chunk(c) for c in children.get(segment.id, [])]}
        for segment in segments
    ]


def describe_segment(segment: Segment) -> dict:
    return {
        "id": segment.id,
        "position": segment.position,
        "document_id": segment.document_id,
        "content": segment.content,
        "sign_content": segment.content,
        "answer": segment.answer,
        "word_count": segment.word_count,
        "tokens": segment.tokens,
        "keywords": segment.keywords,
        "index_node_id": segment.index_node_id,
        "index_node_hash": segment.index_node_hash,
        "hit_count": segment.hit_count,
        "enabled": segment.enabled,
        "disabled_at": unix_seconds(segment.disabled_at),
        "disabled_by": segment.disabled_by,
        "status": segment.status,
        "created_by": segment.created_by,
        "created_at": unix_seconds(segment.created_at),
        "updated_at": unix_seconds(segment.updated_at),
        "updated_by": segment.updated_by,
        "indexing_at": unix_seconds(segment.indexing_at),
        "completed_at": unix_seconds(segment.completed_at),
        "error": segment.error,
        "stopped_at": unix_seconds(segment.stopped_at),
        "child_chunks": [],
        "attachments": [],
        "summary": None,
        **describe_place(segment),
        "context": segment.context,
    }


def describe_place(segment: Segment) -> dict:
    """Ours: where the chunk is in its document (null and [] where the document has no pages or
    headings)."""
    return {
        "page": segment.page_start,
        "page_end": segment.page_end,
        "heading_path": segment.heading_path or [],
    }


def describe_child_chunk(chunk: ChildChunk) -> dict:
    return {
        "id": chunk.id,
        "segment_id": chunk.segment_id,
        "content": chunk.content,
        "position": chunk.position,
        "word_count": chunk.word_count,
        "type": chunk.type,
        "created_at": unix_seconds(chunk.created_at),
        "updated_at": unix_seconds(chunk.updated_at),
    }
