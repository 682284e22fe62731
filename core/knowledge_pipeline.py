"""Dify's knowledge-pipeline calls over the service's one pipeline (extract, clean, chunk, embed,
index) and its built-in sources.

A dataset offers four datasource nodes: `local_file` (files sent to the pipeline upload), `notion`
(online documents), and `firecrawl` and `jinareader` (website crawls). Running a node lists what it can
read (Notion's pages, or a crawl's pages with their text); running the pipeline makes documents of
the chosen items in one batch and queues them for indexing, as the document routes do. Progress is
read back from the database, so a stream works the same with the embedded worker and with Celery.
"""

import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.api_keys.service import Caller
from core.database import session_scope
from core.datasets.models import Dataset
from core.datasources.models import DataSourceCredential
from core.datasources.service import Provider
from core.documents import service as documents
from core.documents.lookup import reachable_upload
from core.documents.models import DataSourceType, Document, IndexingStatus
from core.documents.schemas import DocumentOptions
from core.documents.service import NewFile
from core.documents.uploads import StoredFile
from core.errors import InvalidParam, NotFound, PipelineRunError
from core.online_sources import service as online_sources
from core.online_sources.models import CrawlJob, CrawlPage
from core.online_sources.service import RUNNING
from etl.crawlers import CrawlOptions

LOCAL_FILE, ONLINE_DOCUMENT, WEBSITE_CRAWL = "local_file", "online_document", "website_crawl"
POLL_SECONDS = 0.5
PING_SECONDS = 10
# A blocking run waits this long for a Notion import to be read; a stream ends after STREAM_SECONDS.
NOTION_WAIT_SECONDS = 600
STREAM_SECONDS = 3600


def _variable(name: str, kind: str, label: str, default: Any = None, required: bool = False) -> dict:
    return {"variable": name, "type": kind, "label": label, "default": default, "required": required}


CRAWL_VARIABLES = (
    _variable("url", "text-input", "Start URL", required=True),
    _variable("crawl_sub_pages", "checkbox", "Crawl sub-pages", True),
    _variable("limit", "number", "Page limit", 10),
    _variable("max_depth", "number", "Maximum depth"),
    _variable("includes", "text-input", "Paths to include (comma-separated)"),
    _variable("excludes", "text-input", "Paths to exclude (comma-separated)"),
    _variable("only_main_content", "checkbox", "Main content only", True),
)


@dataclass(frozen=True)
class SourceNode:
    node_id: str
    datasource_type: str
    document_type: str
    title: str
    provider: Provider | None = None
    variables: tuple[dict, ...] = ()


NODES = {
    node.node_id: node
    for node in (
        SourceNode("local_file", LOCAL_FILE, DataSourceType.UPLOAD_FILE, "File upload"),
        SourceNode("notion", ONLINE_DOCUMENT, DataSourceType.NOTION_IMPORT, "Notion", Provider.NOTION),
        SourceNode(
            "firecrawl", WEBSITE_CRAWL, DataSourceType.WEBSITE_CRAWL, "Firecrawl", Provider.FIRECRAWL,
            CRAWL_VARIABLES,
        ),
        SourceNode(
            "jinareader", WEBSITE_CRAWL, DataSourceType.WEBSITE_CRAWL, "Jina Reader", Provider.JINA,
            CRAWL_VARIABLES,
        ),
    )
}  # fmt: skip


