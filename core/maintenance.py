"""The orphan sweep: what a crash between a delete's commit and its clean-up left outside the database.

Deletes commit the rows first and then remove points and files; if the process dies in between,
the sweep finishes the job. It runs when a worker starts, beside the recovery of unfinished documents,
and every few minutes with the re-queueing of stranded documents (`sweep_stranded_work`, from beat, in
every mode).
"""

import logging
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.database import session_scope
from core.datasets.models import Dataset
from core.documents.models import Document, UploadFile
from core.files.storage import file_storage
from core.index import point_metadata
from core.index.engines import get_vector_store
from core.index.writer import engine_collections
from core.ingestion.recovery import requeue_stranded_documents
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

COLLECTION_PREFIX = "kb_"
# A file is stored before its row commits; younger files may belong to an upload in flight.
FILE_GRACE_SECONDS = 3600


def sweep_orphans(session: Session, settings: Settings) -> dict[str, int]:
    removed = {"collections": _drop_orphan_collections(session)}
    removed["documents"] = _delete_orphan_vectors(session)
    removed["files"] = _delete_orphan_files(session, settings)
    if any(removed.values()):
        logger.info("orphan sweep removed %s", removed)
    return removed


def _drop_orphan_collections(session: Session) -> int:
    store = get_vector_store()
    datasets = session.scalars(select(Dataset))
    live = {name for dataset in datasets for name in engine_collections(dataset)}
    orphans = [
        name for name in store.collection_names() if name.startswith(COLLECTION_PREFIX) and name not in live
    ]
    for name in orphans:
        store.drop_collection(name)
    return len(orphans)


def _delete_orphan_vectors(session: Session) -> int:
    """Points (vectors and terms) of documents that no longer exist, collection by collection."""
    store = get_vector_store()
    removed = 0
    for dataset in session.scalars(select(Dataset)).all():
        existing = set(session.scalars(select(Document.id).where(Document.dataset_id == dataset.id)))
        for collection in engine_collections(dataset):
            for document_id in store.payload_values(collection, "document_id") - existing:
                store.delete_where(collection, document_id=document_id)
                removed += 1
    return removed


def _delete_orphan_files(session: Session, settings: Settings) -> int:
    storage = file_storage(settings)
    referenced = set(session.scalars(select(UploadFile.storage_key)))
    cutoff = time.time() - FILE_GRACE_SECONDS
    orphans = [key for key, modified in storage.stored_keys() if key not in referenced and modified < cutoff]
    for key in orphans:
        storage.delete(key)
    return len(orphans)


def sweep_stranded_work() -> None:
    """The periodic sweep: documents no run will finish go back to the queue, then orphans go, then
    metadata the engine missed is set on its points."""
    with session_scope() as session:
        stranded = requeue_stranded_documents(session)
        if stranded:
            logger.info("periodic sweep re-enqueued %d stranded documents", len(stranded))
        sweep_orphans(session, get_settings())
    point_metadata.push_stale()
