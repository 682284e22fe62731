"""Documents never depend on a queue message surviving: the start-up sweep re-queues every unfinished
document, and a periodic sweep those that no run will finish (a holder gone, a message lost with a
broker that restarted without persistence)."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import metrics
from core.database import utcnow
from core.documents.models import IN_PROGRESS, UNFINISHED_STATUSES, Document, IndexingStatus
from core.ingestion.lease import run_in_progress
from core.queue import INDEX_DOCUMENT_TASK, enqueue_after_commit

# A document waiting this long while no run of its dataset lives has lost its queue message (well
# beyond a lease, so a run that just died is seen as gone first).
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
    metrics.DOCUMENT_RECOVERIES.labels("worker_start").inc(len(ids))
    return ids


def requeue_stranded_documents(
    session: Session, waiting_for: timedelta = STRANDED_AFTER, reason: str = "stranded"
) -> list[str]:
    """Re-enqueues in-progress documents whose run is gone, and documents waiting longer than
    `waiting_for` in datasets where no run lives (a living run takes its dataset's waiting documents
    itself)."""
    unfinished = session.scalars(
        select(Document).where(
            Document.indexing_status.in_(UNFINISHED_STATUSES), Document.is_paused.is_(False)
        )
    ).all()
    in_progress = [d for d in unfinished if d.indexing_status in IN_PROGRESS]
    living = {d.id for d in in_progress if run_in_progress(d)}
    busy = {d.dataset_id for d in in_progress if d.id in living}
    since = utcnow() - waiting_for
    stranded = [d.id for d in in_progress if d.id not in living] + [
        d.id
        for d in unfinished
        if d.indexing_status == IndexingStatus.WAITING and d.dataset_id not in busy and d.created_at <= since
    ]
    for document_id in stranded:
        enqueue_after_commit(session, INDEX_DOCUMENT_TASK, document_id)
    session.commit()
    metrics.DOCUMENT_RECOVERIES.labels(reason).inc(len(stranded))
    return stranded
