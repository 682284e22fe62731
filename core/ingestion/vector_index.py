"""Changes to a dataset's vector index: economy to high quality and back, and a new embedding model.

Economy to high quality builds the vectors of every live chunk in a worker task (embeddings come from
the cache when the texts were embedded before); high quality to economy drops the collections. A new
embedding model on a dataset that already has vectors is built in a new collection
(`pending_vector_collection`) while searches keep using the old one, and writers put new chunks into
both meanwhile (writer.vector_targets). Once the new collection holds every live chunk, one UPDATE
makes it the one searches use, and the old collection is dropped after searches that had already read
its name are done. The term collections serve every state, so keyword search never stops working.
"""

import time
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.database import rows_changed, session_scope, utcnow
from core.datasets.models import Dataset, IndexingTechnique
from core.documents.models import IN_PROGRESS, Document
from core.index import point_metadata
from core.index.embedding_cache import embed_with_cache
from core.index.engines import collection_name, get_vector_store
from core.index.keyword_index import written_revisions
from core.index.live import live_chunk_condition
from core.index.writer import (
    VECTOR_INDEX_FIELDS,
    VectorTarget,
    dataset_collections,
    indexed_texts,
    vector_targets,
    write_vectors,
)
from core.ingestion.lease import HEARTBEAT_LEASE
from core.queue import BUILD_VECTORS_TASK, DROP_COLLECTION_TASK, enqueue_after_commit, send_task
from core.segments.models import ChildChunk, Segment

SEGMENTS_PER_BATCH = 64
# Searches that read the dataset just before a switch still query the old collection for a moment.
OLD_COLLECTION_GRACE_SECONDS = 30
# Indexing runs on other workers may have chosen their vector targets before the build began; the
# build fills in after them until they finish, waiting this long at most. A run silent for longer than
# its heartbeat lease is dead (the recovery sweep restarts it, and it then writes to the new targets).
ACTIVE_RUN_WAIT = timedelta(minutes=10)
ACTIVE_RUN_POLL_SECONDS = 1.0


def on_indexing_change(
    session: Session, dataset: Dataset, previous_technique: str | None, previous_model: tuple
) -> None:
    """Called in the PATCH transaction, before its commit; `previous_model` is (provider, model)."""
    if dataset.indexing_technique != IndexingTechnique.HIGH_QUALITY:
        _drop_vectors(dataset)
    elif previous_technique != IndexingTechnique.HIGH_QUALITY:
        enqueue_after_commit(session, BUILD_VECTORS_TASK, dataset.id)
    elif (dataset.embedding_model_provider, dataset.embedding_model) != previous_model:
        _change_model(session, dataset)


def _drop_vectors(dataset: Dataset) -> None:
    for collection in dataset_collections(dataset):
        get_vector_store().drop_collection(collection)
    dataset.vector_collection = dataset.pending_vector_collection = None
    dataset.vector_model = dataset.vector_model_provider = None


def _change_model(session: Session, dataset: Dataset) -> None:
    if dataset.vector_collection is None:
        return  # nothing embedded yet: the first vectors will use the new model
    next_collection = _next_collection_name(dataset)
    if dataset.pending_vector_collection:  # a build for a model no longer wanted
        get_vector_store().drop_collection(dataset.pending_vector_collection)
        dataset.pending_vector_collection = None
    if (dataset.embedding_model_provider, dataset.embedding_model) != (
        dataset.vector_model_provider,
        dataset.vector_model,
    ):
        dataset.pending_vector_collection = next_collection
        enqueue_after_commit(session, BUILD_VECTORS_TASK, dataset.id)


def _next_collection_name(dataset: Dataset) -> str:
    generations = [int(name.rsplit("_", 1)[1]) for name in dataset_collections(dataset)]
    return collection_name(dataset.id, max(generations) + 1)


def build_vectors(dataset_id: str) -> None:
    """Fills the collection being built (the pending one during a model change, else the serving one
    after economy to high quality) with every live chunk it lacks, then switches to it. Idempotent:
    point ids come from chunk ids, and chunks already there are skipped."""
    with session_scope() as session:
        dataset = session.get(Dataset, dataset_id)
        targets = vector_targets(session, dataset) if dataset is not None else []
        if dataset is None or not targets:
            return
        target = targets[-1]
        if _fill_until_runs_finish(session, dataset, target) and len(targets) > 1:
            _switch(session, dataset, target)


