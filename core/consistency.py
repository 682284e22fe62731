"""`kb check [--repair]`: the database (the source of truth) against the search engine and the file
storage. Each kind of drift is reported with the affected ids, and with `--repair` removed: chunks
missing from the engine are indexed again (embeddings from the cache where it has them), points and
files no row refers to are deleted, collections of no dataset are dropped, and documents whose points
carry old metadata get it set again. Documents being indexed
are left alone: their new chunks are not live yet, and their run will finish them.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.database import session_scope
from core.datasets.models import Dataset, IndexingTechnique
from core.documents.models import IN_PROGRESS, Document, UploadFile
from core.files.storage import file_storage
from core.index import keyword_index, point_metadata
from core.index.engines import get_vector_store
from core.index.live import live_chunk_condition
from core.index.writer import engine_collections, index_segments, indexed_texts
from core.maintenance import COLLECTION_PREFIX, FILE_GRACE_SECONDS
from core.segments.models import ChildChunk, Segment
from core.settings import get_settings
from retrieval.conditions import META_REVISION
from retrieval.tokenizer import tokenize


@dataclass
class Drift:
    kind: str
    where: str  # a dataset id, "storage" or "engine"
    ids: list[str]
    repair: Callable[[], object] | None = field(repr=False)  # None: nothing here can repair it
    repaired: bool = False


def _each(action: Callable[[str], None], names: list[str]) -> None:
    for name in names:
        action(name)


def check(repair: bool = False, file_grace_seconds: float = FILE_GRACE_SECONDS) -> list[Drift]:
    """Files younger than the grace are left out: their upload may be recording its row right now."""
    with session_scope() as session:
        datasets = session.scalars(select(Dataset)).all()
        found = [drift for dataset in datasets for drift in _dataset_drift(session, dataset)]
        found += _storage_drift(session, file_grace_seconds) + _collection_drift(session)
        if repair:
            for drift in found:
                if drift.repair is not None:
                    drift.repair()
                    drift.repaired = True
            session.commit()
    if repair:
        point_metadata.push_stale()  # the documents the metadata repair marked
    return found


def _dataset_drift(session: Session, dataset: Dataset) -> list[Drift]:
    store = get_vector_store()
    settled = Document.indexing_status.not_in(IN_PROGRESS)
    live = session.scalars(
        select(Segment).join(Document, Document.id == Segment.document_id)
        .where(Segment.dataset_id == dataset.id, live_chunk_condition(), settled)
    ).all()  # fmt: skip
    units = indexed_texts(session, list(live))
    owner = {unit.node_id: unit.segment_id for unit in units}
    # Points are keyed by node id, which is not always the row's id: both passes compare by node id,
    # or one pass would delete what the other indexes, and --repair would never settle.
    known = set(session.scalars(select(Segment.index_node_id).where(Segment.dataset_id == dataset.id)))
    known |= set(session.scalars(select(ChildChunk.index_node_id).where(ChildChunk.dataset_id == dataset.id)))
    by_id = {segment.id: segment for segment in live}
    texts = keyword_index.term_collections(dataset.id)[keyword_index.TEXTS]
    with_terms = {
        unit.node_id for unit in units if tokenize(unit.text)
    }  # texts without terms are not indexed
    found = []

    def missing(kind: str, expected: set[str], present: set[str]) -> None:
        absent = sorted(expected - present)
        if absent:
            segments = list({by_id[owner[node]].id: by_id[owner[node]] for node in absent}.values())
            found.append(Drift(kind, dataset.id, absent, lambda: index_segments(session, dataset, segments)))

    def orphans(kind: str, collection: str, present: set[str], delete: Callable[[list[str]], None]) -> None:
        stray = sorted(present - known)
        if stray:
            found.append(Drift(kind, dataset.id, stray, lambda: delete(stray)))

    term_keys = store.keys(texts)
    missing("chunks missing from the full-text index", with_terms, term_keys)
    orphans(
        "full-text points of no chunk",
        texts,
        term_keys,
        lambda keys: keyword_index.delete_texts(session, dataset.id, keys, set()),
    )
    if dataset.indexing_technique == IndexingTechnique.HIGH_QUALITY and dataset.vector_collection:
        vector_keys = store.keys(dataset.vector_collection)
        missing("chunks without a vector", set(owner), vector_keys)
        orphans("vectors of no chunk", dataset.vector_collection, vector_keys,
                partial(store.delete_keys, dataset.vector_collection))  # fmt: skip
    behind = _metadata_behind(session, dataset, [texts, dataset.vector_collection])
    if behind:
        mark = update(Document).where(Document.id.in_(behind)).values(metadata_stale=True)
        found.append(Drift("documents whose points carry old metadata", dataset.id, behind,
                           lambda: session.execute(mark)))  # fmt: skip
    return found


def _metadata_behind(session: Session, dataset: Dataset, collections: list[str | None]) -> list[str]:
    """Settled, unmarked documents with a point whose metadata is not of the document's revision
    (marked ones are on their way: the sweeps push them, searches read the database meanwhile)."""
    settled = (Document.dataset_id == dataset.id, Document.indexing_status.not_in(IN_PROGRESS),
               Document.metadata_stale.is_(False))  # fmt: skip
    revisions = dict(session.execute(select(Document.id, Document.metadata_revision).where(*settled)).all())
    behind = {
        payload["document_id"]
        for name in collections
        if name
        for payload in get_vector_store().payloads(name, ["document_id", META_REVISION])
        if payload.get("document_id") in revisions
        and payload.get(META_REVISION, 0) != revisions[payload["document_id"]]
    }
    return sorted(behind)


def _storage_drift(session: Session, grace_seconds: float) -> list[Drift]:
    storage = file_storage(get_settings())
    referenced = set(session.scalars(select(UploadFile.storage_key)))
    modified = dict(storage.stored_keys())
    found = []
    stray = sorted(key for key in set(modified) - referenced if modified[key] < time.time() - grace_seconds)
    if stray:
        found.append(
            Drift("files no upload refers to", "storage", stray, partial(_each, storage.delete, stray))
        )
    lost = sorted(referenced - set(modified))
    if lost:
        # Nothing can bring the bytes back: the report names them (restore them from a backup).
        found.append(Drift("uploads whose file is missing", "storage", lost, None))
    return found


def _collection_drift(session: Session) -> list[Drift]:
    store = get_vector_store()
    owned = {name for dataset in session.scalars(select(Dataset)) for name in engine_collections(dataset)}
    stray = sorted(
        name for name in store.collection_names() if name.startswith(COLLECTION_PREFIX) and name not in owned
    )
    if not stray:
        return []
    return [
        Drift(
            "collections of no dataset",
            "engine",
            stray,
            partial(_each, store.drop_collection, stray),
        )
    ]
