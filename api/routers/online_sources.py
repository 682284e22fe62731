"""Ours: website crawls through Firecrawl or Jina Reader and Notion imports, their pages as documents,
and syncing online documents with their source."""

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import KNOWLEDGE_REQUEST, CallerDep, DatasetDep, SessionDep, parse_uuid
from api.schemas.documents import ResultOut
from core.documents import views
from core.documents.schemas import DocumentOptions
from core.online_sources import service as online_sources
from core.online_sources import sync as online_sync
from etl.crawlers import CrawlOptions

router = APIRouter(prefix="/datasets/{dataset_id}", tags=["website"])


class CrawlOptionsBody(BaseModel):
    crawl_sub_pages: bool = True
    limit: int = Field(default=10, ge=1, le=1000)
    max_depth: int | None = Field(default=None, ge=0, le=100)
    includes: list[str] = Field(default_factory=list, max_length=100)
    excludes: list[str] = Field(default_factory=list, max_length=100)
    only_main_content: bool = True


class CrawlBody(BaseModel):
    provider: str = Field(max_length=32, description="firecrawl or jinareader")
    url: str = Field(min_length=1, max_length=2048)
    options: CrawlOptionsBody = Field(default_factory=CrawlOptionsBody)


class ImportBody(DocumentOptions):
    job_id: str = Field(max_length=36)
    urls: list[str] | None = Field(
        default=None, max_length=1000, description="pages to import; all when absent"
    )


class NotionItem(BaseModel):
    id: str = Field(max_length=64)
    type: Literal["page", "database"]


class NotionImportBody(DocumentOptions):
    items: list[NotionItem] = Field(min_length=1, max_length=1000)
    include_child_pages: bool = False


class SyncScheduleBody(BaseModel):
    interval_minutes: int | None = Field(
        description="sync every this many minutes (5 to 10080); null: only on request"
    )


class SyncBody(BaseModel):
    document_ids: list[str] = Field(min_length=1, max_length=100)


@router.post("/website/crawl", dependencies=[KNOWLEDGE_REQUEST])
def start_crawl(body: CrawlBody, dataset: DatasetDep, caller: CallerDep, session: SessionDep) -> dict:
    """Ours: starts a crawl job through `firecrawl` or `jinareader` (the workspace's saved credentials)
    from `url` with `options` (crawl_sub_pages, limit, max_depth, includes, excludes,
    only_main_content). The worker reads the pages; poll the job."""
    given = body.options.model_dump()
    options = CrawlOptions(
        **given | {"includes": tuple(given["includes"]), "excludes": tuple(given["excludes"])}
    )
    job = online_sources.start_crawl(session, caller, dataset, body.provider, body.url, options)
    return online_sources.describe_job(session, job)


@router.get("/website/crawl/{job_id}")
def get_crawl(job_id: str, dataset: DatasetDep, session: SessionDep) -> dict:
    """Ours: a crawl job's status (running, completed, failed), error, counts, and every page with its
    status and error."""
    return online_sources.describe_job(session, online_sources.get_job(session, dataset, parse_uuid(job_id)))


@router.post("/website/import", dependencies=[KNOWLEDGE_REQUEST])
def import_pages(body: ImportBody, dataset: DatasetDep, caller: CallerDep, session: SessionDep) -> dict:
    """Ours: makes `website_crawl` documents of a job's read pages (all, or `urls`), in one batch, with the
    options of create-by-text."""
    job = online_sources.get_job(session, dataset, parse_uuid(body.job_id))
    created, batch = online_sources.import_pages(session, caller, dataset, job, body.urls, body)
    return {"documents": views.describe_documents(session, dataset, created), "batch": batch}


@router.post("/notion/import", dependencies=[KNOWLEDGE_REQUEST])
def import_notion(
    body: NotionImportBody, dataset: DatasetDep, caller: CallerDep, session: SessionDep
) -> dict:
    """Ours: imports Notion `items` (`{id, type: page|database}`; child pages too with
    `include_child_pages`) with the options of create-by-text. A job reads them; its pages become
    `notion_import` documents in one batch when it ends."""
    items = [item.model_dump() for item in body.items]
    options = DocumentOptions.model_validate(
        body.model_dump(exclude={"items", "include_child_pages"}, exclude_unset=True)
    )
    job = online_sources.start_notion_import(
        session, caller, dataset, items, body.include_child_pages, options
    )
    return online_sources.describe_job(session, job)


@router.get("/notion/import/{job_id}")
def get_notion_import(job_id: str, dataset: DatasetDep, session: SessionDep) -> dict:
    """Ours: a Notion import job's status, counts, pages and, once done, its documents' `batch`."""
    return online_sources.describe_job(session, online_sources.get_job(session, dataset, parse_uuid(job_id)))


@router.post("/documents/{document_id}/sync", response_model=ResultOut, dependencies=[KNOWLEDGE_REQUEST])
def sync_document(document_id: str, dataset: DatasetDep, session: SessionDep) -> dict:
    """Ours: reads an online document (website or Notion) again and re-indexes it if its text changed."""
    online_sync.queue_sync(session, dataset, [parse_uuid(document_id)])
    return {"result": "success"}


@router.post("/documents/sync", response_model=ResultOut, dependencies=[KNOWLEDGE_REQUEST])
def sync_documents(body: SyncBody, dataset: DatasetDep, session: SessionDep) -> dict:
    """Ours: syncs the online documents `document_ids` (1 to 100)."""
    online_sync.queue_sync(session, dataset, [parse_uuid(document_id) for document_id in body.document_ids])
    return {"result": "success"}


@router.get("/sync-schedule")
def get_sync_schedule(dataset: DatasetDep) -> dict:
    """Ours: how often the dataset's online documents are synced (`interval_minutes`, null for on request
    only) and when they last were."""
    return online_sync.describe_sync_schedule(dataset)


@router.put("/sync-schedule", dependencies=[KNOWLEDGE_REQUEST])
def set_sync_schedule(body: SyncScheduleBody, dataset: DatasetDep, session: SessionDep) -> dict:
    """Ours: sets `interval_minutes` (5 to 10080, or null) between periodic syncs of the dataset's online
    documents."""
    online_sync.set_sync_schedule(session, dataset, body.interval_minutes)
    return online_sync.describe_sync_schedule(dataset)
