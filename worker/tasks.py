"""Task functions registered on the Celery app `core` owns. Thin: one core call each."""

from core.documents import indexing
from core.indexing import technique
from core.queue import BUILD_VECTORS_TASK, INDEX_DOCUMENT_TASK, celery_app


@celery_app.task(name=INDEX_DOCUMENT_TASK)
def index_document(document_id: str) -> None:
    indexing.index_document(document_id)


@celery_app.task(name=BUILD_VECTORS_TASK)
def build_dataset_vectors(dataset_id: str) -> None:
    technique.build_vectors(dataset_id)
