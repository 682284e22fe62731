"""Indexing runs of uploaded-file documents: extract, clean, split, embed, index, then swap.

A run claims the document by bumping its `index_generation`; every segment it writes or keeps carries
that generation. Segments of a new run stay invisible to search (status `indexing`) until the final
transaction deletes the older generation and marks the new one `completed`, so a reader sees either
the old chunks or the new ones, never both or neither. Unchanged chunks are kept with their vectors
and terms, so re-indexing an unchanged document embeds nothing.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import ObjectDeletedError

from core import metrics, tracing
from core.database import existing, rows_changed, utcnow
from core.datasets.models import Dataset
from core.documents.models import Document, IndexingStatus, UploadFile
from core.files.uploads import local_copy, stored
from core.index import keyword_index
from core.index.embedding_cache import PendingEmbeddings, finish_embedding, start_embedding, text_hash
from core.index.engines import get_vector_store
from core.index.keyword_index import IndexedText
from core.index.writer import (
    VECTOR_INDEX_FIELDS,
    VectorTarget,
    dataset_collections,
    indexed_texts,
    remove_from_indexes,
    tokens_per_segment,
    vector_targets,
    write_vectors,
)
from core.ingestion.lease import PROCESS_ID, holding
from core.ingestion.planning import (
    IndexingFailed,
    PlannedSegment,
    extract_parts,
    extraction_summary,
    plan_segments,
)
from core.ingestion.process_rules import AUTOMATIC_RULES, document_process_rule
from core.ingestion.progress import page_reporter
from core.segments.models import ChildChunk, Segment, SegmentStatus, new_child_chunk, new_segment
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

SEGMENTS_PER_BATCH = 128


class IndexingStopped(Exception):
    """The run must end quietly: the document was paused, deleted, or claimed by a newer run."""


@dataclass
class Run:
    """One document being indexed, under the generation this run claimed for it. The id is kept apart:
    reading it from a row that was deleted meanwhile would raise."""

    document: Document
    generation: int
    document_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.document_id = self.document.id


FailureHandler = Callable[[str, Exception], None]


def index_documents(
    session: Session, dataset: Dataset, document_ids: Iterable[str], on_failure: FailureHandler
) -> None:
    """Indexes documents of one dataset together. Each is parsed, split and saved on its own (a failure
    marks only that document); their new chunks flow into shared batches as they are made, which keeps
    the model busy with full batches however small the documents are. Each document goes live as soon
    as all of its chunks are written. `documents` may be a generator that finds more as it goes."""
    settings = get_settings()
    batches = _SharedBatches(session, dataset)
    with holding() as held:
        try:
            for document_id in document_ids:
                document = session.get(Document, document_id)
                if document is None:
                    continue  # deleted since it was queued
                held.add(document_id)  # heartbeated from the claim on, through a parse of any length
                logger.info("indexing started", extra={"document_id": document_id})
                try:
                    run = _prepare(session, settings, document)
                except IndexingStopped:
                    session.rollback()
                    continue
                except Exception as error:  # noqa: BLE001 - reported on this document; the others go on
                    session.rollback()
                    on_failure(document_id, error)
                    continue
                batches.add(run)
            batches.finish()
        except Exception as error:  # noqa: BLE001 - the shared embedding step failed for those not yet live
            session.rollback()
            for run in batches.runs:
                on_failure(run.document_id, error)


def _prepare(session: Session, settings: Settings, document: Document) -> Run:
    resuming = document.indexing_status == IndexingStatus.INDEXING and _has_new_segments(session, document)
    run = Run(document, _claim(session, document, resuming))
    if resuming:
        return run
    upload = _source_file(session, settings, document)
    with local_copy(settings, upload) as path:
        with tracing.span("index.extract", {"document_id": document.id, "extension": upload.extension}):
            reporter = page_reporter(session, document.id, run.generation)
            parts = extract_parts(settings, path, upload.extension, reporter)
        parsed_at = utcnow()
        rule = _process_rule(session, document)
        with tracing.span("index.chunk", {"document_id": document.id, "doc_form": document.doc_form}):
            planned = plan_segments(
                settings,
                document.doc_form,
                document.doc_language,
                rule,
                parts,
                path,
                upload.extension,
                title=document.name,
                metadata=document.doc_metadata,
            )
    if not planned:
        raise IndexingFailed("No chunks could be made from the document's text.")
    _ensure_current(session, document, run.generation)
    words = _save_segments(session, document, run.generation, planned)
    split_at = utcnow()
    document.indexing_status = IndexingStatus.INDEXING
    document.parsing_completed_at = parsed_at
    document.cleaning_completed_at = document.splitting_completed_at = split_at
    document.word_count = words
    document.extraction = extraction_summary(parts)
    document.heartbeat_at = split_at
    session.commit()
    return run


def _claim(session: Session, document: Document, resuming: bool) -> int:
    """Compare-and-set on the generation: of two runs started for one document, one proceeds. A fresh
    run also enters `parsing` in the same statement."""
    current = document.index_generation
    values: dict = {"index_generation": current + 1, "heartbeat_at": utcnow(), "lease_holder": PROCESS_ID}
    if not resuming:
        values |= {"indexing_status": IndexingStatus.PARSING, "processing_started_at": utcnow()}
    claimed = rows_changed(
        session.execute(
            update(Document)
            .where(
                Document.id == document.id,
                Document.index_generation == current,
                Document.is_paused.is_(False),
            )
            .values(**values)
        )
    )
    if not claimed:
        session.rollback()
        raise IndexingStopped()
    if resuming:
        session.execute(
            update(Segment)
            .where(Segment.document_id == document.id, Segment.generation == current)
            .values(generation=current + 1)
        )
    else:
        _discard_new_segments(session, document)
    session.commit()
    session.refresh(document)
    return current + 1


def _ensure_current(session: Session, document: Document, generation: int) -> None:
    if not _current_ids(session, [Run(document, generation)]):
        session.rollback()
        raise IndexingStopped()


def _current_ids(session: Session, runs: list[Run]) -> set[str]:
    """The documents still owned by these runs: not deleted, paused or claimed by a newer run."""
    generations = {run.document_id: run.generation for run in runs}
    rows = session.execute(
        select(Document.id, Document.is_paused, Document.index_generation).where(Document.id.in_(generations))
    )
    return {row.id for row in rows if not row.is_paused and row.index_generation == generations[row.id]}


def _has_new_segments(session: Session, document: Document) -> bool:
    return (
        session.scalar(
            select(Segment.id)
            .where(Segment.document_id == document.id, Segment.status == SegmentStatus.INDEXING)
            .limit(1)
        )
        is not None
    )


def _discard_new_segments(session: Session, document: Document) -> None:
    """Chunks of an interrupted or failed run that never went live, with whatever of them reached the
    engine (the next run gives its chunks new ids, so nothing would overwrite those points)."""
    unfinished = session.scalars(
        select(Segment).where(Segment.document_id == document.id, Segment.status == SegmentStatus.INDEXING)
    ).all()
    if unfinished:
        remove_from_indexes(session, existing(session, Dataset, document.dataset_id), list(unfinished))
        session.execute(delete(Segment).where(Segment.id.in_([segment.id for segment in unfinished])))


def _source_file(session: Session, settings: Settings, document: Document) -> UploadFile:
    upload = session.get(UploadFile, document.upload_file_id) if document.upload_file_id else None
    if upload is None:
        raise IndexingFailed("The uploaded file of this document no longer exists.")
    if not stored(settings, upload):
        raise IndexingFailed("The uploaded file of this document is missing from storage.")
    return upload


def _process_rule(session: Session, document: Document) -> dict:
    rule = document_process_rule(session, document)
    if rule is None:
        return {"mode": "automatic", "rules": AUTOMATIC_RULES}
    return {"mode": rule.mode, "rules": rule.rules or AUTOMATIC_RULES}


def _save_segments(
    session: Session, document: Document, generation: int, planned: list[PlannedSegment]
) -> int:
    """Keeps live segments whose text is unchanged (re-stamped with this generation), adds the rest as
    new. Returns the word count of the document's chunks."""
    reusable = _reusable_segments(session, document)
    now = utcnow()
    words = 0
    children: list[ChildChunk] = []
    for position, plan in enumerate(planned, start=1):
        words += len(plan.content) + len(plan.answer or "")
        kept = reusable.get((text_hash(plan.content), plan.answer, tuple(plan.children), plan.context))
        if kept:
            segment = kept.pop()
            segment.position = position
            segment.generation = generation
            _set_place(segment, plan)
            continue
        segment = new_segment(
            document, position, plan.content, plan.answer, created_by=document.created_by, at=now,
            status=SegmentStatus.INDEXING, generation=generation,
        )  # fmt: skip
        segment.context = plan.context
        _set_place(segment, plan)
        session.add(segment)
        children += [
            new_child_chunk(segment, child_position, child, created_by=document.created_by, at=now)
            for child_position, child in enumerate(plan.children, start=1)
        ]
    session.flush()  # parents first: child chunks reference them
    session.add_all(children)
    session.flush()
    return words


