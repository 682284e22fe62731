"""Online sources: website crawls (Firecrawl, Jina Reader), Notion imports, and their documents.

Reading a source is a job: the API records it and a worker task runs it, storing each page it reads
(as Markdown) or fails to read (with the reason), so progress is visible while it runs and one failed
page never stops the others. Pages become `website_crawl` documents when chosen, and `notion_import`
documents as soon as a Notion job ends; their text is the stored Markdown. A sync reads the page again
and re-indexes it only when the text changed.
"""

import re
import time

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from core.api_keys.service import Caller
from core.database import existing, session_scope, utcnow
from core.datasets.models import Dataset
from core.datasources import service as datasources
from core.datasources.service import Credentials, Provider
from core.documents import service as documents
from core.documents.models import DataSourceType, Document
from core.documents.schemas import DocumentOptions
from core.documents.service import NewFile
from core.errors import InvalidParam, NotFound
from core.files.uploads import store_bytes
from core.metadata import service as metadata
from core.metadata.service import MetadataValue
from core.online_sources.clients import job_budget, open_client
from core.online_sources.models import CrawlJob, CrawlPage
from core.outbound import check_outbound_url, outbound_transport
from core.queue import READ_SOURCE_TASK, enqueue_after_commit
from core.settings import get_settings
from core.workspaces.models import Account, Workspace
from etl.crawlers import CrawledPage, CrawlOptions
from etl.crawlers.jina import MAX_SITEMAP_BYTES, sitemap_urls
from etl.notion import NotionPage, page_title
from retrieval.http_client import ApiError, RequestBudget, read_at_most

CRAWL_PROVIDERS = (Provider.FIRECRAWL, Provider.JINA)
RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
DONE = "done"
SITEMAP_TIMEOUT_SECONDS = 30


def start_crawl(
    session: Session, caller: Caller, dataset: Dataset, provider: str | None, url: str, options: CrawlOptions
) -> CrawlJob:
    if provider not in CRAWL_PROVIDERS:
        raise InvalidParam(f"provider must be one of {', '.join(CRAWL_PROVIDERS)}.")
    _check_source_type(dataset, DataSourceType.WEBSITE_CRAWL, "website pages")
    check_outbound_url(url, get_settings())
    datasources.load_credentials(session, caller.workspace.id, provider)  # a clear error now, not later
    job = CrawlJob(
        workspace_id=caller.workspace.id,
        dataset_id=dataset.id,
        provider=provider,
        url=url,
        options=options.__dict__ | {"includes": list(options.includes), "excludes": list(options.excludes)},
        created_by=caller.account.id,
    )
    return _queue(session, job)


def start_notion_import(
    session: Session, caller: Caller, dataset: Dataset, items: list[dict], include_child_pages: bool,
    options: DocumentOptions,
) -> CrawlJob:  # fmt: skip
    """`items`: [{"id", "type": "page" | "database"}]. The pages read are imported when the job ends."""
    _check_source_type(dataset, DataSourceType.NOTION_IMPORT, "Notion pages")
    datasources.load_credentials(session, caller.workspace.id, Provider.NOTION)
    job = CrawlJob(
        workspace_id=caller.workspace.id,
        dataset_id=dataset.id,
        provider=Provider.NOTION,
        url="notion",
        options={
            "items": items,
            "include_child_pages": include_child_pages,
            "document_options": options.model_dump(mode="json", exclude_unset=True),
        },  # fmt: skip
        total=len(items),
        created_by=caller.account.id,
    )
    return _queue(session, job)


def _check_source_type(dataset: Dataset, source_type: str, what: str) -> None:
    if dataset.data_source_type not in (None, source_type):
        raise InvalidParam(f"This dataset takes {dataset.data_source_type} documents only, not {what}.")


def _queue(session: Session, job: CrawlJob) -> CrawlJob:
    """Records the job and has a worker run it once the row is committed."""
    session.add(job)
    session.flush()
    enqueue_after_commit(session, READ_SOURCE_TASK, job.id)
    session.commit()
    return job


def list_notion_sources(session: Session, caller: Caller) -> list[dict]:
    """The pages and databases the workspace's Notion integration can see."""
    credentials = datasources.load_credentials(session, caller.workspace.id, Provider.NOTION)
    try:
        with open_client(credentials) as client:
            found = [(item, "page") for item in client.search("page")] + [
                (item, "database") for item in client.search("database")
            ]
    except ApiError as error:
        raise InvalidParam(str(error)) from None
    return [{"id": item["id"], "type": kind, "title": page_title(item), "url": item.get("url"),
             "parent": item.get("parent"), "last_edited_time": item.get("last_edited_time")}
            for item, kind in found]  # fmt: skip


def get_job(session: Session, dataset: Dataset, job_id: str) -> CrawlJob:
    job = session.scalar(select(CrawlJob).where(CrawlJob.id == job_id, CrawlJob.dataset_id == dataset.id))
    if job is None:
        raise NotFound("Crawl job not found.")
    return job


