"""The indexing run of one document, called by the worker task `index_document`.

Runs are idempotent: a document that is gone, paused or already final is left alone, so a
redelivered or re-enqueued message does no harm. A document of a source type this version does not
index is marked `error` with the reason, never left waiting forever.
Any failure is recorded on that document alone: it never takes the worker down.
"""

import logging
import time
from collections.abc import Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import logs, tracing
from core.database import existing, refresh_sqlite_statistics, session_scope, utcnow
from core.datasets.models import Dataset
from core.documents.models import UNFINISHED_STATUSES, DataSourceType, Document, IndexingStatus
from core.errors import is_dependency_failure
from core.index.keyword_index import settle_averages
from core.ingestion.lease import HEARTBEAT_LEASE, run_in_progress
from core.ingestion.stages import index_documents
from core.queue import INDEX_DOCUMENT_TASK, send_task
from core.settings import get_settings

logger = logging.getLogger(__name__)

# Every source keeps its document's text as a stored file (online documents store what they fetched),
# so one run indexes them all.
INDEXED_SOURCES = frozenset(DataSourceType)
# A run also takes the other waiting documents of the same dataset and source type, this many at a
# time, so that many small documents share model batches and database round trips. It goes on taking
# them while some wait, for up to RUN_SECONDS: the model then never pauses between runs, and the
# documents of other datasets wait about that long at most for their turn.
MAX_COMPANIONS = 31
RUN_SECONDS = 60.0


def index_document(document_id: str) -> None:
    with session_scope() as session:
        document = session.get(Document, document_id)
        if document is None or document.is_paused or document.indexing_status not in UNFINISHED_STATUSES:
            return
        if run_in_progress(document):
            # A living run holds the document; look again once its lease would have run out.
            send_task(INDEX_DOCUMENT_TASK, document_id, countdown=HEARTBEAT_LEASE.total_seconds())
            return
        if document.data_source_type not in INDEXED_SOURCES:
            mark_error(document, f"Unsupported data source type: {document.data_source_type}.")
            return
        dataset = existing(session, Dataset, document.dataset_id)
        logs.bind(workspace_id=document.workspace_id, dataset_id=document.dataset_id)
        with tracing.span("index.run", {"document_id": document_id, "dataset_id": document.dataset_id}):
            index_documents(
                session, dataset, _documents_of_run(session, document), _failure_recorder(session)
            )
        if not _waiting_companions(session, dataset.id, document.data_source_type, document.id):
            settle_averages(session, dataset.id)  # once a burst, at its end: the next run would do it
        refresh_sqlite_statistics(session)


def _documents_of_run(session: Session, document: Document) -> Iterator[str]:
    """Ids, not rows: a companion deleted meanwhile is then simply not found, instead of a stale row
    failing the run of every other document."""
    started = time.monotonic()
    dataset_id, source_type = document.dataset_id, document.data_source_type
    yield document.id
    while time.monotonic() - started < RUN_SECONDS and (
        companions := _waiting_companions(session, dataset_id, source_type, document.id)
    ):
        yield from companions


def _waiting_companions(session: Session, dataset_id: str, source_type: str, first_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Document.id)
            .where(
                Document.dataset_id == dataset_id,
                Document.data_source_type == source_type,
                Document.indexing_status == IndexingStatus.WAITING,
                Document.is_paused.is_(False),
                Document.id != first_id,
            )
            .order_by(Document.position)
            .limit(MAX_COMPANIONS)
        ).all()
    )


def _failure_recorder(session: Session) -> Callable[[str, Exception], None]:
    def record(document_id: str, error: Exception) -> None:
        document = session.get(Document, document_id)
        if document is None:
            return
        retries = get_settings().indexing_retries
        if is_dependency_failure(error) and document.indexing_attempts < retries:
            _retry_later(session, document, error)
            return
        logger.warning("indexing failed: %s", error, exc_info=error, extra={"document_id": document_id})
        attempts = document.indexing_attempts
        mark_error(
            document,
            (str(error) or type(error).__name__) + (f" (after {attempts + 1} attempts)" if attempts else ""),
        )
        session.commit()

    return record


def _retry_later(session: Session, document: Document, error: Exception) -> None:
    """A dependency failed the run: the document waits (its previous chunks stay searchable) and is
    run again after 1, 4, 16, ... times INDEXING_RETRY_SECONDS."""
    delay = get_settings().indexing_retry_seconds * 4**document.indexing_attempts
    document.indexing_attempts += 1
    document.indexing_status = IndexingStatus.WAITING
    document.lease_holder = document.heartbeat_at = None
    session.commit()
    logger.warning(
        "indexing failed on a dependency, retry %d in %.0f s: %s",
        document.indexing_attempts,
        delay,
        error,
        extra={"document_id": document.id},
    )
    send_task(INDEX_DOCUMENT_TASK, document.id, countdown=delay)


def mark_error(document: Document, message: str) -> None:
    document.indexing_status = IndexingStatus.ERROR
    document.error = message
    document.stopped_at = utcnow()
