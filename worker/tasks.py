"""Task functions registered on the Celery app `core` owns. Thin: one core call each."""

from core.documents import indexing
from core.indexing import vector_index
from core.queue import (
    BUILD_VECTORS_TASK,
    CRAWL_WEBSITE_TASK,
    DROP_COLLECTION_TASK,
    INDEX_DOCUMENT_TASK,
    SYNC_DOCUMENT_TASK,
    celery_app,
)
from core.website import service as website


@celery_app.task(name=INDEX_DOCUMENT_TASK)
def index_document(document_id: str) -> None:
    indexing.index_document(document_id)


@celery_app.task(name=BUILD_VECTORS_TASK)
def build_dataset_vectors(dataset_id: str) -> None:
    vector_index.build_vectors(dataset_id)


@celery_app.task(name=DROP_COLLECTION_TASK)
def drop_unused_collection(name: str) -> None:
    vector_index.drop_unused_collection(name)


@celery_app.task(name=CRAWL_WEBSITE_TASK)
def crawl_website(job_id: str) -> None:
    website.run_crawl(job_id)


@celery_app.task(name=SYNC_DOCUMENT_TASK)
def sync_online_document(document_id: str) -> None:
    website.sync_document(document_id)