def rebuild_collections(dataset_id: str) -> int:
    """Empties the dataset's collections and fills them again with every live chunk, from the database
    and the embedding cache (the model runs only for texts the cache lacks). Returns the points written.
    This is `kb reindex`: the engine can always be rebuilt from the source of truth."""
    with session_scope() as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None or dataset.indexing_technique != IndexingTechnique.HIGH_QUALITY:
            return 0
        store = get_vector_store()
        for name in dataset_collections(dataset):
            store.drop_collection(name)
        written = 0
        for target in vector_targets(session, dataset):
            store.ensure_collection(target.collection, target.embedder.dimension)
            _fill(session, dataset, target)
            written += store.count(target.collection)
        return written


def _fill_until_runs_finish(session: Session, dataset: Dataset, target: VectorTarget) -> bool:
    deadline = time.monotonic() + ACTIVE_RUN_WAIT.total_seconds()
    while _fill(session, dataset, target):
        if not _active_runs(session, dataset) or time.monotonic() > deadline:
            return True
        time.sleep(ACTIVE_RUN_POLL_SECONDS)
    return False


def _fill(session: Session, dataset: Dataset, target: VectorTarget) -> bool:
    """Embeds the live chunks missing from the target; False once the target has been replaced."""
    missing = _segments_missing_from(session, dataset, get_vector_store().keys(target.collection))
    for start in range(0, len(missing), SEGMENTS_PER_BATCH):
        session.refresh(dataset, VECTOR_INDEX_FIELDS)
        if target.collection not in dataset_collections(dataset):
            return False
        batch = session.scalars(
            select(Segment).where(Segment.id.in_(missing[start : start + SEGMENTS_PER_BATCH]))
        ).all()
        units = indexed_texts(session, list(batch))
        vectors, _ = embed_with_cache(session, target.embedder, [unit.text for unit in units])
        write_vectors(target.collection, units, vectors)
        point_metadata.record_written(session, written_revisions(units))
        session.commit()
    return True


def _segments_missing_from(session: Session, dataset: Dataset, present: set[str]) -> list[str]:
    """Live segments with an indexed text (the chunk, or each child chunk) not in `present`."""
    live = (
        select(Segment.id, Segment.index_node_id)
        .join(Document, Document.id == Segment.document_id)
        .where(Segment.dataset_id == dataset.id, live_chunk_condition())
    )
    live_ids = live.subquery()
    nodes: dict[str, list[str]] = {}
    children = select(ChildChunk.segment_id, ChildChunk.index_node_id).join(
        live_ids, ChildChunk.segment_id == live_ids.c.id
    )
    for segment_id, node_id in session.execute(children):
        nodes.setdefault(segment_id, []).append(node_id)
    return [
        segment_id
        for segment_id, node_id in session.execute(live.order_by(Segment.document_id, Segment.position))
        if any(node not in present for node in nodes.get(segment_id, [node_id]))
    ]


def _active_runs(session: Session, dataset: Dataset) -> int:
    return (
        session.scalar(
            select(func.count(Document.id)).where(
                Document.dataset_id == dataset.id,
                Document.indexing_status.in_(IN_PROGRESS),
                Document.heartbeat_at > utcnow() - HEARTBEAT_LEASE,
            )
        )
        or 0
    )


def _switch(session: Session, dataset: Dataset, target: VectorTarget) -> None:
    """One UPDATE makes the built collection the one searches use, unless the build was superseded."""
    old = dataset.vector_collection
    switched = rows_changed(
        session.execute(
            update(Dataset)
            .where(Dataset.id == dataset.id, Dataset.pending_vector_collection == target.collection)
            .values(
                vector_collection=target.collection,
                vector_model=Dataset.embedding_model,
                vector_model_provider=Dataset.embedding_model_provider,
                pending_vector_collection=None,
            )
        )
    )
    session.commit()
    if switched:
        send_task(DROP_COLLECTION_TASK, old, countdown=OLD_COLLECTION_GRACE_SECONDS)


def drop_unused_collection(name: str) -> None:
    """Drops a collection no dataset uses any more (an old generation after a model switch)."""
    with session_scope() as session:
        in_use = session.scalar(
            select(func.count(Dataset.id)).where(
                (Dataset.vector_collection == name) | (Dataset.pending_vector_collection == name)
            )
        )
    if not in_use:
        get_vector_store().drop_collection(name)
