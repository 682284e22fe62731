"""`kb reindex`, and the move of an embedded data directory from qdrant-client's local mode to
Qdrant Edge: the engine's collections are rebuilt from the database and the embedding cache."""

import logging
import shutil

from sqlalchemy import select

from core.database import session_scope
from core.datasets.models import Dataset, IndexingTechnique
from core.indexing.vector_index import rebuild_collections
from core.settings import Settings

logger = logging.getLogger(__name__)


def reindex(dataset_id: str | None = None) -> dict[str, int]:
    """Rebuilds the collections of one dataset, or of every high-quality dataset: points by dataset."""
    with session_scope() as session:
        query = select(Dataset.id).where(Dataset.indexing_technique == IndexingTechnique.HIGH_QUALITY)
        ids = list(session.scalars(query.where(Dataset.id == dataset_id) if dataset_id else query))
    return {dataset: rebuild_collections(dataset) for dataset in ids}


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
