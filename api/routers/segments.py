"""Segment routes. Updates are POST, as in Dify."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from api.deps import KNOWLEDGE_REQUEST, CallerDep, DatasetDep, SessionDep, parse_uuid
from api.errors import validation_message
from core.documents import service as documents
from core.documents.models import Document
from core.errors import ArchivedDocumentImmutable
from core.segments import service as segments
from core.segments.views import describe_child_chunk, describe_segments

router = APIRouter(prefix="/datasets/{dataset_id}/documents/{document_id}/segments", tags=["segments"])

DEFAULT_PAGE_SIZE = 20
TEXT_LIMIT = 1_000_000


class NewSegmentBody(BaseModel):
    content: str = Field(max_length=TEXT_LIMIT)
    answer: str | None = Field(default=None, max_length=TEXT_LIMIT)
    keywords: list[Annotated[str, Field(max_length=255)]] | None = Field(default=None, max_length=100)
    attachment_ids: list[str] | None = Field(default=None, max_length=10)


class CreateSegmentsBody(BaseModel):
    segments: list[NewSegmentBody] = Field(min_length=1)


class SegmentChangesBody(BaseModel):
    content: str | None = Field(default=None, max_length=TEXT_LIMIT)
    answer: str | None = Field(default=None, max_length=TEXT_LIMIT)
    keywords: list[Annotated[str, Field(max_length=255)]] | None = Field(default=None, max_length=100)
    enabled: bool | None = None
    regenerate_child_chunks: bool = False
    attachment_ids: list[str] | None = Field(default=None, max_length=10)
    summary: str | None = None


class UpdateSegmentBody(BaseModel):
    segment: SegmentChangesBody


def _document(session, dataset, document_id: str, *, editing: bool = False) -> Document:
    document = documents.get_document(session, dataset, parse_uuid(document_id))
    if editing and document.archived:
        raise ArchivedDocumentImmutable()
    return document


def _one(session, document: Document, segment) -> dict:
    return {
        "data": describe_segments(session, document.doc_form, [segment])[0],
        "doc_form": document.doc_form,
    }


# The body is parsed by hand (for Dify's error shape); the schema is still published.
CREATE_BODY = {
    "requestBody": {"content": {"application/json": {"schema": CreateSegmentsBody.model_json_schema()}}}
}


@router.post("", openapi_extra=CREATE_BODY, dependencies=[KNOWLEDGE_REQUEST])
def create_segments(
    document_id: str,
    dataset: DatasetDep,
    caller: CallerDep,
    session: SessionDep,
    body: Annotated[Any, Body()] = None,
):
    """Adds chunks to a finished document: `segments` is a list of `{content, answer (Q&A documents),
    keywords}`. Each chunk is embedded and indexed before the answer; one that cannot be embedded stays
    disabled with status `error`. Body errors come in Dify's bare `{"error": …}` shape."""
    # Dify answers body errors of this route with a bare {"error": ...} instead of the usual envelope.
    if not isinstance(body, dict) or "segments" not in body:
        return JSONResponse({"error": "Segments is required"}, status_code=400)
    try:
        parsed = CreateSegmentsBody.model_validate(body)
    except ValidationError as error:  # one readable sentence, in Dify's shape for this route
        return JSONResponse({"error": validation_message(error.errors())}, status_code=400)
    document = _document(session, dataset, document_id, editing=True)
    items = [segments.NewSegment(item.content, item.answer, item.keywords) for item in parsed.segments]
    created = segments.create_segments(session, caller, dataset, document, items)
    return {"data": describe_segments(session, document.doc_form, created), "doc_form": document.doc_form}


@router.get("")
def list_segments(document_id: str, request: Request, dataset: DatasetDep, session: SessionDep) -> dict:
    """The document's chunks by position: `page`, `limit` (at most 100), repeatable `status` (completed,
    indexing, error, waiting, re_segment) and `keyword` (case-insensitive substring of the content)."""
    document = _document(session, dataset, document_id)
    params = request.query_params
    page = _positive_int(params.get("page"), 1)
    limit = min(_positive_int(params.get("limit"), DEFAULT_PAGE_SIZE), segments.MAX_PAGE_SIZE)
    statuses = [status for status in params.getlist("status") if status]
    found, total = segments.list_segments(session, document, page, limit, statuses, params.get("keyword"))
    return {
        "data": describe_segments(session, document.doc_form, found),
        "doc_form": document.doc_form,
        "total": total,
        "has_more": len(found) == limit,
        "limit": limit,
        "page": page,
    }


