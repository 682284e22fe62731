"""The start-up sweep: documents never depend on a queue message surviving a restart."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.documents.models import UNFINISHED_STATUSES, Document
from core.queue import INDEX_DOCUMENT_TASK, enqueue_after_commit


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