def _set_place(segment: Segment, plan: PlannedSegment) -> None:
    place = plan.place
    segment.page_start, segment.page_end = (place.page_start, place.page_end) if place else (None, None)
    segment.heading_path = list(place.heading_path) if place and place.heading_path else None


def _reusable_segments(session: Session, document: Document) -> dict[tuple, list[Segment]]:
    live = session.scalars(
        select(Segment).where(
            Segment.document_id == document.id,
            Segment.status == SegmentStatus.COMPLETED,
            Segment.enabled.is_(True),
        )
    ).all()
    children: dict[str, list[str]] = {}
    for chunk in session.scalars(
        select(ChildChunk).where(ChildChunk.document_id == document.id).order_by(ChildChunk.position)
    ):
        children.setdefault(chunk.segment_id, []).append(chunk.content)
    reusable: dict[tuple, list[Segment]] = {}
    for segment in live:
        key = (segment.index_node_hash, segment.answer, tuple(children.get(segment.id, [])), segment.context)
        reusable.setdefault(key, []).append(segment)
    return reusable


@dataclass
class _BatchInFlight:
    """Segments whose texts are being embedded while the worker goes on with other work."""

    segment_ids: list[str]
    units: list[IndexedText]
    embeddings: list[tuple[VectorTarget, PendingEmbeddings]]


