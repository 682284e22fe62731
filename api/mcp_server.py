"""The Model Context Protocol server at `/mcp`, for agent clients (Claude Desktop, Cursor, VS Code,
Dify's MCP tool): the official `mcp` SDK over streamable HTTP, served by `kb serve` itself.

It opens the same doors as the REST API. A request without a valid bearer key is refused (401, in the
API's error shape) before the protocol sees it; each tool acts as that key's caller, so a
dataset-scoped key sees and searches only its datasets; a search counts against the workspace's
knowledge request limit and is recorded with source `mcp`; searches run through the same function as
hit-testing, so the same settings give the same records and scores. The server keeps no session
state between requests (stateless mode, JSON answers), so any API process can answer any request.
"""

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, Literal, TypeVar

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import bearer_token_of, public_base_url
from api.errors import error_response, validation_message
from core import logs
from core.api_keys import service as api_keys
from core.api_keys.service import Caller
from core.database import open_session
from core.datasets import service as datasets
from core.datasets.models import Dataset
from core.documents import service as documents
from core.documents.lookup import get_document
from core.errors import ServiceError
from core.rate_limits import service as rate_limits
from core.search import service as search
from core.search.schemas import RetrievalModel
from core.segments import service as segments
from core.segments.views import describe_place

logger = logging.getLogger(__name__)
T = TypeVar("T")
PATH = "/mcp"
MAX_DATASETS = 100
INSTRUCTIONS = (
    "A knowledge base of the caller's datasets (documents split into chunks, searched by meaning and by "
    "words). Call list_datasets to see what each dataset holds, then retrieve with a question; read a "
    "hit's neighbouring chunks with read_segment when more context is needed."
)
SearchMethod = Literal["hybrid_search", "semantic_search", "full_text_search", "keyword_search"]


async def list_datasets(ctx: Context) -> dict[str, Any]:
    """List the datasets this key can search: id, name, description, how many documents, and the
    names of a few of them, to choose the datasets a question is about."""
    return await _as_caller(ctx, "list_datasets", _datasets)


async def retrieve(
    ctx: Context,
    query: str,
    dataset_ids: list[str] | None = None,
    top_k: int = 5,
    search_method: SearchMethod = "hybrid_search",
    metadata_filter: dict[str, Any] | None = None,
    score_threshold: float | None = None,
) -> dict[str, Any]:
    """Search the knowledge base for the passages that answer a question. Give the question in natural
    language (`query`); `dataset_ids` limits the search to some datasets (all this key can see when left
    out). Returns the best `top_k` passages, best first, each with its score (the estimated probability,
    0 to 1, that it is relevant), its document, page and section heading where known, and a link to it
    in the admin UI. `search_method`: hybrid_search (meaning and words, the default), semantic_search
    (meaning), full_text_search (words). `metadata_filter` keeps documents whose metadata match, as
    {"logical_operator": "and", "conditions": [{"name": "year", "comparison_operator": "=", "value":
    "2023"}]}. `score_threshold` drops passages scoring below it (0.5: keep what is more likely
    relevant than not)."""
    settings = {
        "search_method": search_method,
        "top_k": top_k,
        "reranking_enable": False,
        "score_threshold_enabled": score_threshold is not None,
        "score_threshold": score_threshold,
        "metadata_filtering_conditions": metadata_filter,
    }
    base_url = _base_url(ctx)
    work = partial(_retrieve, query=query, dataset_ids=dataset_ids, settings=settings, base_url=base_url)
    return await _as_caller(ctx, "retrieve", work)


async def list_documents(
    ctx: Context, dataset_id: str, keyword: str | None = None, page: int = 1, limit: int = 20
) -> dict[str, Any]:
    """List the documents of one dataset (id, name, status, words), newest first; `keyword` keeps
    those whose name contains it."""
    work = partial(_documents, dataset_id=dataset_id, keyword=keyword, page=page, limit=limit)
    return await _as_caller(ctx, "list_documents", work)


async def read_segment(ctx: Context, dataset_id: str, segment_id: str, neighbours: int = 1) -> dict[str, Any]:
    """Read one passage (a segment id from retrieve) with the passages around it in its document:
    `neighbours` before and after (0 to 5), for more context around a hit."""
    work = partial(
        _segment, dataset_id=dataset_id, segment_id=segment_id, neighbours=neighbours, base_url=_base_url(ctx)
    )
    return await _as_caller(ctx, "read_segment", work)


async def _as_caller(ctx: Context, tool: str, work: Callable[[Session, Caller], T]) -> T:
    """Runs `work` off the event loop as the request's key, logged with the request id; the service's
    errors reach the agent with the API's messages."""
    header = (ctx.headers or {}).get("authorization")

    def run() -> T:
        with open_session() as session:
            caller = api_keys.authenticate(session, bearer_token_of(header))
            logs.bind(workspace_id=caller.workspace.id)
            logger.info("mcp tool called", extra={"tool": tool})
            return work(session, caller)

    try:
        return await anyio.to_thread.run_sync(run)
    except ServiceError as error:
        raise ToolError(error.message) from None
    except ValidationError as error:
        raise ToolError(validation_message(error.errors())) from None


def _datasets(session: Session, caller: Caller) -> dict[str, Any]:
    found, total = _visible_datasets(session, caller)
    return {"total": total, "datasets": [_describe_dataset(session, dataset) for dataset in found]}


