"""Switching a dataset between economy (keyword index only) and high quality (vectors as well).

Economy to high quality builds the vectors of every live segment in a worker task (embeddings come
from the cache when the texts were embedded before); high quality to economy drops the collection.
The inverted index serves both, so keyword search never stops working during a switch.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.database import session_scope
from core.datasets.models import Dataset, IndexingTechnique
from core.documents.models import Document
from core.indexing.embedding_cache import embed_with_cache
from core.indexing.vectors import get_vector_store
from core.indexing.writer import dataset_embedder, indexed_texts, vector_collection, write_vectors
from core.queue import BUILD_VECTORS_TASK, enqueue_after_commit
from core.search.legs import live_chunk_condition
from core.segments.models import Segment

SEGMENTS_PER_BATCH = 64


def on_technique_change(session: Session, dataset: Dataset, previous: str) -> None:
    """Called in the PATCH transaction, before its commit."""
    if previous == dataset.indexing_technique:
        return
    if dataset.indexing_technique == IndexingTechnique.ECONOMY and dataset.vector_collection:
        get_vector_store().drop_collection(dataset.vector_collection)
        dataset.vector_collection = None
    elif dataset.indexing_technique == IndexingTechnique.HIGH_QUALITY:
        enqueue_after_commit(session, BUILD_VECTORS_TASK, dataset.id)


def build_vectors(dataset_id: str) -> None:
    """Embeds every live segment of a high-quality dataset into its collection (idempotent: point ids
    are derived from chunk ids, so a re-run overwrites)."""
    with session_scope() as session:
        dataset = session.get(Dataset, dataset_id)
        embedder = dataset_embedder(dataset) if dataset is not None else None
        if embedder is None:
            return
        collection = vector_collection(session, dataset, embedder)
        segment_ids = session.scalars(
            select(Segment.id)
            .join(Document, Document.id == Segment.document_id)
            .where(Segment.dataset_id == dataset.id, live_chunk_condition(None))
            .order_by(Segment.document_id, Segment.position)
        ).all()
        for start in range(0, len(segment_ids), SEGMENTS_PER_BATCH):
            batch = session.scalars(
                select(Segment).where(Segment.id.in_(segment_ids[start : start + SEGMENTS_PER_BATCH]))
            ).all()
            units = indexed_texts(session, list(batch))
            vectors, _ = embed_with_cache(session, embedder, [unit.text for unit in units])
            write_vectors(collection, units, vectors)
            session.commit()
