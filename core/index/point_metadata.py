"""Each document's metadata on its points in the engine, where metadata filters read it
(`core.search.filters`).

Writers put the metadata a document has when its texts are read (`snapshot`) on the points they
write, and record its revision (`record_written`). A change to `doc_metadata`, whoever makes it,
bumps the document's `metadata_revision` and marks it `metadata_stale` in the same transaction; once
that commits, the new values are set on all the document's points and the mark is cleared if no newer
change came meanwhile. A write that raced a change (its revision is no longer the document's once it
has written) sets the values again. A mark left by an engine that was down is cleared by the sweeps,
and searches take a marked document's match from the database meanwhile, so a filter never answers
with old values.
"""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from core.database import session_scope
from core.datasets.models import Dataset
from core.documents.models import Document
from core.index.engines import DOCUMENTS, TEXTS, get_vector_store, term_collections
from retrieval.conditions import META_REVISION, metadata_payload

logger = logging.getLogger(__name__)

IN_LIST_LENGTH = 500
_WRITTEN = "metadata_written"  # session.info: {document id: revision} its writes carried
_CHANGED = "metadata_changed"  # session.info: documents whose metadata this transaction changed

# A metadata field's name, where fields are created and where filters name them: it becomes a key of
# the engine's payload, so it is kept to what every engine takes as a key.
METADATA_NAME = re.compile(r"[a-z0-9_]+")
METADATA_NAME_RULE = "Metadata name can only contain lowercase letters, digits and underscores."
# The five built-in fields a dataset may turn on: values every document has, kept in its metadata
# beside the dataset's own fields.
BUILT_IN_FIELD_ID = "built-in"
BUILT_IN_FIELDS: tuple[tuple[str, str], ...] = (
    ("document_name", "string"),
    ("uploader", "string"),
    ("upload_date", "time"),
    ("last_update_date", "time"),
    ("source", "string"),
)


@dataclass(frozen=True)
class PointMetadata:
    payload: dict  # as points carry it (`retrieval.conditions.metadata_payload`)
    revision: int  # the document's metadata_revision it was read at


def snapshot(session: Session, document_ids: Iterable[str]) -> dict[str, PointMetadata]:
    """Each document's metadata now, for points about to be written."""
    rows = _rows(session, document_ids, Document.id, Document.doc_metadata, Document.metadata_revision)
    return {id_: PointMetadata(point_payload(values, revision), revision) for id_, values, revision in rows}


def point_payload(values: dict | None, revision: int) -> dict:
    return metadata_payload(values) | {META_REVISION: revision}


def carried_revisions(payloads: list[dict]) -> dict[str, int]:
    """The revisions that points read back from the engine carry, by document."""
    return {p["document_id"]: p.get(META_REVISION, 0) for p in payloads if "document_id" in p}


def record_written(session: Session, revisions: dict[str, int]) -> None:
    """Points carrying these revisions' metadata were written: once the session's transaction ends,
    documents changed since get their points' metadata set again (`confirm_written`)."""
    written = session.info.setdefault(_WRITTEN, {})
    for document_id, revision in revisions.items():  # the oldest values written are the ones to check
        written[document_id] = min(revision, written.get(document_id, revision))


def confirm_written(revisions: dict[str, int]) -> None:
    """After points of these documents were written with the metadata of these revisions: the
    documents changed since get their points' metadata set again."""
    if not revisions:
        return
    with session_scope() as session:
        now = dict(_rows(session, revisions, Document.id, Document.metadata_revision))
    overtaken = [id_ for id_, revision in revisions.items() if id_ in now and now[id_] != revision]
    if overtaken:
        push(overtaken)


def push(document_ids: Iterable[str]) -> list[str]:
    """Sets each document's metadata on all its points, then clears its stale mark unless it changed
    again meanwhile. Returns the documents pushed; one whose push failed keeps its mark."""
    pushed = []
    with session_scope() as session:
        columns = (Document.id, Document.dataset_id, Document.doc_metadata, Document.metadata_revision)
        rows = _rows(session, document_ids, *columns)
        datasets: dict[str, Dataset | None] = {}
        for document_id, dataset_id, values, revision in rows:
            if dataset_id not in datasets:
                datasets[dataset_id] = session.get(Dataset, dataset_id)
            dataset = datasets[dataset_id]
            if dataset is None:
                continue
            try:
                _set_on_points(dataset, document_id, point_payload(values, revision))
            except Exception:  # noqa: BLE001 - the engine is down: the mark stays, the sweep pushes again
                logger.warning("metadata of document %s not yet in the engine", document_id, exc_info=True)
                continue
            session.execute(
                update(Document)
                .where(Document.id == document_id, Document.metadata_revision == revision)
                .values(metadata_stale=False)
            )
            pushed.append(document_id)
        session.commit()
    return pushed


def _set_on_points(dataset: Dataset, document_id: str, payload: dict) -> None:
    names = term_collections(dataset.id)
    store = get_vector_store()
    for name in (
        dataset.vector_collection,
        dataset.pending_vector_collection,
        names[TEXTS],
        names[DOCUMENTS],
    ):
        if name:
            store.set_document_payload(name, document_id, payload)


def push_stale() -> int:
    """The sweeps' part: documents still marked (their push failed) are pushed again."""
    with session_scope() as session:
        stale = list(session.scalars(select(Document.id).where(Document.metadata_stale)))
    return len(push(stale)) if stale else 0


def _rows(session: Session, document_ids: Iterable[str], *columns) -> list:
    """The columns of these documents, asked in IN lists of a bounded length (SQLite limits the
    parameters of a statement)."""
    ids = sorted(set(document_ids))
    slices = (ids[start : start + IN_LIST_LENGTH] for start in range(0, len(ids), IN_LIST_LENGTH))
    return [row for part in slices for row in session.execute(select(*columns).where(Document.id.in_(part)))]


def follow_metadata_changes() -> None:
    """Registers the session hooks this module's promise rests on (once, whatever the number of calls):
    a flush that changes a document's `doc_metadata` bumps its revision and marks it stale, a commit
    pushes the new values to its points, and the end of a transaction confirms what its writes carried
    (or forgets a change rolled back). Called by the model registry (`core.models`), which every engine
    loads before its first session."""
    for name, hook in (
        ("before_flush", _mark_changed_metadata),
        ("after_commit", _push_changed_metadata),
        ("after_transaction_end", _confirm_writes),
    ):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)


def _mark_changed_metadata(session: Session, _context, _instances) -> None:
    for document in session.dirty:
        if isinstance(document, Document) and inspect(document).attrs.doc_metadata.history.has_changes():
            document.metadata_revision = Document.metadata_revision + 1  # in SQL: concurrent changes add up
            document.metadata_stale = True
            session.info.setdefault(_CHANGED, set()).add(document.id)


def _push_changed_metadata(session: Session) -> None:
    changed = session.info.pop(_CHANGED, None)
    if changed:
        _after_transaction(push, changed)


def _confirm_writes(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    session.info.pop(_CHANGED, None)  # a rolled-back change changed nothing
    written = session.info.pop(_WRITTEN, None)
    if written:
        _after_transaction(confirm_written, written)


def _after_transaction(step, argument) -> None:
    """The transaction has ended: what follows must not fail it. A push that could not run leaves
    its documents marked, for the sweep."""
    try:
        step(argument)
    except Exception:  # noqa: BLE001 - the database went away between the commit and this
        logger.warning("document metadata not yet in the engine (%s)", step.__name__, exc_info=True)