def describe_job(session: Session, job: CrawlJob) -> dict:
    # Polled while the job runs: the pages' Markdown is not needed here.
    pages = session.scalars(
        select(CrawlPage)
        .where(CrawlPage.job_id == job.id)
        .order_by(CrawlPage.created_at)
        .options(defer(CrawlPage.markdown))
    ).all()
    done = [page for page in pages if page.status == DONE]
    return {
        "id": job.id,
        "provider": job.provider,
        "url": job.url,
        "status": job.status,
        "error": job.error,
        "batch": job.options.get("batch"),
        "total": max(job.total, len(pages)),
        "completed": len(done),
        "failed": len(pages) - len(done),
        "pages": [
            {
                "url": page.url,
                "title": page.title,
                "description": page.description,
                "status": page.status,
                "error": page.error,
            }
            for page in pages
        ],
    }


def run_job(job_id: str) -> None:
    """The worker task. Idempotent: a finished job is left alone, a re-run keeps the pages it has."""
    with session_scope() as session:
        job = session.get(CrawlJob, job_id)
        if job is None or job.status != RUNNING:
            return
        try:
            credentials = datasources.load_credentials(session, job.workspace_id, job.provider)
            RUNNERS[Provider(job.provider)](session, job, credentials, job_budget())
            job.status = COMPLETED
        except (ApiError, InvalidParam, NotFound) as error:
            session.rollback()
            job.status, job.error = FAILED, str(error)
        job.finished_at = utcnow()
        session.commit()


def _crawl_options(job: CrawlJob) -> CrawlOptions:
    options = job.options
    return CrawlOptions(
        **options | {"includes": tuple(options["includes"]), "excludes": tuple(options["excludes"])}
    )


def _crawl_with_firecrawl(
    session: Session, job: CrawlJob, credentials: Credentials, budget: RequestBudget
) -> None:
    options = _crawl_options(job)
    with open_client(credentials, budget) as client:
        if not options.crawl_sub_pages:
            job.total = 1
            _store_page(session, job, client.scrape(job.url, options.only_main_content))
            return
        job.provider_job_id = job.provider_job_id or client.start_crawl(job.url, options)
        session.commit()
        while True:
            status = client.crawl_status(job.provider_job_id, max_pages=options.limit)
            job.total = status.total
            for page in status.pages:
                _store_page(session, job, page)
            if status.finished:
                break
            time.sleep(get_settings().crawl_poll_interval)
        for failure in client.crawl_errors(job.provider_job_id):
            _store_failure(session, job, failure.url, failure.error)
        if status.status != "completed":
            raise ApiError(f"The Firecrawl crawl ended as {status.status}.")


def _crawl_with_jina(
    session: Session, job: CrawlJob, credentials: Credentials, budget: RequestBudget
) -> None:
    options = _crawl_options(job)
    with open_client(credentials, budget) as reader:
        urls = sitemap_urls(job.url, options.limit, _fetch_public) if options.crawl_sub_pages else [job.url]
        job.total = len(urls)
        session.commit()
        for url in urls:
            try:
                _store_page(session, job, reader.read(url))
            except ApiError as error:
                if error.status in (401, 403):
                    raise  # the key is wrong: every other page would fail the same way
                _store_failure(session, job, url, str(error))


def _import_from_notion(
    session: Session, job: CrawlJob, credentials: Credentials, budget: RequestBudget
) -> None:
    """Reads the chosen pages (and their child pages, when asked) and databases (a page per row), then
    imports every page read as a document, all in one batch."""
    with open_client(credentials, budget) as client:
        pending = [(item["id"], item["type"]) for item in job.options["items"]]
        seen: set[str] = set()
        while pending:
            item_id, kind = pending.pop(0)
            if item_id in seen:
                continue
            seen.add(item_id)
            try:
                pages = client.database_rows(item_id) if kind == "database" else [client.page(item_id)]
            except ApiError as error:
                if error.status == 401:
                    raise  # the token is wrong: every other page would fail the same way
                _store_failure(session, job, item_id, str(error))
                continue
            for page in pages:
                _store_page(
                    session, job, CrawledPage(page.url, page.title, page.text), _notion_info(page, kind)
                )
                if kind == "page" and job.options.get("include_child_pages"):
                    pending += [(child_id, "page") for child_id in page.child_page_ids]
            job.total = _pages_stored(session, job) + len(pending)
            session.commit()
    _import_everything_read(session, job)


def _notion_info(page: NotionPage, kind: str) -> dict:
    info = {"notion_page_id": page.id, "type": "database_row" if kind == "database" else "page",
            "last_edited_time": page.last_edited_time}  # fmt: skip
    return info | ({"properties": page.properties} if kind == "database" else {})


def _import_everything_read(session: Session, job: CrawlJob) -> None:
    dataset = existing(session, Dataset, job.dataset_id)
    caller = owner_caller(session, job.workspace_id, job.created_by)
    options = DocumentOptions.model_validate(job.options["document_options"])
    created, batch = import_pages(session, caller, dataset, job, None, options)
    rows = [
        (doc, info["properties"]) for doc in created if "properties" in (info := doc.data_source_info or {})
    ]
    apply_row_properties(session, caller, dataset, rows)
    job.options = {**job.options, "batch": batch}


