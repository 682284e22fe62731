"""Task functions registered on the Celery app `core` owns. Thin: one core call each."""

from core.documents import indexing
from core.queue import INDEX_DOCUMENT_TASK, celery_app


@celery_app.task(name=INDEX_DOCUMENT_TASK)
def index_document(document_id: str) -> None:
    indexing.index_document(document_id)
