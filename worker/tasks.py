"""Task functions registered on the Celery app `core` owns. Thin: one core call each.

A task that fails because a dependency is down (the database, Redis, the engine) is retried with
exponential back-off (1 s doubling to 30 s, jittered) instead of being consumed, so work queued
during an outage is done within about 30 s of its end, with no restart. A longer outage costs a few
cheap retries a minute per task; after 100 the periodic sweep still finds the documents.
"""

from core import maintenance
from core.errors import DEPENDENCY_ERRORS
from core.ingestion import runs, vector_index
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

RETRIED_ON_OUTAGES = {
    "autoretry_for": DEPENDENCY_ERRORS, "retry_backoff": True, "retry_backoff_max": 30, "retry_jitter": True,
    "max_retries": 100,
}  # fmt: skip


@celery_app.task(**RETRIED_ON_OUTAGES, name=INDEX_DOCUMENT_TASK)
def index_document(document_id: str) -> None:
    runs.index_document(document_id)


@celery_app.task(**RETRIED_ON_OUTAGES, name=BUILD_VECTORS_TASK)
def build_dataset_vectors(dataset_id: str) -> None:
    vector_index.build_vectors(dataset_id)


@celery_app.task(**RETRIED_ON_OUTAGES, name=DROP_COLLECTION_TASK)
def drop_unused_collection(name: str) -> None:
    vector_index.drop_unused_collection(name)


@celery_app.task(**RETRIED_ON_OUTAGES, name=READ_SOURCE_TASK)
def read_online_source(job_id: str) -> None:
    online_sources.run_job(job_id)


@celery_app.task(**RETRIED_ON_OUTAGES, name=SYNC_DOCUMENT_TASK)
def sync_online_document(document_id: str) -> None:
    online_sync.sync_document(document_id)


@celery_app.task(name=SYNC_DUE_TASK)  # periodic: the next beat runs it again
def sync_due_online_documents() -> None:
    online_sync.sync_due_datasets()


@celery_app.task(name=RECOVERY_SWEEP_TASK)  # periodic too
def sweep_stranded_work() -> None:
    maintenance.sweep_stranded_work()
