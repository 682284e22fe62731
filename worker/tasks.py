"""Task functions registered on the Celery app `core` owns. Thin: one core call each."""

from core import maintenance
from core.documents import indexing
from core.indexing import vector_index
from core.online_sources import service as online_sources
from core.online_sources import sync as online_sync
from core.queue import (
    BUILD_VECTORS_TASK,
    DROP_COLLECTION_TASK,
    INDEX_DOCUMENT_TASK,
    READ_SOURCE_TASK,
    RECOVERY_SWEEP_TASK,
    SYNC_DOCUMENT_TASK,
    SYNC_DUE_TASK,
    celery_app,
)


@celery_app.task(name=INDEX_DOCUMENT_TASK)
def index_document(document_id: str) -> None:
    indexing.index_document(document_id)


@celery_app.task(name=BUILD_VECTORS_TASK)
def build_dataset_vectors(dataset_id: str) -> None:
    vector_index.build_vectors(dataset_id)


@celery_app.task(name=DROP_COLLECTION_TASK)
def drop_unused_collection(name: str) -> None:
    vector_index.drop_unused_collection(name)


@celery_app.task(name=READ_SOURCE_TASK)
def read_online_source(job_id: str) -> None:
    online_sources.run_job(job_id)


@celery_app.task(name=SYNC_DOCUMENT_TASK)
def sync_online_document(document_id: str) -> None:
    online_sync.sync_document(document_id)


@celery_app.task(name=SYNC_DUE_TASK)
def sync_due_online_documents() -> None:
    online_sync.sync_due_datasets()


@celery_app.task(name=RECOVERY_SWEEP_TASK)
def sweep_stranded_work() -> None:
    maintenance.sweep_stranded_work()