class _SharedBatches:
    """The new chunks of several runs, embedded and written in batches of SEGMENTS_PER_BATCH. One batch
    is always with the model while the worker prepares the next documents and writes the batch before
    it, so the model (the costly part) never waits for parsing, the database or the vector store. A run
    is swapped in once the last of its chunks is written."""

    def __init__(self, session: Session, dataset: Dataset):
        self.session = session
        self.dataset = dataset
        self.runs: list[Run] = []  # prepared, not yet live
        self._unwritten: dict[str, set[str]] = {}  # document id -> its new chunks not yet written
        self._waiting: list[str] = []
        self._in_flight: _BatchInFlight | None = None

    def add(self, run: Run) -> None:
        new_ids = self.session.scalars(
            select(Segment.id)
            .where(
                Segment.document_id == run.document_id,
                Segment.status == SegmentStatus.INDEXING,
                Segment.completed_at.is_(None),
            )
            .order_by(Segment.position)
        ).all()
        self.runs.append(run)
        self._unwritten[run.document_id] = set(new_ids)
        self._waiting += new_ids
        if not new_ids:
            self._swap_in_finished()
        while len(self._waiting) >= SEGMENTS_PER_BATCH:
            self._advance(self._waiting[:SEGMENTS_PER_BATCH])
            self._waiting = self._waiting[SEGMENTS_PER_BATCH:]

    def finish(self) -> None:
        if self._waiting:
            self._advance(self._waiting)
            self._waiting = []
        self._advance([])

    def _advance(self, segment_ids: list[str]) -> None:
        """Sends `segment_ids` to the model, then writes the batch that was there before them."""
        self._let_go_of_stopped_runs()
        started = self._start(segment_ids) if segment_ids else None
        if self._in_flight is not None:
            with tracing.span("index.embed_and_write", {"chunks": len(self._in_flight.units)}):
                _write_batch(self.session, self.dataset.id, self._in_flight, self.runs)
            written = set(self._in_flight.segment_ids)
            for unwritten in self._unwritten.values():
                unwritten -= written
            self._swap_in_finished()
        self._in_flight = started

    def _swap_in_finished(self) -> None:
        """Makes live every run whose chunks are all written."""
        for run in [run for run in self.runs if not self._unwritten[run.document_id]]:
            self.runs.remove(run)
            del self._unwritten[run.document_id]
            try:
                with tracing.span("index.go_live", {"document_id": run.document_id}):
                    _swap_in(self.session, self.dataset, run)
            except (IndexingStopped, ObjectDeletedError):  # paused, re-claimed or deleted meanwhile
                self.session.rollback()

    def _let_go_of_stopped_runs(self) -> None:
        """Runs paused, deleted or claimed by a newer run meanwhile are let go before each batch: their
        chunks stay out of the batches (the one with the model included) and their heartbeats stop, so
        a resumed document is taken up again at once."""
        current = _current_ids(self.session, self.runs) if self.runs else set()
        self.runs = [run for run in self.runs if run.document_id in current]
        self._unwritten = {run.document_id: self._unwritten[run.document_id] for run in self.runs}

    def _start(self, segment_ids: list[str]) -> _BatchInFlight | None:
        owned = [run.document_id for run in self.runs]
        segments = self.session.scalars(
            select(Segment).where(Segment.id.in_(segment_ids), Segment.document_id.in_(owned))
        ).all()
        if not segments:
            return None
        units = indexed_texts(self.session, list(segments))
        # Targets are looked up per batch (a model change may start during a long run); a model that
        # cannot be loaded raises here, inside the caller's error handling, and fails the run's documents.
        embeddings = [
            (target, start_embedding(self.session, target.embedder, [unit.text for unit in units]))
            for target in vector_targets(self.session, self.dataset)
        ]
        return _BatchInFlight([segment.id for segment in segments], units, embeddings)


