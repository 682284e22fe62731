"""The knowledge pipeline's operations over the service's one pipeline (extract, clean, chunk, embed,
index) and its built-in sources.

A dataset offers four datasource nodes: `local_file` (files sent to the pipeline upload), `notion`
(online documents), and `firecrawl` and `jinareader` (website crawls). Reading a node lists what it can
read (Notion's pages, or a crawl started in the worker); running the pipeline makes documents of the
chosen items in one batch and queues them for indexing, as the document routes do. The API turns
these into Dify's request bodies and event streams (`api/pipeline_events.py`).
"""

import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.api_keys.service import Caller
from core.database import existing, session_scope
from core.datasets.models import Dataset
from core.datasources.models import DataSourceCredential
from core.datasources.service import Provider
from core.documents import service as documents
from core.documents.lookup import reachable_upload
from core.documents.models import DataSourceType, Document, IndexingStatus
from core.documents.schemas import DocumentOptions
from core.documents.service import NewFile
from core.errors import InvalidParam, NotFound, PipelineRunError
from core.files.uploads import StoredFile
from core.online_sources import service as online_sources
from core.online_sources.models import CrawlJob
from core.online_sources.service import RUNNING
from etl.crawlers import CrawlOptions

LOCAL_FILE, ONLINE_DOCUMENT, WEBSITE_CRAWL = "local_file", "online_document", "website_crawl"
POLL_SECONDS = 0.5
# A blocking run waits this long for a Notion import to be read.
NOTION_WAIT_SECONDS = 600


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


@dataclass(frozen=True)
class NodeReading:
    """What reading a node gives: Notion's pages to choose from, or a crawl the worker runs."""

    notion_pages: list[dict] | None = None
    crawl_job_id: str | None = None


def read_node(
    session: Session, caller: Caller, dataset: Dataset, node_id: str, datasource_type: str,
    credential_id: str | None, inputs: dict,
) -> NodeReading:  # fmt: skip
    """Checks the request now (a clear 400 or 404), then lists Notion's pages or starts the crawl."""
    node = _node(node_id, datasource_type)
    _check_credential(session, caller, node, credential_id)
    if node.datasource_type == LOCAL_FILE:
        raise InvalidParam(
            "The local_file node reads nothing by itself: upload files with POST "
            "/v1/datasets/pipeline/file-upload and pass their ids to the pipeline run."
        )
    if node.datasource_type == ONLINE_DOCUMENT:
        return NodeReading(notion_pages=online_sources.list_notion_sources(session, caller))
    job = online_sources.start_crawl(
        session, caller, dataset, node.provider, _crawl_url(inputs), _crawl_options(inputs)
    )
    return NodeReading(crawl_job_id=job.id)


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


@dataclass
class PipelineRun:
    """What a run made: its documents now, or a Notion import whose documents come when it is read."""

    dataset_id: str
    batch: str | None
    document_ids: list[str]
    notion_job_id: str | None = None
    error: str | None = None  # why the Notion import failed


def run_pipeline(
    session: Session, caller: Caller, dataset: Dataset, start_node_id: str, datasource_type: str,
    items: list[dict[str, Any]], inputs: dict,
) -> PipelineRun:  # fmt: skip
    node = _node(start_node_id, datasource_type)
    options = _document_options(session, dataset, inputs)
    if node.datasource_type == ONLINE_DOCUMENT:
        pages = [_item(_OnlineDocumentItem, item, index).page for index, item in enumerate(items)]
        include_children = bool(inputs.get("include_child_pages", False))
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
            job = existing(session, CrawlJob, run.notion_job_id)
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


# The indexing statuses a document goes through, in order: the stages of a run.
STAGE_STATUSES = (
    IndexingStatus.PARSING,
    IndexingStatus.CLEANING,
    IndexingStatus.SPLITTING,
    IndexingStatus.INDEXING,
)
FINISHED = len(STAGE_STATUSES)
ORDER: dict[str, int] = {str(IndexingStatus.WAITING): -1} | {
    status: index for index, status in enumerate(STAGE_STATUSES)
}


def stage_positions(run: PipelineRun) -> list[int]:
    """Each document's stage; finished ones (completed, error, paused or gone) are past every stage."""
    with session_scope() as session:
        rows = session.execute(
            select(Document.indexing_status, Document.is_paused).where(Document.id.in_(run.document_ids))
        ).all()
    return [FINISHED if paused else ORDER.get(status, FINISHED) for status, paused in rows]