def owner_caller(session: Session, workspace_id: str, account_id: str) -> Caller:
    """Work the worker does on behalf of the account that asked for it."""
    workspace, account = existing(session, Workspace, workspace_id), existing(session, Account, account_id)
    return Caller(workspace=workspace, account=account, api_key_id="")


def apply_row_properties(
    session: Session, caller: Caller, dataset: Dataset, rows: list[tuple[Document, dict[str, str]]]
) -> None:
    """Database-row properties become metadata of their documents, so retrieval filters can use them:
    a string field per property, created when missing (a property whose name normalises to a built-in
    field's stays in `data_source_info` only)."""
    if not rows:
        return
    fields = {field.name: field for field, _ in metadata.list_fields(session, dataset)}
    operations = []
    for document, properties in rows:
        values = []
        for prop, value in properties.items():
            name = re.sub(r"[^a-z0-9_]+", "_", prop.lower()).strip("_") or "property"
            if name not in fields:
                try:
                    fields[name] = metadata.create_field(session, caller, dataset, "string", name)
                except InvalidParam:
                    continue
            if value and fields[name].type == "string":
                values.append(MetadataValue(fields[name].id, name, value))
        operations.append((document.id, values, True))
    metadata.update_documents_metadata(session, caller, dataset, operations)


RUNNERS = {
    Provider.FIRECRAWL: _crawl_with_firecrawl,
    Provider.JINA: _crawl_with_jina,
    Provider.NOTION: _import_from_notion,
}


def _fetch_public(url: str) -> bytes:
    """The sitemap is fetched by us, through the outbound check (its URL must be public or
    allow-listed); redirects are not followed, and reading stops past the sitemap size limit."""
    transport = outbound_transport(get_settings())
    try:
        with (
            httpx.Client(transport=transport, timeout=SITEMAP_TIMEOUT_SECONDS) as http,
            http.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise ApiError(f"The sitemap {url} answered {response.status_code}.", response.status_code)
            return read_at_most(response, MAX_SITEMAP_BYTES)  # the sitemap parser names the limit
    except httpx.HTTPError as error:
        raise ApiError(f"The sitemap {url} could not be read: {error}") from error


def _store_page(session: Session, job: CrawlJob, page: CrawledPage, info: dict | None = None) -> None:
    if not page.markdown.strip():
        _store_failure(session, job, page.url, "The page has no text.")
        return
    row = _page_row(session, job, page.url)
    row.status, row.title, row.description, row.markdown, row.info, row.error = (
        DONE, page.title[:2000], page.description[:2000], page.markdown, info, None
    )  # fmt: skip
    session.commit()


def _store_failure(session: Session, job: CrawlJob, url: str, error: str) -> None:
    row = _page_row(session, job, url)
    if row.status != DONE:  # a page read on a retry stays read
        row.status, row.error = FAILED, error[:2000]
    session.commit()


def _pages_stored(session: Session, job: CrawlJob) -> int:
    return session.scalar(select(func.count(CrawlPage.id)).where(CrawlPage.job_id == job.id)) or 0


def _page_row(session: Session, job: CrawlJob, url: str) -> CrawlPage:
    row = session.scalar(select(CrawlPage).where(CrawlPage.job_id == job.id, CrawlPage.url == url))
    if row is None:
        row = CrawlPage(job_id=job.id, url=url[:2048], status=FAILED)
        session.add(row)
    return row


def import_pages(
    session: Session,
    caller: Caller,
    dataset: Dataset,
    job: CrawlJob,
    urls: list[str] | None,
    options: DocumentOptions,
) -> tuple[list[Document], str]:
    """Makes documents of the job's read pages (all, or those in `urls`), in one batch. Documents are
    named by the page's URL, which no other page shares; the title goes into `data_source_info`."""
    query = select(CrawlPage).where(CrawlPage.job_id == job.id, CrawlPage.status == DONE)
    if urls is not None:
        query = query.where(CrawlPage.url.in_(urls))
    pages = session.scalars(query.order_by(CrawlPage.created_at)).all()
    if not pages:
        raise InvalidParam("None of the chosen pages was read by this job.")
    source_type = (
        DataSourceType.NOTION_IMPORT if job.provider == Provider.NOTION else DataSourceType.WEBSITE_CRAWL
    )
    batch = documents.new_batch_id()
    created = []
    for page in pages:
        info = (page.info or {}) | {
            "provider": job.provider,
            "url": page.url,
            "title": page.title,
            "job_id": job.id,
        }
        if source_type == DataSourceType.WEBSITE_CRAWL:
            info["only_main_content"] = job.options.get("only_main_content", True)
        document, _ = documents.create_document(
            session, caller, dataset, options, markdown_file(page.url, page.markdown or ""),
            source_type=source_type, source_info=info, batch=batch,
        )  # fmt: skip
        created.append(document)
    return created, batch


def markdown_file(url: str, markdown: str) -> NewFile:
    stored = store_bytes(get_settings(), markdown.encode(), "md")
    return NewFile(stored=stored, name=url[:255], extension="md", mime_type="text/markdown")