def _visible_datasets(session: Session, caller: Caller) -> tuple[list[Dataset], int]:
    """The datasets the key may search (up to MAX_DATASETS), as the datasets list shows them."""
    return datasets.list_datasets(
        session, caller, page=1, limit=MAX_DATASETS, keyword=None, tag_ids=[], include_all=False
    )


def _describe_dataset(session: Session, dataset: Dataset) -> dict[str, Any]:
    listed, count = documents.list_documents(session, dataset, page=1, limit=5, keyword=None, status=None)
    return {
        "id": dataset.id,
        "name": dataset.name,
        "description": dataset.description or "",
        "documents": count,
        "some_documents": [document.name for document in listed],
    }


def _retrieve(
    session: Session,
    caller: Caller,
    query: str,
    dataset_ids: list[str] | None,
    settings: dict[str, Any],
    base_url: str,
) -> dict[str, Any]:
    chosen = (
        [datasets.get_dataset(session, caller, dataset_id) for dataset_id in dataset_ids]
        if dataset_ids
        else _visible_datasets(session, caller)[0]
    )
    rate_limits.check_knowledge_request(session, caller.workspace)
    requested = RetrievalModel.model_validate(settings)
    if len(chosen) == 1:
        model = search.resolve_retrieval_model(chosen[0], requested)
        outcome = search.search_dataset(session, chosen[0], query, model, record_as=(caller, "mcp"))
        results = [(chosen[0], result) for result in outcome.results]
    else:
        results = search.search_datasets(session, caller, chosen, query, requested, source="mcp")
    session.commit()
    return {"query": query, "records": [_record(dataset, result, base_url) for dataset, result in results]}


def _record(dataset: Dataset, result: search.SegmentResult, base_url: str) -> dict[str, Any]:
    segment, document = result.segment, result.document
    place = describe_place(segment)
    return {
        "score": result.score,
        "content": segment.content,
        "answer": segment.answer,
        "dataset_id": dataset.id,
        "dataset_name": dataset.name,
        "document_id": document.id,
        "document_name": document.name,
        "segment_id": segment.id,
        "page": place["page"],
        "heading_path": place["heading_path"],
        "link": _segment_link(base_url, dataset.id, segment.document_id, segment.id),
    }


def _documents(
    session: Session, caller: Caller, dataset_id: str, keyword: str | None, page: int, limit: int
) -> dict[str, Any]:
    dataset = datasets.get_dataset(session, caller, dataset_id)
    found, total = documents.list_documents(
        session, dataset, page=page, limit=limit, keyword=keyword, status=None
    )
    return {
        "total": total,
        "page": page,
        "documents": [
            {
                "id": document.id,
                "name": document.name,
                "status": documents.display_status(document),
                "words": document.word_count,
            }
            for document in found
        ],
    }


def _segment(
    session: Session, caller: Caller, dataset_id: str, segment_id: str, neighbours: int, base_url: str
) -> dict[str, Any]:
    dataset = datasets.get_dataset(session, caller, dataset_id)
    document_id = segments.document_of_segment(session, dataset, segment_id)
    document = get_document(session, dataset, document_id)
    around = segments.segment_with_neighbours(session, document, segment_id, max(0, min(neighbours, 5)))
    return {
        "dataset_id": dataset.id,
        "document_id": document.id,
        "document_name": document.name,
        "segments": [
            {
                "id": segment.id,
                "position": segment.position,
                "content": segment.content,
                "answer": segment.answer,
                **describe_place(segment),
                "link": _segment_link(base_url, dataset.id, document.id, segment.id),
                "asked": segment.id == segment_id,
            }
            for segment in around
        ],
    }


def _base_url(ctx: Context) -> str:
    request = ctx.request_context.request
    return public_base_url(request).rstrip("/") if isinstance(request, Request) else ""


def _segment_link(base_url: str, dataset_id: str, document_id: str, segment_id: str) -> str:
    return f"{base_url}/ui/datasets/{dataset_id}/documents/{document_id}?segment={segment_id}"


class KeyRequired:
    """The MCP endpoint's door: a request without a valid key gets the API's 401 before the protocol
    reads it (an MCP client then reports it at `initialize`)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = await anyio.to_thread.run_sync(_refusal, Request(scope).headers.get("authorization"))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _refusal(header: str | None) -> JSONResponse | None:
    try:
        token = bearer_token_of(header)
        with open_session() as session:
            api_keys.authenticate(session, token)
    except ServiceError as error:
        return error_response(error.code, error.message, error.status)
    return None


TOOLS = (list_datasets, retrieve, list_documents, read_segment)


class McpEndpoint:
    """One API app's MCP server: its ASGI endpoint (stateless streamable HTTP with JSON answers, behind
    the key check) and the task group the app's lifespan runs. The SDK's session manager runs once, so
    each lifespan of the app (a test client may start several) gets a new one."""

    def __init__(self) -> None:
        self.server = MCPServer(name="knowledge-base", instructions=INSTRUCTIONS)
        for tool in TOOLS:
            self.server.tool(description=inspect.cleandoc(tool.__doc__ or ""))(tool)
        self._endpoint: ASGIApp | None = None
        self.app = KeyRequired(self._dispatch)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._endpoint is None:
            not_started = error_response("service_unavailable", "The MCP server is not running.", 503)
            await not_started(scope, receive, send)
            return
        await self._endpoint(scope, receive, send)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # No Host check: the key is what admits a request, and the service answers under any name.
        self._endpoint = self.server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        try:
            async with self.server.session_manager.run():
                yield
        finally:
            self._endpoint = None
