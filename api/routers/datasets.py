from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import KNOWLEDGE_REQUEST, CallerDep, DatasetDep, SessionDep
from api.schemas.datasets import DatasetOut, DatasetPage, DatasetTags
from core.datasets import service as datasets
from core.datasets import views
from core.datasets.schemas import DatasetCreate, DatasetUpdate
from core.tags import service as tags

router = APIRouter(prefix="/datasets", tags=["datasets"])


@router.post(
    "", response_model=DatasetOut, response_model_exclude_unset=True, dependencies=[KNOWLEDGE_REQUEST]
)
def create_dataset(body: DatasetCreate, caller: CallerDep, session: SessionDep) -> dict:
    """An empty dataset. Only `name` is required (unique in the workspace, else 409
    `dataset_name_duplicate`); `indexing_technique`, the embedding model, `retrieval_model`,
    `permission` and `description` may be set now or are fixed by the first document."""
    dataset = datasets.create_dataset(session, caller, body)
    return views.describe_dataset(session, dataset)


@router.get("", response_model=DatasetPage, response_model_exclude_unset=True)
def list_datasets(
    caller: CallerDep,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 20,
    keyword: Annotated[str | None, Query(max_length=255)] = None,
    tag_ids: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006 - FastAPI copies defaults
    include_all: bool = False,
) -> dict:
    """The workspace's datasets, newest first: `page`, `limit` (at most 100; the capped value is echoed),
    `keyword` (case-insensitive substring of the name), repeatable `tag_ids` (datasets bound to any of
    them) and `include_all` (an owner sees every dataset, private ones included)."""
    limit = min(limit, datasets.MAX_PAGE_SIZE)
    rows, total = datasets.list_datasets(
        session, caller, page=page, limit=limit, keyword=keyword, tag_ids=tag_ids, include_all=include_all
    )
    return {
        "data": views.describe_datasets(session, rows),
        "has_more": page * limit < total,
        "limit": limit,
        "total": total,
        "page": page,
    }


@router.get("/{dataset_id}", response_model=DatasetOut, response_model_exclude_unset=True)
def get_dataset(dataset: DatasetDep, session: SessionDep) -> dict:
    """One dataset with its document and word counts, index and retrieval settings, tags and metadata
    fields."""
    return views.describe_dataset(session, dataset)


@router.patch(
    "/{dataset_id}",
    response_model=DatasetOut,
    response_model_exclude_unset=True,
    dependencies=[KNOWLEDGE_REQUEST],
)
def update_dataset(body: DatasetUpdate, dataset: DatasetDep, caller: CallerDep, session: SessionDep) -> dict:
    """Changes only the fields given. A new `indexing_technique` or `embedding_model` rebuilds the index in
    the background while searches go on with the old one; the answer includes `partial_member_list`."""
    dataset = datasets.update_dataset(session, caller, dataset, body)
    view = views.describe_dataset(session, dataset, with_members=True)
    return view


@router.delete("/{dataset_id}", status_code=204, dependencies=[KNOWLEDGE_REQUEST])
def delete_dataset(dataset: DatasetDep, session: SessionDep) -> Response:
    """Deletes the dataset with its documents, chunks, files and search collections. 409
    `dataset_indexing_in_progress` while any of its documents is being indexed."""
    datasets.delete_dataset(session, dataset)
    return Response(status_code=204)


@router.get("/{dataset_id}/tags", response_model=DatasetTags)
def list_dataset_tags(dataset: DatasetDep, session: SessionDep) -> dict:
    """The knowledge tags bound to the dataset (`data`: id and name of each) and their `total`."""
    bound = tags.tags_by_dataset(session, [dataset.id]).get(dataset.id, [])
    return {"data": [{"id": tag.id, "name": tag.name} for tag in bound], "total": len(bound)}
