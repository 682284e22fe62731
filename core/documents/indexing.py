"""The indexing run of one document, called by the worker task `index_document`.

Runs are idempotent: a document that is gone, paused or already final is left alone, so a
redelivered or re-enqueued message does no harm. Each data source type has its pipeline; a
document whose source has none is marked `error` with the reason, never left waiting forever.
Any failure is recorded on that document alone: it never takes the worker down.
"""

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from core.database import session_scope, utcnow
from core.documents.models import UNFINISHED_STATUSES, Document, IndexingStatus
from core.indexing.pipeline import IndexingStopped, index_upload_file_document

logger = logging.getLogger(__name__)

IndexingPipeline = Callable[[Session, Document], None]

PIPELINES: dict[str, IndexingPipeline] = {"upload_file": index_upload_file_document}


def index_document(document_id: str) -> None:
    with session_scope() as session:
        document = session.get(Document, document_id)
        if document is None or document.is_paused or document.indexing_status not in UNFINISHED_STATUSES:
            return
        pipeline = PIPELINES.get(document.data_source_type)
        if pipeline is None:
            mark_error(document, f"Unsupported data source type: {document.data_source_type}.")
            return
        try:
            pipeline(session, document)
        except IndexingStopped:
            session.rollback()
        except Exception as error:  # noqa: BLE001 - one document's failure must not stop the worker
            logger.info("indexing of document %s failed: %s", document_id, error, exc_info=True)
            session.rollback()
            document = session.get(Document, document_id)
            if document is not None:
                mark_error(document, str(error) or type(error).__name__)


def mark_error(document: Document, message: str) -> None:
    document.indexing_status = IndexingStatus.ERROR
    document.error = message
    document.stopped_at = utcnow()
