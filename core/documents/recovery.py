"""Documents never depend on a queue message surviving: the start-up sweep re-queues every unfinished
document, and a periodic sweep those that no run will finish (a holder gone, a message lost with a
broker that restarted without persistence)."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.database import utcnow
from core.documents.lease import HEARTBEAT_LEASE, run_in_progress
from core.documents.models import IN_PROGRESS, UNFINISHED_STATUSES, Document, IndexingStatus
from core.queue import INDEX_DOCUMENT_TASK, enqueue_after_commit

# A document waiting this long while no run of its dataset lives has lost its queue message.
STRANDED_AFTER = timedelta(minutes=10)


def requeue_unfinished_documents(session: Session) -> list[str]:
    """Re-enqueues every document left in a non-final state (paused ones stay paused)."""
    ids = list(
        session.scalars(
            select(Document.id)
            .where(Document.indexing_status.in_(UNFINISHED_STATUSES), Document.is_paused.is_(False))
            .order_by(Document.created_at)
        ).all()
    )
    for document_id in ids:
        enqueue_after_commit(session, INDEX_DOCUMENT_TASK, document_id)
    session.commit()
    return ids


def requeue_stranded_documents(session: Session) -> list[str]:
    """Re-enqueues in-progress documents whose run is gone, and documents long waiting in datasets
    where no run lives (a living run takes its dataset's waiting documents itself)."""
    unfinished = session.scalars(
        select(Document).where(
            Document.indexing_status.in_(UNFINISHED_STATUSES), Document.is_paused.is_(False)
        )
    ).all()
    busy = {d.dataset_id for d in unfinished if d.indexing_status in IN_PROGRESS and run_in_progress(d)}
    since = utcnow() - max(STRANDED_AFTER, HEARTBEAT_LEASE)
    stranded = [
        document.id
        for document in unfinished
        if (document.indexing_status in IN_PROGRESS and not run_in_progress(document))
        or (document.indexing_status == IndexingStatus.WAITING and document.dataset_id not in busy
            and document.created_at < since)
    ]  # fmt: skip
    for document_id in stranded:
        enqueue_after_commit(session, INDEX_DOCUMENT_TASK, document_id)
    session.commit()
    return stranded
