"""Dify's knowledge-pipeline answers: the events a node run and a pipeline run stream (server-sent
events, or one JSON body for a blocking run), built from the core operations and read back from the
database, so a stream works the same with the embedded worker and with Celery."""

import secrets
import time
import uuid
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import knowledge_pipeline as pipeline
from core.database import existing, session_scope
from core.datasets.models import Dataset
from core.documents import service as documents
from core.documents.models import Document, IndexingStatus
from core.errors import PipelineRunError
from core.knowledge_pipeline import FINISHED, NodeReading, PipelineRun
from core.online_sources import service as online_sources
from core.online_sources.models import CrawlJob, CrawlPage
from core.online_sources.service import RUNNING

POLL_SECONDS = pipeline.POLL_SECONDS
PING_SECONDS = 10
STREAM_SECONDS = 3600  # a stream ends after this long; the work goes on in the background
# Workflow nodes of the default pipeline, one per stage of a run (`pipeline.STAGE_STATUSES`).
STAGE_NODES = (
    ("extract", "document-extractor", "Extract text"),
    ("clean", "text-cleaner", "Clean text"),
    ("chunk", "text-splitter", "Chunk"),
    ("index", "knowledge-index", "Embed and index"),
)


def node_events(reading: NodeReading) -> Iterator[dict]:
    """What a node read: Notion's workspace with its pages at once, or a crawl's progress, then its pages."""
    started = time.monotonic()
    if reading.crawl_job_id is not None:
        return _crawl_events(reading.crawl_job_id, started)
    pages = reading.notion_pages or []
    return iter([_completed([_notion_workspace(pages)], started, total=len(pages))])


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
            job = existing(session, CrawlJob, job_id)
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


def describe_run(session: Session, run: PipelineRun) -> dict:
    """Dify's answer to a published run: the batch, the dataset and the documents it made."""
    dataset = existing(session, Dataset, run.dataset_id)
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
        positions = pipeline.stage_positions(run)
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
        pipeline.wait_for_notion(run, started + STREAM_SECONDS)
    except PipelineRunError as error:
        run.error = error.message
        yield ids | {"event": "node_finished", "data": node | {"status": "failed", "error": error.message}}
        return
    yield ids | {"event": "node_finished", "data": node | {"status": "succeeded"}}


def _node_data(index: int) -> dict:
    node_id, node_type, title = STAGE_NODES[index]
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
