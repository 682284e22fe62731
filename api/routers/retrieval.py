"""Hit-testing and /retrieve."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.deps import (
    KNOWLEDGE_REQUEST,
    CallerDep,
    DatasetDep,
    RouteJson,
    SessionDep,
    on_dataset,
    parse_uuid,
    validated,
)
from api.fast_json import FastJSONResponse
from core.api_keys.service import Caller
from core.datasets import service as dataset_service
from core.datasets.models import Dataset
from core.queries import service as queries
from core.search import legs
from core.search import service as search
from core.search.schemas import ExternalRetrievalModel, RetrievalModel
from core.segments.records import describe_outcome, describe_records

router = APIRouter(prefix="/datasets/{dataset_id}", tags=["retrieval"])


class HitTestingBody(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    query: str | None = Field(default=None, max_length=search.MAX_QUERY_LENGTH)
    """The search text: at most 250 characters for hit-testing, 10,000 for /retrieve (a longer one is
    refused with a message saying so)."""
    retrieval_model: RetrievalModel | None = None
    """This search's settings; the dataset's default when absent."""
    external_retrieval_model: ExternalRetrievalModel | None = None
    attachment_ids: list[str] | None = Field(default=None, max_length=10)
    """Accepted for Dify's clients; images are not searched."""


class HitTestingResult(BaseModel):
    query: dict[str, str]
    records: list[dict[str, Any]] = Field(
        description="Dify's records; ours adds to each `score_details` (vector_score, vector_rank, "
        "keyword_score, keyword_rank, vector_probability, keyword_probability, retrieval_score, "
        "rerank_score), `highlights` ({content, answer}: [start, end] code-point offsets of "
        "matched words) and `matched_terms`"
    )
    query_terms: list[str] = Field(description="ours: the index terms of the query (stemmed, CJK-segmented)")
    timings_ms: dict[str, float] | None = Field(
        default=None,
        description="ours: milliseconds per stage (query_embedding, vector_search, keyword_search, "
        "fusion, rerank, total; then rendering)",
    )


# The request body's schema: the routes read it themselves, after the key (`validated`).
BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": HitTestingBody.model_json_schema()}},
    }
}


@router.post("/hit-testing", response_model=HitTestingResult, openapi_extra=BODY)
async def hit_testing(dataset_id: str, request: Request, payload: RouteJson) -> FastJSONResponse:
    """Searches the dataset: `query` (at most 250 characters) and an optional `retrieval_model` (search
    method, top_k, score threshold, reranking or weights, metadata filter), which wins over the
    dataset's own. Answers the records with their scores (probabilities of relevance, or the rerank
    model's), each leg's score, rank and probability (`score_details`), the matched words
    (`highlights`, `matched_terms`), the query's terms and the time per stage (`timings_ms`). The
    query is logged; hit counts do not move."""

    def work(session: Session, caller: Caller, dataset: Dataset) -> FastJSONResponse:
        body = validated(HitTestingBody, payload)
        search.check_query(body.query, search.HIT_TESTING_QUERY_LENGTH)
        return _search(body, dataset, caller, session)

    return await on_dataset(request, dataset_id, work, counted=True)


@router.post("/retrieve", response_model=HitTestingResult, openapi_extra=BODY)
async def retrieve(dataset_id: str, request: Request, payload: RouteJson) -> FastJSONResponse:
    """Hit-testing for programs: the same search and answer, for a query of up to 10,000 characters
    (an app's whole question: the vector leg embeds what the model reads of it, BM25 scores every
    term)."""

    def work(session: Session, caller: Caller, dataset: Dataset) -> FastJSONResponse:
        return _search(validated(HitTestingBody, payload), dataset, caller, session)

    return await on_dataset(request, dataset_id, work, counted=True)


def _search(body: HitTestingBody, dataset: Dataset, caller: Caller, session: Session) -> FastJSONResponse:
    """The answer, rendered here: the records are plain JSON values already, and FastAPI's check of
    them against `HitTestingResult` (which only documents them) cost about half a millisecond of each
    search, holding the interpreter lock."""
    model = search.resolve_retrieval_model(dataset, body.retrieval_model)
    outcome = search.search_dataset(session, dataset, body.query, model, record_as=(caller, "hit_testing"))
    return FastJSONResponse(describe_outcome(body.query or "", outcome))  # a search refuses an empty query


@router.get("/queries")
def list_queries(
    dataset: DatasetDep,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict:
    """Ours: the dataset's logged queries (hit-testing, app retrieval, external `/retrieval`), newest
    first, with their settings; `page` and `limit`."""
    rows, total = queries.list_queries(session, dataset.id, page=page, limit=limit)
    return {"data": rows, "has_more": page * limit < total, "limit": limit, "total": total, "page": page}


multi_router = APIRouter(tags=["retrieval"])
MAX_DATASETS_PER_QUERY = 20


class MultiRetrievalBody(BaseModel):
    dataset_ids: list[str] = Field(min_length=1, max_length=MAX_DATASETS_PER_QUERY)
    query: str = Field(max_length=search.MAX_QUERY_LENGTH)
    retrieval_model: RetrievalModel | None = None


@multi_router.post("/retrieval/multi", response_model=HitTestingResult, dependencies=[KNOWLEDGE_REQUEST])
def retrieve_from_datasets(body: MultiRetrievalBody, caller: CallerDep, session: SessionDep) -> dict:
    """Ours: Dify's multi-path recall over several datasets of the workspace, merged into one list."""
    datasets = [
        dataset_service.get_dataset(session, caller, parse_uuid(dataset_id))
        for dataset_id in dict.fromkeys(body.dataset_ids)
    ]
    pairs = search.search_datasets(session, caller, datasets, body.query, body.retrieval_model)
    terms = legs.query_terms(body.query)
    records = describe_records([result for _, result in pairs], terms)
    for record, (dataset, _) in zip(records, pairs, strict=True):
        record["dataset"] = {"id": dataset.id, "name": dataset.name}
    return {"query": {"content": body.query}, "records": records, "query_terms": terms}
