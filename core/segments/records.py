"""The records of hit-testing and /retrieve, with our additions beside Dify's fields:
each leg's score and rank, and where the query's terms matched."""

import time

from core.search.service import SearchOutcome, SegmentResult
from core.segments.views import describe_place, describe_segment
from retrieval.tokenizer import term_spans


def describe_outcome(query: str, outcome: SearchOutcome) -> dict:
    """The hit-testing response: Dify's `query` and `records`, then our `query_terms` and `timings_ms`
    (the search's stages, and `rendering`: building these records, matched words included)."""
    started = time.perf_counter()
    records = describe_records(outcome.results, outcome.query_terms)
    rendering = round((time.perf_counter() - started) * 1000, 2)
    return {
        "query": {"content": query},
        "records": records,
        "query_terms": outcome.query_terms,
        "timings_ms": outcome.timings.as_dict() | {"rendering": rendering},
    }


def describe_records(results: list[SegmentResult], query_terms: list[str]) -> list[dict]:
    terms = set(query_terms)
    return [
        {
            "segment": _segment(result),
            "child_chunks": [
                {
                    "id": chunk.id,
                    "content": chunk.content,
                    "position": chunk.position,
                    "score": score,
                    "highlights": _spans(chunk.content, terms),
                }
                for chunk, score in sorted(result.child_chunks, key=lambda item: -item[1])
            ],  # fmt: skip
            "score": result.score,
            "tsne_position": None,
            "files": [],
            "summary": None,
            "score_details": dict(vars(result.legs)),  # plain numbers: asdict copies deeply, far slower
            **describe_place(result.segment),
            **_matches(result, terms),
        }
        for result in results
    ]


def _matches(result: SegmentResult, terms: set[str]) -> dict:
    content, answer = result.segment.content, result.segment.answer
    spans = {"content": _spans(content, terms), "answer": _spans(answer, terms) if answer else []}
    words = [content[start:end] for start, end in spans["content"]]
    words += [answer[start:end] for start, end in spans["answer"]] if answer else []
    return {"highlights": spans, "matched_terms": sorted({word.lower() for word in words})}


def _spans(text: str, terms: set[str]) -> list[list[int]]:
    return [[start, end] for start, end in term_spans(text, terms)] if terms else []


# Fields of the segment API's object that a hit-testing record's segment does not carry.
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
