"""`kb reindex`, and the moves of a data directory to new engines: the engine's collections are
rebuilt from the database (the source of truth) and the embedding cache."""

import logging
import shutil

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.database import session_scope
from core.datasets.models import Dataset, IndexingTechnique
from core.documents.models import Document
from core.index import keyword_index
from core.index.engines import get_vector_store
from core.index.live import live_chunk_condition
from core.index.writer import indexed_texts
from core.ingestion.vector_index import rebuild_collections
from core.segments.models import Segment
from core.settings import Settings

logger = logging.getLogger(__name__)

SEGMENTS_PER_BATCH = 256


def reindex(dataset_id: str | None = None) -> dict[str, int]:
    """Rebuilds the collections of one dataset or of every one: points by dataset."""
    with session_scope() as session:
        query = select(Dataset.id, Dataset.indexing_technique)
        rows = session.execute(query.where(Dataset.id == dataset_id) if dataset_id else query).all()
    return {
        dataset: rebuild_term_collections(dataset)
        + (rebuild_collections(dataset) if technique == IndexingTechnique.HIGH_QUALITY else 0)
        for dataset, technique in rows
    }


def rebuild_term_collections(dataset_id: str) -> int:
    """Empties the dataset's term collections and writes every live text again. Returns the texts."""
    for name in keyword_index.term_collections(dataset_id).values():
        get_vector_store().drop_collection(name)
    with session_scope() as session:
        return _write_live_texts(session, dataset_id)


def _write_live_texts(session: Session, dataset_id: str) -> int:
    segment_ids = session.scalars(
        select(Segment.id)
        .join(Document, Document.id == Segment.document_id)
        .where(Segment.dataset_id == dataset_id, live_chunk_condition())
        .order_by(Segment.document_id, Segment.position)
    ).all()
    written, documents = 0, set()
    for start in range(0, len(segment_ids), SEGMENTS_PER_BATCH):
        batch = session.scalars(
            select(Segment).where(Segment.id.in_(segment_ids[start : start + SEGMENTS_PER_BATCH]))
        ).all()
        texts = indexed_texts(session, list(batch))
        keyword_index.write_texts(session, dataset_id, texts, refresh_documents=False)
        written += len(texts)
        documents |= {segment.document_id for segment in batch}
    keyword_index.refresh_document_terms(session, dataset_id, documents)
    keyword_index.settle_averages(session, dataset_id)
    return written


def build_missing_term_collections() -> int:
    """Datasets from before the full-text index moved into the engine (and any whose term collections
    were lost) get them before anything is served; nothing is dropped, so a first indexing run under
    way elsewhere loses nothing. The others settle their averages: a stop or a crash may have cut
    short a rewrite of their weights, or the end of an indexing burst that would have taken a new one.
    Returns how many were built."""
    with session_scope() as session:
        with_segments = session.scalars(select(Segment.dataset_id).distinct()).all()
        if not with_segments:
            return 0
        present = set(get_vector_store().collection_names())
        built = 0
        for dataset_id in with_segments:
            if keyword_index.term_collections(dataset_id)[keyword_index.TEXTS] not in present:
                logger.warning("building the full-text index of dataset %s in the search engine", dataset_id)
                built += _write_live_texts(session, dataset_id) > 0
            else:
                keyword_index.settle_averages(session, dataset_id)
        return built


def migrate_local_mode_vectors(settings: Settings) -> bool:
    """An embedded data directory from before Qdrant Edge holds its vectors in qdrant-client's local
    mode: they are rebuilt in the embedded engine before anything is served (never half-empty), then
    the old directory is removed. Returns whether a migration ran."""
    legacy = settings.legacy_local_mode_path
    if settings.qdrant_url or not (legacy / "collection").is_dir():
        return False
    logger.warning("moving the vectors in %s to the embedded engine (kb reindex)", legacy)
    rebuilt = reindex()
    shutil.rmtree(legacy)
    logger.warning(
        "rebuilt %d points of %d datasets; %s removed", sum(rebuilt.values()), len(rebuilt), legacy
    )
    return True


def prepare_engine(settings: Settings) -> None:
    """Before serving: whatever an older data directory lacks in the engine is built first. A Qdrant
    server that does not answer yet does not keep the API down (readiness reports it); the check
    runs again at the next start."""
    if migrate_local_mode_vectors(settings):
        return
    try:
        build_missing_term_collections()
    except Exception:  # noqa: BLE001 - only the server's absence is tolerated, the embedded engine's errors stop the start
        if not settings.qdrant_url:
            raise
        logger.warning(
            "the search engine at %s did not answer: term collections not checked", settings.qdrant_url
        )
