"""The records of hit-testing and /retrieve (contract 1.6)."""

from core.search.service import SegmentResult
from core.segments.views import describe_segment


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


# Fields of the segment API's object that a hit-testing record's segment does not carry (contract 1.6).
NOT_IN_RECORDS = ("updated_at", "updated_by", "child_chunks", "attachments", "summary")


def _segment(result: SegmentResult) -> dict:
    segment, document = result.segment, result.document
    fields = describe_segment(segment)
    return {
        **{key: value for key, value in fields.items() if key not in NOT_IN_RECORDS},
        "document": {
            "id": document.id,
            "data_source_type": document.data_source_type,
            "name": document.name,
            "doc_type": document.doc_type,
            "doc_metadata": document.doc_metadata,
        },
    }
