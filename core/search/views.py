"""The records of hit-testing and /retrieve (contract 1.6)."""

from core.database import unix_seconds
from core.search.service import SegmentResult


def describe_records(results: list[SegmentResult]) -> list[dict]:
    return [
        {
            "segment": _segment(result),
            "child_chunks": [
                {"id": chunk.id, "content": chunk.content, "position": chunk.position, "score": score}
                for chunk, score in sorted(result.child_chunks, key=lambda item: -item[1])
            ],
            "score": result.score,
            "tsne_position": None,
            "files": [],
            "summary": None,
        }
        for result in results
    ]


def _segment(result: SegmentResult) -> dict:
    segment, document = result.segment, result.document
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
        "indexing_at": unix_seconds(segment.indexing_at),
        "completed_at": unix_seconds(segment.completed_at),
        "error": segment.error,
        "stopped_at": unix_seconds(segment.stopped_at),
        "document": {
            "id": document.id,
            "data_source_type": document.data_source_type,
            "name": document.name,
            "doc_type": document.doc_type,
            "doc_metadata": document.doc_metadata,
        },
    }
