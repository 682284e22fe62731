"""Hit-testing and /retrieve (contract 1.6)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import CallerDep, DatasetDep, SessionDep
from core.datasets.schemas import ExternalRetrievalModel, RetrievalModel
from core.queries import service as queries
from core.search import service as search
from core.search.views import describe_records

router = APIRouter(prefix="/datasets/{dataset_id}", tags=["retrieval"])


class HitTestingBody(BaseModel):
    query: str | None = Field(default=None, max_length=10_000)
    retrieval_model: RetrievalModel | None = None
    external_retrieval_model: ExternalRetrievalModel | None = None
    attachment_ids: list[str] | None = Field(default=None, max_length=10)


class HitTestingResult(BaseModel):
    query: dict[str, str]
    records: list[dict[str, Any]]


@router.post("/hit-testing", response_model=HitTestingResult)
@router.post("/retrieve", response_model=HitTestingResult)
def hit_testing(body: HitTestingBody, dataset: DatasetDep, caller: CallerDep, session: SessionDep) -> dict:
    model = search.resolve_retrieval_model(dataset, body.retrieval_model)
    results = search.search_dataset(session, dataset, body.query, model, record_as=(caller, "hit_testing"))
    return {"query": {"content": body.query}, "records": describe_records(results)}


@router.get("/queries")
def list_queries(
    dataset: DatasetDep,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict:
    rows, total = queries.list_queries(session, dataset.id, page=page, limit=limit)
    return {"data": rows, "has_more": page * limit < total, "limit": limit, "total": total, "page": page}
