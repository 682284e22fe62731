"""Dify's knowledge-pipeline routes over the built-in pipeline and sources: the file
upload, the datasource nodes, a node run (always a stream) and a pipeline run (blocking or a stream)."""

import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api import pipeline_events
from api.deps import KNOWLEDGE_REQUEST, CallerDep, DatasetDep, SessionDep
from api.multipart import read_document_upload
from api.schemas.pipeline import NodeRunBody, PipelineRunBody
from core import knowledge_pipeline as pipeline
from core.documents.service import discarded_on_failure, record_callers_upload
from core.settings import get_settings

router = APIRouter(prefix="/datasets", tags=["knowledge pipeline"])
EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    "200": {"content": {"text/event-stream": {}}, "description": "server-sent events"}
}
BLOCKING_OR_STREAM: dict[int | str, dict[str, Any]] = {
    "200": {
        "content": {"application/json": {}, "text/event-stream": {}},
        "description": "blocking: `{batch, dataset, documents}`; streaming: server-sent events",
    }
}
FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            }
        },
    }
}


def _event_stream(events: Iterator[dict]) -> StreamingResponse:
    lines = (f"data: {json.dumps(event, ensure_ascii=False)}\n\n" for event in events)
    return StreamingResponse(lines, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.post("/pipeline/file-upload", status_code=201, openapi_extra=FILE_BODY)
async def upload_pipeline_file(request: Request, caller: CallerDep, session: SessionDep) -> JSONResponse:
    """A file for a later pipeline run's `local_file` items (its `reference`); file checks and errors
    are the document update's: 413 over the size limit, 415 for a type the service does not read."""
    upload = await read_document_upload(request, get_settings(), file_required=True, on_update=True)
    source = upload.sent_file
    with discarded_on_failure(session, source):
        row = record_callers_upload(session, caller, source, api_key_id=caller.api_key_id or None)
        session.commit()
    body = {"id": row.id, "name": row.name, "size": row.size, "extension": row.extension,
            "mime_type": row.mime_type, "created_by": row.created_by,
            "created_at": row.created_at.isoformat()}  # fmt: skip
    return JSONResponse(body, status_code=201)


@router.get("/{dataset_id}/pipeline/datasource-plugins")
def get_datasource_plugins(
    dataset: DatasetDep, caller: CallerDep, session: SessionDep, is_published: bool = True
) -> list[dict]:
    """The datasource nodes of the dataset's pipeline (published and draft are the same pipeline)."""
    return pipeline.datasource_plugins(session, caller, dataset)


@router.post(
    "/{dataset_id}/pipeline/datasource/nodes/{node_id}/run",
    responses=EVENT_STREAM,
    dependencies=[KNOWLEDGE_REQUEST],
)
def run_datasource_node(
    node_id: str, body: NodeRunBody, dataset: DatasetDep, caller: CallerDep, session: SessionDep
) -> StreamingResponse:
    """Streams what a node reads: `datasource_processing` ({total, completed}) while a crawl runs, then
    `datasource_completed` with the pages (a crawl's with their text, Notion's to choose from), or
    `datasource_error`."""
    reading = pipeline.read_node(
        session, caller, dataset, node_id, body.datasource_type, body.credential_id, body.inputs
    )
    return _event_stream(pipeline_events.node_events(reading))


@router.post("/{dataset_id}/pipeline/run", responses=BLOCKING_OR_STREAM, dependencies=[KNOWLEDGE_REQUEST])
async def run_pipeline(body: PipelineRunBody, dataset: DatasetDep, caller: CallerDep, session: SessionDep):
    """Makes documents of `datasource_info_list` in one batch and queues them for indexing. Blocking:
    `{batch, dataset, documents}` at once (a Notion import once its pages are read). Streaming:
    `workflow_started`, `node_started` / `node_finished` per stage (extract, clean, chunk, index) as
    the documents go through them, and `workflow_finished` with those documents as `outputs`."""
    run = await run_in_threadpool(
        pipeline.run_pipeline, session, caller, dataset, body.start_node_id, body.datasource_type,
        body.datasource_info_list, body.inputs,
    )  # fmt: skip
    if body.response_mode == "streaming":
        return _event_stream(pipeline_events.stream_run(run, body.inputs))
    await run_in_threadpool(pipeline.wait_for_notion, run, time.monotonic() + pipeline.NOTION_WAIT_SECONDS)
    return await run_in_threadpool(pipeline_events.describe_run, session, run)
