"""Dify's external-knowledge call: `POST /retrieval` with the dataset as knowledge_id.

Errors use the external-knowledge convention `{error_code, error_msg}`: 1001 malformed Authorization
header, 1002 authorization failed, 2001 knowledge base not found, and ours: 3001 (403, with
Retry-After) when the workspace has used up its knowledge request rate limit, 4001 (400) for a body
that is not valid. The key is checked before the body: Dify registers an external knowledge API by
posting an empty body with the key alone, and must see a wrong key as 403.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from api.deps import bearer_token, json_body, with_session
from api.errors import INVALID_JSON, validation_message
from api.rate_limit_headers import remember
from core.api_keys import service as api_keys
from core.datasets import service as datasets
from core.errors import ServiceError
from core.rate_limits import service as rate_limits
from core.rate_limits.service import RateLimited
from core.search import service as search
from core.search.schemas import MetadataFilteringConditions
from core.segments.views import describe_place

router = APIRouter(tags=["external knowledge"])
RATE_LIMITED = 3001
INVALID_BODY = 4001


class RetrievalSetting(BaseModel):
    # Dify sends null for settings an app left unset: the dataset's own top_k, and no threshold.
    top_k: int | None = Field(default=None, ge=1, le=10_000)
    score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class ExternalRetrievalBody(BaseModel):
    knowledge_id: str = Field(max_length=64)
    query: str = Field(max_length=10_000)
    retrieval_setting: RetrievalSetting
    metadata_condition: MetadataFilteringConditions | None = None


class ExternalRecord(BaseModel):
    content: str
    score: float
    title: str
    metadata: dict[str, Any]


class ExternalRetrievalResult(BaseModel):
    records: list[ExternalRecord]


def _external_error(code: int, message: str, status: int, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error_code": code, "error_msg": message}, status_code=status, headers=headers)


BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ExternalRetrievalBody.model_json_schema()}},
    }
}


@router.post("/retrieval", response_model=ExternalRetrievalResult, openapi_extra=BODY)
@router.post("/v1/retrieval", response_model=ExternalRetrievalResult, include_in_schema=False)
async def external_retrieval(request: Request, payload: Annotated[Any, Depends(json_body)]):
    """Dify's external-knowledge call: `knowledge_id` (a dataset id), `query`, `retrieval_setting`
    (`top_k`, `score_threshold`) and an optional `metadata_condition`. The key is checked before the
    body, so Dify's registration probe (an empty body) tells a wrong key (403 1002) from a right one
    (400 4001). Dify's nulls are accepted. Answers `{records: [{content, score, title, metadata}]}`;
    errors come as `{error_code, error_msg}`. Hits are counted on the returned chunks."""
    return await with_session(lambda session: _retrieve(request, session, payload))


def _retrieve(request: Request, session: Session, payload: Any) -> Any:
    """The call's work, in one worker thread (a sync dependency would add a hand-off each)."""
    try:
        token = bearer_token(request)
    except ServiceError:
        return _external_error(1001, "Invalid Authorization header format. Expected 'Bearer <api-key>'.", 403)
    try:
        caller = api_keys.authenticate(session, token)
    except ServiceError:
        return _external_error(1002, "Authorization failed.", 403)
    try:
        remember(request, rate_limits.check_knowledge_request(session, caller.workspace))
    except RateLimited as refusal:
        return _external_error(RATE_LIMITED, refusal.message, refusal.status, refusal.headers)
    if not isinstance(payload, dict):
        return _external_error(INVALID_BODY, INVALID_JSON, 400)
    try:
        body = ExternalRetrievalBody.model_validate(payload)
    except ValidationError as error:
        return _external_error(INVALID_BODY, validation_message(error.errors()), 400)
    try:
        dataset = datasets.get_dataset(session, caller, body.knowledge_id)
    except ServiceError:
        return _external_error(2001, "The knowledge base does not exist.", 404)
    setting = body.retrieval_setting
    stored = search.resolve_retrieval_model(dataset, None)
    model = stored.model_copy(
        update={
            "top_k": setting.top_k or stored.top_k,
            "score_threshold_enabled": bool(setting.score_threshold),
            "score_threshold": setting.score_threshold or 0.0,
            "metadata_filtering_conditions": body.metadata_condition,
        }
    )
    results = search.search_dataset(
        session, dataset, body.query, model, record_as=(caller, "external")
    ).results
    search.count_hits(session, results)
    return {"records": [_record(result) for result in results]}


def _record(result: search.SegmentResult) -> dict:
    segment, document = result.segment, result.document
    content = (
        segment.content if not segment.answer else f"question: {segment.content}\nanswer: {segment.answer}"
    )
    return {
        "content": content,
        "score": result.score,
        "title": document.name,
        "metadata": {
            **(document.doc_metadata or {}),
            "dataset_id": segment.dataset_id,
            "document_id": document.id,
            "document_name": document.name,
            "segment_id": segment.id,
            "segment_position": segment.position,
            **describe_place(segment),
        },
    }
