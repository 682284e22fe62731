"""Which chunks are live: the one condition every reader of the indexes shares (search, re-indexing,
vector builds, export, the consistency check), so that they agree on what a search can return."""

from sqlalchemy import and_

from core.documents.models import UNFINISHED_STATUSES, Document, IndexingStatus
from core.segments.models import Segment, SegmentStatus

# A document being indexed again (an update, a new rule, recovery after a crash) keeps its previous
# chunks live until the run swaps the new ones in; a first indexing run has no live chunks yet.
SEARCHABLE_STATUSES = (IndexingStatus.COMPLETED, *UNFINISHED_STATUSES)


def live_chunk_condition():
    """Segments swapped in and enabled, of enabled, unarchived documents that are searchable."""
    return and_(
        Segment.status == SegmentStatus.COMPLETED,
        Segment.enabled.is_(True),
        Document.indexing_status.in_(SEARCHABLE_STATUSES),
        Document.enabled.is_(True),
        Document.archived.is_(False),
    )