def _write_batch(session: Session, dataset_id: str, batch: _BatchInFlight, runs: list[Run]) -> None:
    """Writes the batch's chunks that still exist and whose runs still own their documents once the
    model is done: a document deleted or paused while its chunks were with the model takes them
    along, and must not fail the others (a delete that lands in between is retried)."""
    for attempt in range(2):
        # finished again on a retry: the rollback dropped the cache rows finishing adds to the session
        embedded = [(target, *finish_embedding(session, pending)) for target, pending in batch.embeddings]
        try:
            _write_existing(session, dataset_id, batch, embedded, _current_ids(session, runs))
            return
        except IntegrityError:
            session.rollback()
            if attempt:
                raise


def _write_existing(
    session: Session, dataset_id: str, batch: _BatchInFlight, embedded: list[tuple], owned: set[str]
) -> None:
    existing = set(
        session.scalars(
            select(Segment.id).where(Segment.id.in_(batch.segment_ids), Segment.document_id.in_(owned))
        )
    )
    keep = [i for i, unit in enumerate(batch.units) if unit.segment_id in existing]
    units = [batch.units[i] for i in keep]
    tokens: dict[str, int] = {}
    for rank, (target, vectors, counts) in enumerate(embedded):
        if units:
            write_vectors(target.collection, units, vectors[keep])
        if rank == 0:
            tokens = tokens_per_segment(units, [counts[i] for i in keep])
    # the document's own point waits for the swap: until then it stands for the live version
    keyword_index.write_texts(session, dataset_id, units, refresh_documents=False)
    metrics.CHUNKS_INDEXED.inc(len(units))
    now = utcnow()
    written = [sid for sid in batch.segment_ids if sid in existing]
    if written:
        session.execute(
            update(Segment),
            [{"id": sid, "tokens": tokens.get(sid, 0), "completed_at": now} for sid in written],
        )
        session.execute(update(ChildChunk).where(ChildChunk.segment_id.in_(written)).values(completed_at=now))
    session.commit()


def _swap_in(session: Session, dataset: Dataset, run: Run) -> None:
    """One transaction retires the older generation and makes the new one live."""
    document, generation = run.document, run.generation
    _ensure_current(session, document, generation)
    doomed = session.scalars(
        select(Segment).where(Segment.document_id == document.id, Segment.generation < generation)
    ).all()
    doomed_ids = [segment.id for segment in doomed]
    doomed_keys = [segment.index_node_id for segment in doomed if segment.index_node_id]
    if doomed_ids:
        doomed_keys += session.scalars(
            select(ChildChunk.index_node_id).where(ChildChunk.segment_id.in_(doomed_ids))
        )
        session.execute(delete(Segment).where(Segment.id.in_(doomed_ids)))
    now = utcnow()
    session.execute(
        update(Segment)
        .where(Segment.document_id == document.id, Segment.status == SegmentStatus.INDEXING)
        .values(status=SegmentStatus.COMPLETED)
    )
    document.tokens, document.word_count, segments = session.execute(
        select(
            func.coalesce(func.sum(Segment.tokens), 0),
            func.coalesce(func.sum(Segment.word_count), 0),
            func.count(Segment.id),
        ).where(Segment.document_id == document.id)
    ).one()
    document.indexing_status = IndexingStatus.COMPLETED
    document.completed_at = now
    document.indexing_latency = (now - (document.processing_started_at or now)).total_seconds()
    document.error = None
    document.stopped_at = None
    document.indexing_attempts = 0
    session.commit()
    logger.info("document indexed", extra={"document_id": document.id, "segments": segments,
                "seconds": round(document.indexing_latency, 3)})  # fmt: skip
    session.refresh(dataset, VECTOR_INDEX_FIELDS)
    for collection in dataset_collections(dataset):
        get_vector_store().delete_keys(collection, doomed_keys)
    keyword_index.delete_texts(session, dataset.id, doomed_keys, {document.id})
