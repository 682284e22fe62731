"""Writing segments into the indexes (vectors and terms, both in the search engine) and taking them out.

Shared by indexing runs, which embed in pipelined batches, and by the segment API, which indexes the
few segments of one request before it answers.
"""

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.datasets.models import Dataset, IndexingTechnique
from core.index import keyword_index, point_metadata
from core.index.embedding_cache import embed_with_cache
from core.index.engines import collection_name, get_embedder, get_vector_store
from core.index.keyword_index import IndexedText
from core.segments.models import ChildChunk, Segment
from retrieval.embedders import Embedder
from retrieval.vector_store import VectorPoint

VECTOR_INDEX_FIELDS = [
    "indexing_technique",
    "embedding_model",
    "embedding_model_provider",
    "vector_collection",
    "vector_model",
    "vector_model_provider",
    "pending_vector_collection",
]


@dataclass(frozen=True)
class VectorTarget:
    collection: str
    embedder: Embedder


def vector_targets(session: Session, dataset: Dataset) -> list[VectorTarget]:
    """Where new vectors go: the collection searches use (first: its token counts are the ones
    recorded) and, while the embedding model is being changed, the collection being built with the new
    model. Economy datasets have none. Read afresh on every call: a model change may have begun since."""
    session.refresh(dataset, VECTOR_INDEX_FIELDS)
    if dataset.indexing_technique != IndexingTechnique.HIGH_QUALITY:
        return []
    collection = dataset.vector_collection or _create_serving_collection(session, dataset)
    serving = get_embedder(dataset.vector_model_provider, dataset.vector_model)
    targets = [VectorTarget(collection, serving)]
    if dataset.pending_vector_collection:
        targets.append(pending_target(dataset))
    return targets


def pending_target(dataset: Dataset) -> VectorTarget:
    name = dataset.pending_vector_collection
    if name is None:
        raise LookupError(f"dataset {dataset.id} has no collection being built")
    embedder = get_embedder(dataset.embedding_model_provider, dataset.embedding_model)
    get_vector_store().ensure_collection(name, embedder.dimension)
    return VectorTarget(name, embedder)


def _create_serving_collection(session: Session, dataset: Dataset) -> str:
    """The first vectors of a dataset create its collection, for its configured model (or find the one a
    concurrent writer made first)."""
    embedder = get_embedder(dataset.embedding_model_provider, dataset.embedding_model)
    name = collection_name(dataset.id)
    get_vector_store().ensure_collection(name, embedder.dimension)
    session.execute(
        update(Dataset)
        .where(Dataset.id == dataset.id, Dataset.vector_collection.is_(None))
        .values(
            vector_collection=name,
            vector_model=dataset.embedding_model,
            vector_model_provider=dataset.embedding_model_provider,
        )
    )
    session.commit()
    session.refresh(dataset, VECTOR_INDEX_FIELDS)
    return dataset.vector_collection or name


def dataset_collections(dataset: Dataset) -> list[str]:
    """Every collection holding vectors of the dataset: deletes go to all of them."""
    return [name for name in (dataset.vector_collection, dataset.pending_vector_collection) if name]


def engine_collections(dataset: Dataset) -> list[str]:
    """Every collection of the dataset in the engine: its vectors and its term collections."""
    return [*dataset_collections(dataset), *keyword_index.term_collections(dataset.id).values()]


def indexed_texts(session: Session, segments: list[Segment]) -> list[IndexedText]:
    """What the indexes hold: children of parent-child chunks, the question of Q&A, else the chunk."""
    parents = {segment.id: segment for segment in segments}
    children = session.scalars(
        select(ChildChunk).where(ChildChunk.segment_id.in_(parents)).order_by(ChildChunk.position)
    ).all()
    with_children = {chunk.segment_id for chunk in children}
    metadata = point_metadata.snapshot(session, {segment.document_id for segment in segments})
    units = [
        _indexed(parents[chunk.segment_id], chunk.index_node_id, chunk.content, metadata)
        for chunk in children
    ]
    return units + [
        _indexed(segment, segment.index_node_id, segment.content, metadata)
        for segment in segments
        if segment.id not in with_children
    ]


def indexed_text(context: str | None, text: str) -> str:
    """What the indexes read (and the embedding cache keys on): the context line, then the text."""
    return f"{context}\n{text}" if context else text


def _indexed(segment: Segment, node_id: str, text: str, metadata: dict) -> IndexedText:
    """The chunk's context line (its document and heading path) is read before its text: a chunk of
    a table or a section rarely names what it belongs to, and the indexes should know."""
    found = metadata.get(segment.document_id)
    return IndexedText(
        node_id=node_id,
        segment_id=segment.id,
        document_id=segment.document_id,
        workspace_id=segment.workspace_id,
        dataset_id=segment.dataset_id,
        text=indexed_text(segment.context, text),
        keywords=tuple(segment.keywords or ()),
        metadata=found.payload if found else {},
        metadata_revision=found.revision if found else 0,
    )


def write_vectors(collection: str, units: list[IndexedText], vectors: np.ndarray) -> None:
    """Writes the texts' vectors; the caller records their metadata revisions
    (`point_metadata.record_written`), as writing their terms does."""
    points = [
        VectorPoint(unit.node_id, vector, _payload(unit)) for unit, vector in zip(units, vectors, strict=True)
    ]
    get_vector_store().upsert(collection, points)


def _payload(unit: IndexedText) -> dict:
    return {
        "workspace_id": unit.workspace_id,
        "dataset_id": unit.dataset_id,
        "document_id": unit.document_id,
        "segment_id": unit.segment_id,
        "enabled": True,
        **unit.metadata,
    }


def tokens_per_segment(units: list[IndexedText], counts: list[int]) -> dict[str, int]:
    tokens: dict[str, int] = {}
    for unit, count in zip(units, counts, strict=True):
        tokens[unit.segment_id] = tokens.get(unit.segment_id, 0) + count
    return tokens


def index_segments(session: Session, dataset: Dataset, segments: list[Segment]) -> None:
    """Indexes `segments` now (their vectors and terms replace any earlier ones) and records their
    embedding tokens; the caller commits."""
    units = indexed_texts(session, segments)
    tokens: dict[str, int] = {}
    for rank, target in enumerate(vector_targets(session, dataset) if units else []):
        vectors, counts = embed_with_cache(session, target.embedder, [unit.text for unit in units])
        write_vectors(target.collection, units, vectors)
        if rank == 0:
            tokens = tokens_per_segment(units, counts)
    keyword_index.write_texts(session, dataset.id, units)
    for segment in segments:
        segment.tokens = tokens.get(segment.id, 0)


def remove_from_indexes(session: Session, dataset: Dataset, segments: list[Segment]) -> None:
    """Takes the segments (and their child chunks) out of both indexes; their rows stay."""
    ids = [segment.id for segment in segments]
    if not ids:
        return
    keys = [segment.index_node_id for segment in segments if segment.index_node_id]
    keys += session.scalars(select(ChildChunk.index_node_id).where(ChildChunk.segment_id.in_(ids))).all()
    remove_nodes(session, dataset, keys, {segment.document_id for segment in segments})


def remove_nodes(session: Session, dataset: Dataset, node_ids: list[str], document_ids: set[str]) -> None:
    """Takes indexed texts (a chunk or a child chunk each, of `document_ids`) out of both indexes."""
    if not node_ids:
        return
    keyword_index.delete_texts(session, dataset.id, node_ids, document_ids)
    for collection in dataset_collections(dataset):
        get_vector_store().delete_keys(collection, node_ids)