def _positive_int(value: str | None, default: int) -> int:
    """Malformed or out-of-range numbers fall back to the default, as Dify's list does."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if 1 <= number <= 1_000_000 else default


@router.get("/{segment_id}")
def get_segment(document_id: str, segment_id: str, dataset: DatasetDep, session: SessionDep) -> dict:
    """One chunk with its keywords, counts, state and (parent-child documents) child chunks."""
    document = _document(session, dataset, document_id)
    return _one(session, document, segments.get_segment(session, document, parse_uuid(segment_id)))


@router.post("/{segment_id}", dependencies=[KNOWLEDGE_REQUEST])
def update_segment(
    document_id: str,
    segment_id: str,
    body: UpdateSegmentBody,
    dataset: DatasetDep,
    caller: CallerDep,
    session: SessionDep,
) -> dict:
    """Changes a chunk (`segment`: `content`, `answer`, `keywords`, `enabled`, `regenerate_child_chunks`).
    New content without `keywords` gets keywords extracted from it; the change is searchable when the
    call returns."""
    document = _document(session, dataset, document_id, editing=True)
    segment = segments.get_segment(session, document, parse_uuid(segment_id))
    change = body.segment
    changes = segments.SegmentChanges(
        change.content, change.answer, change.keywords, change.enabled, change.regenerate_child_chunks
    )
    segment = segments.update_segment(session, caller, dataset, document, segment, changes)
    return _one(session, document, segment)


@router.delete("/{segment_id}", status_code=204, dependencies=[KNOWLEDGE_REQUEST])
def delete_segment(document_id: str, segment_id: str, dataset: DatasetDep, session: SessionDep) -> Response:
    """Deletes a chunk and removes it from the search engine before the answer."""
    document = _document(session, dataset, document_id, editing=True)
    segment = segments.get_segment(session, document, parse_uuid(segment_id))
    segments.delete_segment(session, dataset, document, segment)
    return Response(status_code=204)


class ChildChunkBody(BaseModel):
    content: str = Field(max_length=TEXT_LIMIT)


def _segment(session, dataset, document_id: str, segment_id: str, *, editing: bool = False):
    document = _document(session, dataset, document_id, editing=editing)
    return segments.get_segment(session, document, parse_uuid(segment_id))


@router.post("/{segment_id}/child_chunks", dependencies=[KNOWLEDGE_REQUEST])
def create_child_chunk(
    document_id: str,
    segment_id: str,
    body: ChildChunkBody,
    dataset: DatasetDep,
    caller: CallerDep,
    session: SessionDep,
) -> dict:
    """Adds a child chunk (`content`) to a parent chunk of a parent-child document; the parent is
    re-indexed."""
    segment = _segment(session, dataset, document_id, segment_id, editing=True)
    return {
        "data": describe_child_chunk(
            segments.create_child_chunk(session, caller, dataset, segment, body.content)
        )
    }


@router.get("/{segment_id}/child_chunks")
def list_child_chunks(
    document_id: str, segment_id: str, request: Request, dataset: DatasetDep, session: SessionDep
) -> dict:
    """A parent chunk's child chunks: `page`, `limit` (at most 100), `keyword`; paged with `total_pages`."""
    segment = _segment(session, dataset, document_id, segment_id)
    params = request.query_params
    page = _positive_int(params.get("page"), 1)
    limit = min(_positive_int(params.get("limit"), DEFAULT_PAGE_SIZE), segments.MAX_PAGE_SIZE)
    chunks, total = segments.list_child_chunks(session, segment, page, limit, params.get("keyword"))
    return {
        "data": [describe_child_chunk(chunk) for chunk in chunks],
        "total": total,
        "total_pages": (total + limit - 1) // limit,
        "page": page,
        "limit": limit,
    }


@router.patch("/{segment_id}/child_chunks/{child_chunk_id}", dependencies=[KNOWLEDGE_REQUEST])
def update_child_chunk(
    document_id: str,
    segment_id: str,
    child_chunk_id: str,
    body: ChildChunkBody,
    dataset: DatasetDep,
    caller: CallerDep,
    session: SessionDep,
) -> dict:
    """Changes a child chunk's `content`; the parent is re-indexed."""
    segment = _segment(session, dataset, document_id, segment_id, editing=True)
    chunk = segments.get_child_chunk(session, segment, parse_uuid(child_chunk_id))
    return {
        "data": describe_child_chunk(
            segments.update_child_chunk(session, caller, dataset, segment, chunk, body.content)
        )
    }


@router.delete(
    "/{segment_id}/child_chunks/{child_chunk_id}", status_code=204, dependencies=[KNOWLEDGE_REQUEST]
)
def delete_child_chunk(
    document_id: str, segment_id: str, child_chunk_id: str, dataset: DatasetDep, session: SessionDep
) -> Response:
    """Deletes a child chunk; the parent is re-indexed."""
    segment = _segment(session, dataset, document_id, segment_id, editing=True)
    chunk = segments.get_child_chunk(session, segment, parse_uuid(child_chunk_id))
    segments.delete_child_chunk(session, dataset, segment, chunk)
    return Response(status_code=204)
