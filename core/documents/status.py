"""Enable, disable, archive and un-archive documents in batch ("Batch status" in Dify's API).

A document that is disabled or archived leaves both indexes, and comes back when it is searchable
again; the change is done before the call returns (vectors come back from the embedding cache), so
no search in between sees a half-state.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.api_keys.service import Caller
from core.database import utcnow
from core.datasets.models import Dataset
from core.documents.lookup import documents_of
from core.documents.models import IN_PROGRESS, Document, IndexingStatus
from core.errors import InvalidAction
from core.index.writer import index_segments, remove_from_indexes
from core.segments.models import Segment, SegmentStatus

ACTIONS = ("enable", "disable", "archive", "un_archive")
SEGMENTS_PER_STEP = 256


def update_document_status(
    session: Session, caller: Caller, dataset: Dataset, action: str, document_ids: list[str]
) -> None:
    if action not in ACTIONS:
        raise InvalidAction(f"Invalid action: {action}. Valid actions are: {', '.join(ACTIONS)}.")
    documents = documents_of(session, dataset, document_ids)
    for document in documents:  # checked first, so a refused batch changes nothing
        if document.indexing_status in IN_PROGRESS and not document.is_paused:
            raise InvalidAction(f"Document:{document.name} is being indexed, please try again later")
        if action == "disable" and document.indexing_status != IndexingStatus.COMPLETED:
            raise InvalidAction(f"Document: {document.name} is not completed.")
    for document in documents:
        was_searchable = _searchable(document)
        _apply(document, action, caller)
        if was_searchable and not _searchable(document):
            _for_each_step(session, document, lambda step: remove_from_indexes(session, dataset, step))
        elif _searchable(document) and not was_searchable:
            _for_each_step(session, document, lambda step: index_segments(session, dataset, step))
        session.commit()


def _searchable(document: Document) -> bool:
    return document.enabled and not document.archived


def _apply(document: Document, action: str, caller: Caller) -> None:
    now, account = utcnow(), caller.account.id
    if action == "enable" and not document.enabled:
        document.enabled, document.disabled_at, document.disabled_by = True, None, None
    elif action == "disable" and document.enabled:
        document.enabled, document.disabled_at, document.disabled_by = False, now, account
    elif action == "archive" and not document.archived:
        document.archived, document.archived_at, document.archived_by = True, now, account
    elif action == "un_archive" and document.archived:
        document.archived, document.archived_at, document.archived_by = False, None, None
        document.archived_reason = None


def _for_each_step(session: Session, document: Document, work) -> None:
    """The document's live, enabled segments, a bounded number at a time."""
    segments = session.scalars(
        select(Segment)
        .where(
            Segment.document_id == document.id,
            Segment.status == SegmentStatus.COMPLETED,
            Segment.enabled.is_(True),
        )
        .order_by(Segment.position)
    ).all()
    for start in range(0, len(segments), SEGMENTS_PER_STEP):
        work(list(segments[start : start + SEGMENTS_PER_STEP]))