class NodeRunBody(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    inputs: dict[str, Any] = Field(default_factory=dict)
    """The node's input variables (see its `user_input_variables`): a crawl's `url`, `limit`, ..."""
    datasource_type: Literal["local_file", "online_document", "website_crawl", "online_drive"]
    """Must be the node's own type."""
    credential_id: str | None = Field(default=None, max_length=36)
    """One of the node's `credentials`; the workspace's saved ones when absent."""
    is_published: bool = True
    """Accepted for Dify's clients: the published and the draft pipeline are the same."""


class PipelineRunBody(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    inputs: dict[str, Any] = Field(default_factory=dict)
    """The document options of create-by-text (indexing_technique, process_rule, doc_form,
    doc_language, ...), the dataset's own where absent; `include_child_pages` for Notion."""
    datasource_type: Literal["local_file", "online_document", "website_crawl", "online_drive"]
    """The start node's type; online_drive is not a built-in source."""
    datasource_info_list: list[dict[str, Any]] = Field(min_length=1, max_length=100)
    """local_file: `{reference (or related_id): an upload id, name?}`; online_document: `{page:
    {page_id, type: page|database}}` as the notion node lists them; website_crawl: `{source_url,
    content, title?, description?}` as a crawl node returns them."""
    start_node_id: str = Field(max_length=64)
    """local_file, notion, firecrawl or jinareader."""
    is_published: bool = True
    response_mode: Literal["streaming", "blocking"] = "blocking"


class _LocalFileItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reference: str | None = Field(default=None, max_length=36)
    related_id: str | None = Field(default=None, max_length=36)
    name: str | None = Field(default=None, min_length=1, max_length=255)


class _NotionPage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    page_id: str = Field(min_length=1, max_length=64)
    type: Literal["page", "database"] = "page"


class _OnlineDocumentItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    page: _NotionPage


class _WebsiteItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    source_url: str = Field(min_length=1, max_length=2048)
    content: str = Field(min_length=1)
    title: str | None = None
    description: str | None = None


def datasource_plugins(session: Session, caller: Caller, dataset: Dataset) -> list[dict]:
    """The nodes the dataset can take documents from: all four until its first document fixes its
    source type."""
    saved = dict(
        session.execute(
            select(DataSourceCredential.provider, DataSourceCredential.id).where(
                DataSourceCredential.workspace_id == caller.workspace.id
            )
        ).all()
    )
    return [
        {
            "node_id": node.node_id,
            "plugin_id": f"builtin/{node.node_id}",
            "provider_name": node.node_id,
            "datasource_type": node.datasource_type,
            "title": node.title,
            "user_input_variables": list(node.variables),
            "credentials": [
                {"id": saved[node.provider], "name": node.title, "type": "api-key", "is_default": True}
            ]
            if node.provider in saved
            else [],
        }
        for node in NODES.values()
        if dataset.data_source_type in (None, node.document_type)
    ]


def run_datasource_node(
    session: Session, caller: Caller, dataset: Dataset, node_id: str, body: NodeRunBody
) -> Iterator[dict]:
    """Checks the request now (a clear 400 or 404), then streams the node's events."""
    node = _node(node_id, body.datasource_type)
    _check_credential(session, caller, node, body.credential_id)
    started = time.monotonic()
    if node.datasource_type == LOCAL_FILE:
        raise InvalidParam(
            "The local_file node reads nothing by itself: upload files with POST "
            "/v1/datasets/pipeline/file-upload and pass their ids to the pipeline run."
        )
    if node.datasource_type == ONLINE_DOCUMENT:
        pages = online_sources.list_notion_sources(session, caller)
        return iter([_completed([_notion_workspace(pages)], started, total=len(pages))])
    job = online_sources.start_crawl(
        session, caller, dataset, node.provider, _crawl_url(body.inputs), _crawl_options(body.inputs)
    )
    return _crawl_events(job.id, started)


def _node(node_id: str, datasource_type: str) -> SourceNode:
    node = NODES.get(node_id)
    if node is None:
        raise NotFound(f"Datasource node not found: {node_id}. The nodes are {', '.join(NODES)}.")
    if datasource_type != node.datasource_type:
        raise InvalidParam(f"The {node_id} node is a {node.datasource_type} node, not {datasource_type}.")
    return node


def _check_credential(session: Session, caller: Caller, node: SourceNode, credential_id: str | None) -> None:
    if credential_id is None or node.provider is None:
        return
    row = session.get(DataSourceCredential, credential_id)
    if row is None or row.workspace_id != caller.workspace.id or row.provider != node.provider:
        raise InvalidParam(f"credential_id is not a {node.provider} credential of this workspace.")


def _crawl_url(inputs: dict) -> str:
    url = inputs.get("url")
    if not isinstance(url, str) or not url.strip():
        raise InvalidParam("inputs.url is required: the page to start crawling from.")
    return url.strip()


def _crawl_options(inputs: dict) -> CrawlOptions:
    def paths(name: str) -> tuple[str, ...]:
        value = inputs.get(name) or ()
        items = value.split(",") if isinstance(value, str) else value
        return tuple(str(item).strip() for item in items if str(item).strip())

    try:
        return CrawlOptions(
            crawl_sub_pages=bool(inputs.get("crawl_sub_pages", True)),
            limit=_bounded_int(inputs.get("limit", 10), "limit", 1, 1000),
            max_depth=None
            if inputs.get("max_depth") in (None, "")
            else _bounded_int(inputs["max_depth"], "max_depth", 0, 100),
            includes=paths("includes"),
            excludes=paths("excludes"),
            only_main_content=bool(inputs.get("only_main_content", True)),
        )
    except (TypeError, ValueError):
        raise InvalidParam("inputs.includes and inputs.excludes must be strings or lists.") from None


def _bounded_int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidParam(f"inputs.{name} must be a whole number from {low} to {high}.")
    try:
        number = int(value)
    except ValueError:
        raise InvalidParam(f"inputs.{name} must be a whole number from {low} to {high}.") from None
    if not low <= number <= high:
        raise InvalidParam(f"inputs.{name} must be a whole number from {low} to {high}.")
    return number


def _notion_workspace(pages: list[dict]) -> dict:
    return {
        "workspace_id": "notion",
        "workspace_name": "Notion",
        "workspace_icon": None,
        "total": len(pages),
        "pages": [
            {
                "page_id": page["id"],
                "page_name": page["title"],
                "page_icon": None,
                "type": page["type"],
                "parent_id": (page.get("parent") or {}).get("page_id")
                or (page.get("parent") or {}).get("database_id"),
                "last_edited_time": page.get("last_edited_time"),
            }
            for page in pages
        ],
    }


def _completed(data: list, started: float, *, total: int) -> dict:
    elapsed = round(time.monotonic() - started, 3)
    return {"event": "datasource_completed", "data": data, "total": total, "completed": total,
            "time_consuming": elapsed}  # fmt: skip


def _crawl_events(job_id: str, started: float) -> Iterator[dict]:
    """Progress while the worker crawls, then every page read with its text."""
    last, last_sent = None, time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        with session_scope() as session:
            job = session.get(CrawlJob, job_id)
            described = online_sources.describe_job(session, job)
            if job.status != RUNNING:
                yield _crawl_result(session, job, described, started)
                return
        progress = (described["total"], described["completed"])
        if progress != last or time.monotonic() - last_sent > PING_SECONDS:
            yield {"event": "datasource_processing", "total": progress[0], "completed": progress[1]}
            last, last_sent = progress, time.monotonic()
        time.sleep(POLL_SECONDS)
    yield {"event": "datasource_error", "error": "The crawl did not finish in time; it goes on in the "
           f"background as job {job_id}."}  # fmt: skip


def _crawl_result(session: Session, job: CrawlJob, described: dict, started: float) -> dict:
    if job.status != online_sources.COMPLETED:
        return {"event": "datasource_error", "error": job.error or "The crawl failed."}
    pages = session.scalars(
        select(CrawlPage)
        .where(CrawlPage.job_id == job.id, CrawlPage.status == online_sources.DONE)
        .order_by(CrawlPage.created_at)
    ).all()
    data = [{"source_url": page.url, "title": page.title, "description": page.description,
             "content": page.markdown} for page in pages]  # fmt: skip
    return _completed(data, started, total=described["total"]) | {"completed": len(data)}


@dataclass
class PipelineRun:
    """What a run made: its documents now, or a Notion import whose documents come when it is read."""

    dataset_id: str
    batch: str | None
    document_ids: list[str]
    notion_job_id: str | None = None
    error: str | None = None  # why the Notion import failed


def run_pipeline(session: Session, caller: Caller, dataset: Dataset, body: PipelineRunBody) -> PipelineRun:
    node = _node(body.start_node_id, body.datasource_type)
    options = _document_options(session, dataset, body.inputs)
    items = body.datasource_info_list
    if node.datasource_type == ONLINE_DOCUMENT:
        pages = [_item(_OnlineDocumentItem, item, index).page for index, item in enumerate(items)]
        include_children = bool(body.inputs.get("include_child_pages", False))
        job = online_sources.start_notion_import(
            session, caller, dataset, [{"id": page.page_id, "type": page.type} for page in pages],
            include_children, options,
        )  # fmt: skip
        return PipelineRun(dataset.id, None, [], job.id)
    batch = documents.new_batch_id()
    if node.datasource_type == LOCAL_FILE:
        sources = [_uploaded_file(session, caller, _item(_LocalFileItem, item, index), index)
                   for index, item in enumerate(items)]  # fmt: skip
        made = [documents.create_document(session, caller, dataset, options, source, batch=batch)[0]
                for source in sources]  # fmt: skip
    else:
        made = [_website_document(session, caller, dataset, options, node, _item(_WebsiteItem, item, index),
                                  batch) for index, item in enumerate(items)]  # fmt: skip
    return PipelineRun(dataset.id, batch, [document.id for document in made])


def _document_options(session: Session, dataset: Dataset, inputs: dict) -> DocumentOptions:
    """The pipeline's input variables are the document options; a new dataset gets high quality."""
    defaults = {"indexing_technique": dataset.indexing_technique or "high_quality",
                "doc_form": documents.dataset_doc_form(session, dataset) or "text_model"}  # fmt: skip
    return _item(DocumentOptions, defaults | inputs, None)


def _item(schema: type[BaseModel], data: dict, index: int | None) -> Any:
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(["inputs" if index is None else f"datasource_info_list[{index}]",
                          *(str(part) for part in first["loc"])])  # fmt: skip
        raise InvalidParam(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None


def _uploaded_file(session: Session, caller: Caller, item: _LocalFileItem, index: int) -> NewFile:
    upload_id = item.reference or item.related_id
    if not upload_id:
        raise InvalidParam(
            f"datasource_info_list[{index}].reference is required: the id the pipeline file upload returned."
        )
    upload = reachable_upload(session, caller, upload_id)
    if upload is None:
        raise NotFound(f"datasource_info_list[{index}]: uploaded file not found.")
    return NewFile(
        stored=StoredFile(storage_key=upload.storage_key, size=upload.size, sha256=upload.hash),
        name=item.name or upload.name,
        extension=upload.extension,
        mime_type=upload.mime_type,
    )


def _website_document(
    session: Session, caller: Caller, dataset: Dataset, options: DocumentOptions, node: SourceNode,
    item: _WebsiteItem, batch: str,
) -> Document:  # fmt: skip
    info = {"provider": node.provider, "url": item.source_url, "title": item.title,
            "description": item.description, "only_main_content": True}  # fmt: skip
    source = online_sources.markdown_file(item.source_url, item.content)
    document, _ = documents.create_document(
        session, caller, dataset, options, source, source_type=DataSourceType.WEBSITE_CRAWL,
        source_info=info, batch=batch,
    )  # fmt: skip
    return document


def wait_for_notion(run: PipelineRun, deadline: float) -> None:
    """Blocks until the run's Notion import is read, then takes the documents it made."""
    while run.notion_job_id and time.monotonic() < deadline:
        with session_scope() as session:
            job = session.get(CrawlJob, run.notion_job_id)
            if job.status != RUNNING:
                if job.status != online_sources.COMPLETED:
                    raise PipelineRunError(job.error or "The Notion import failed.")
                run.batch = job.options.get("batch")
                run.document_ids = list(session.scalars(select(Document.id).where(
                    Document.dataset_id == run.dataset_id, Document.batch == run.batch)))  # fmt: skip
                run.notion_job_id = None
                return
        time.sleep(POLL_SECONDS)
    if run.notion_job_id:
        raise PipelineRunError(f"The Notion import is still reading; it goes on as job {run.notion_job_id}.")


def describe_run(session: Session, run: PipelineRun) -> dict:
    """Dify's answer to a published run: the batch, the dataset and the documents it made."""
    dataset = session.get(Dataset, run.dataset_id)
    rows = session.scalars(select(Document).where(Document.id.in_(run.document_ids))).all()
    by_id = {document.id: document for document in rows}
    return {
        "batch": run.batch,
        "dataset": {
            "id": dataset.id,
            "name": dataset.name,
            "description": dataset.description,
            "chunk_structure": documents.dataset_doc_form(session, dataset),
        },  # fmt: skip
        "documents": [_describe_document(by_id[id_]) for id_ in run.document_ids if id_ in by_id],
    }


def _describe_document(document: Document) -> dict:
    return {"id": document.id, "position": document.position, "data_source_type": document.data_source_type,
            "data_source_info": document.data_source_info, "name": document.name,
            "indexing_status": document.indexing_status, "error": document.error,
            "enabled": document.enabled}  # fmt: skip


# Workflow nodes of the default pipeline, each the indexing status a document is in while it runs.
STAGES = (
    ("extract", "document-extractor", "Extract text", IndexingStatus.PARSING),
    ("clean", "text-cleaner", "Clean text", IndexingStatus.CLEANING),
    ("chunk", "text-splitter", "Chunk", IndexingStatus.SPLITTING),
    ("index", "knowledge-index", "Embed and index", IndexingStatus.INDEXING),
)
ORDER = {IndexingStatus.WAITING: -1} | {status: index for index, (*_, status) in enumerate(STAGES)}
FINISHED = len(STAGES)


def stream_run(run: PipelineRun, inputs: dict) -> Iterator[dict]:
    """Dify's workflow events for a run: started, a node per stage (started when the first document
    enters it, finished when every document has left it), and finished with the run's documents."""
    started = time.monotonic()
    ids = {"task_id": str(uuid.uuid4()), "workflow_run_id": str(uuid.uuid4())}
    yield ids | {"event": "workflow_started", "data": {"id": ids["workflow_run_id"], "workflow_id": "default",
                 "inputs": inputs, "created_at": int(time.time())}}  # fmt: skip
    if run.notion_job_id:
        yield from _notion_node(run, ids, started)
    if run.error is None:
        yield from _stage_events(run, ids, started)
    yield ids | {"event": "workflow_finished", "data": _finished(run, ids, started)}


def _stage_events(run: PipelineRun, ids: dict, started: float) -> Iterator[dict]:
    stages_started, stages_finished, last_sent = 0, 0, time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        positions = _stage_positions(run)
        if not positions:
            return
        reached, passed = min(max(positions), FINISHED - 1), min(positions)
        for index in range(stages_started, reached + 1):
            yield ids | {"event": "node_started", "data": _node_data(index)}
        for index in range(stages_finished, passed):
            yield ids | {"event": "node_finished",
                         "data": _node_data(index) | {"status": "succeeded"}}  # fmt: skip
            last_sent = time.monotonic()
        stages_started, stages_finished = max(stages_started, reached + 1), max(stages_finished, passed)
        if passed >= FINISHED:
            return
        if time.monotonic() - last_sent > PING_SECONDS:
            yield {"event": "ping"}
            last_sent = time.monotonic()
        time.sleep(POLL_SECONDS)


def _notion_node(run: PipelineRun, ids: dict, started: float) -> Iterator[dict]:
    node = {"id": secrets.token_hex(8), "node_id": "notion", "node_type": "datasource", "title": "Notion",
            "index": 0}  # fmt: skip
    yield ids | {"event": "node_started", "data": node}
    try:
        wait_for_notion(run, started + STREAM_SECONDS)
    except PipelineRunError as error:
        run.error = error.message
        yield ids | {"event": "node_finished", "data": node | {"status": "failed", "error": error.message}}
        return
    yield ids | {"event": "node_finished", "data": node | {"status": "succeeded"}}


def _stage_positions(run: PipelineRun) -> list[int]:
    """Each document's stage; finished ones (completed, error, paused or gone) are past every stage."""
    with session_scope() as session:
        rows = session.execute(
            select(Document.indexing_status, Document.is_paused).where(Document.id.in_(run.document_ids))
        ).all()
    return [FINISHED if paused else ORDER.get(status, FINISHED) for status, paused in rows]


def _node_data(index: int) -> dict:
    node_id, node_type, title, _ = STAGES[index]
    return {"id": f"{node_id}-{index}", "node_id": node_id, "node_type": node_type, "title": title,
            "index": index + 1}  # fmt: skip


def _finished(run: PipelineRun, ids: dict, started: float) -> dict:
    with session_scope() as session:
        outputs = describe_run(session, run) if run.error is None else None
    made = (outputs or {}).get("documents", [])
    errors = [f"{document['name']}: {document['error']}" for document in made if document["error"]]
    if run.error or (made and len(errors) == len(made)):
        status = "failed"
    elif errors or any(document["indexing_status"] != IndexingStatus.COMPLETED for document in made):
        status = "partial-succeeded"
    else:
        status = "succeeded"
    error = run.error or "; ".join(errors) or None
    return {"id": ids["workflow_run_id"], "workflow_id": "default", "status": status, "outputs": outputs,
            "error": error, "elapsed_time": round(time.monotonic() - started, 3),
            "total_steps": FINISHED, "created_at": int(time.time())}  # fmt: skip
