"""The Document object of the API, built for a page of documents at once."""

from collections.abc import Sequence
from itertools import pairwise

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.database import unix_seconds
from core.datasets.models import Dataset
from core.documents.models import (
    IN_PROGRESS,
    SOURCE_NAMES,
    DataSourceType,
    Document,
    IndexingStatus,
    UploadFile,
)
from core.index.point_metadata import BUILT_IN_FIELD_ID, BUILT_IN_FIELDS
from core.ingestion.process_rules import document_process_rule, latest_process_rule
from core.metadata.models import MetadataField
from core.segments.models import Segment, SegmentStatus
from core.workspaces.models import Account


def display_status(document: Document) -> str:
    status = document.indexing_status
    if status == IndexingStatus.WAITING:
        return "queuing"
    if status not in (IndexingStatus.COMPLETED, IndexingStatus.ERROR) and document.is_paused:
        return "paused"
    if status in IN_PROGRESS:
        return "indexing"
    if status == IndexingStatus.ERROR:
        return "error"
    if document.archived:
        return "archived"
    return "available" if document.enabled else "disabled"


def describe_documents(session: Session, dataset: Dataset, documents: list[Document]) -> list[dict]:
    context = _Context(session, dataset, documents)
    return [
        _shared_fields(document, context)
        | {
            "data_source_info": document.data_source_info,
            "data_source_detail_dict": context.source_detail(document),
            "hit_count": context.hit_counts.get(document.id, 0),
            "doc_metadata": context.metadata(document),
        }
        for document in documents
    ]


def _shared_fields(document: Document, context: "_Context") -> dict:
    """The fields the list items and the detail view have in common."""
    return {
        "id": document.id,
        "position": document.position,
        "data_source_type": document.data_source_type,
        "dataset_process_rule_id": document.dataset_process_rule_id,
        "name": document.name,
        "created_from": document.created_from,
        "created_by": document.created_by,
        "created_at": unix_seconds(document.created_at),
        "tokens": document.tokens,
        "indexing_status": document.indexing_status,
        "error": document.error,
        "enabled": document.enabled,
        "disabled_at": unix_seconds(document.disabled_at),
        "disabled_by": document.disabled_by,
        "archived": document.archived,
        "display_status": display_status(document),
        "word_count": document.word_count,
        "doc_form": document.doc_form,
        "summary_index_status": None,
        "need_summary": False,
    }


def describe_document_detail(session: Session, dataset: Dataset, document: Document, metadata: str) -> dict:
    """`metadata` is all, only or without."""
    context = _Context(session, dataset, [document])
    if metadata == "only":
        return {"id": document.id, "doc_type": document.doc_type, "doc_metadata": context.metadata(document)}
    segment_count, hits = session.execute(
        select(func.count(Segment.id), func.coalesce(func.sum(Segment.hit_count), 0)).where(
            Segment.document_id == document.id
        )
    ).one()
    detail = _shared_fields(document, context) | {
        "data_source_info": context.source_detail(document),
        "dataset_process_rule": _latest_dataset_rule(session, dataset.id),
        "document_process_rule": _document_rule(session, document),
        "completed_at": unix_seconds(document.completed_at),
        "updated_at": unix_seconds(document.updated_at),
        "indexing_latency": document.indexing_latency,
        "segment_count": segment_count,
        "average_segment_length": document.word_count // segment_count if segment_count else 0,
        "hit_count": int(hits),
        "doc_language": document.doc_language,
        # Ours: pages, and those read by OCR (null for a document without pages).
        "extraction": document.extraction,
        # Ours: how long each stage of the last finished run took.
        "stage_seconds": _stage_seconds(document),
    }
    if metadata == "all":
        detail["doc_type"] = document.doc_type
        detail["doc_metadata"] = context.metadata(document)
    return detail


STAGES = ("reading", "cleaning", "chunking", "indexing")


def _stage_seconds(document: Document) -> dict[str, float] | None:
    """Seconds per stage from the run's timestamps (the wire's are whole seconds); null until a run
    has passed every stage."""
    marks = [
        document.processing_started_at,
        document.parsing_completed_at,
        document.cleaning_completed_at,
        document.splitting_completed_at,
        document.completed_at,
    ]
    present = [mark for mark in marks if mark is not None]
    if len(present) < len(marks):
        return None
    return {
        stage: round(max(0.0, (end - start).total_seconds()), 3)
        for stage, (start, end) in zip(STAGES, pairwise(present), strict=True)
    }


def describe_indexing_status(session: Session, documents: list[Document]) -> list[dict]:
    ids = [d.id for d in documents]
    counts = dict(
        session.execute(
            select(Segment.document_id, func.count(Segment.id))
            .where(Segment.document_id.in_(ids), Segment.status != SegmentStatus.RE_SEGMENT)
            .group_by(Segment.document_id)
        ).all()
    )
    done = dict(
        session.execute(
            select(Segment.document_id, func.count(Segment.id))
            .where(
                Segment.document_id.in_(ids),
                Segment.status != SegmentStatus.RE_SEGMENT,
                Segment.completed_at.is_not(None),
            )
            .group_by(Segment.document_id)
        ).all()
    )
    return [
        {
            "id": document.id,
            "indexing_status": "paused" if document.is_paused else document.indexing_status,
            "processing_started_at": unix_seconds(document.processing_started_at),
            "parsing_completed_at": unix_seconds(document.parsing_completed_at),
            "cleaning_completed_at": unix_seconds(document.cleaning_completed_at),
            "splitting_completed_at": unix_seconds(document.splitting_completed_at),
            "completed_at": unix_seconds(document.completed_at),
            "paused_at": unix_seconds(document.paused_at),
            "error": document.error,
            "stopped_at": unix_seconds(document.stopped_at),
            "completed_segments": done.get(document.id, 0),
            "total_segments": counts.get(document.id, 0),
            "retries": document.indexing_attempts,
            "extraction": document.extraction,
        }
        for document in documents
    ]


class _Context:
    """What the views of several documents share, loaded for all of them at once."""

    def __init__(self, session: Session, dataset: Dataset, documents: list[Document]):
        self.dataset = dataset
        hits = (
            select(func.coalesce(func.sum(Segment.hit_count), 0))
            .where(Segment.document_id == Document.id)
            .scalar_subquery()
        )
        self.hit_counts: dict[str, int] = {}
        self.uploads: dict[str, UploadFile] = {}
        for document_id, hit_count, upload in session.execute(
            select(Document.id, hits, UploadFile)
            .outerjoin(UploadFile, UploadFile.id == Document.upload_file_id)
            .where(Document.id.in_([d.id for d in documents]))
        ):
            self.hit_counts[document_id] = hit_count
            if upload is not None:
                self.uploads[upload.id] = upload
        # Metadata fields and uploader names only when a document will show them.
        self.fields: Sequence[MetadataField] = []
        if any(d.doc_metadata for d in documents):
            self.fields = session.scalars(
                select(MetadataField)
                .where(MetadataField.dataset_id == dataset.id)
                .order_by(MetadataField.created_at)
            ).all()
        self.creator_names = {}
        if dataset.built_in_field_enabled:
            creators = {d.created_by for d in documents}
            self.creator_names = dict(
                session.execute(select(Account.id, Account.name).where(Account.id.in_(creators))).all()
            )

    def source_detail(self, document: Document) -> dict:
        upload = self.uploads.get(document.upload_file_id) if document.upload_file_id else None
        if upload is None or document.data_source_type != DataSourceType.UPLOAD_FILE:
            return {k: v for k, v in (document.data_source_info or {}).items() if k != "upload_file_id"}
        return {
            "upload_file": {
                "id": upload.id,
                "name": upload.name,
                "size": upload.size,
                "extension": upload.extension,
                "mime_type": upload.mime_type,
                "created_by": upload.created_by,
                "created_at": unix_seconds(upload.created_at),
            }
        }

    def metadata(self, document: Document) -> list[dict]:
        values = document.doc_metadata or {}
        items = [
            {"id": field.id, "name": field.name, "type": field.type, "value": values[field.name]}
            for field in self.fields
            if field.name in values
        ]
        if self.dataset.built_in_field_enabled:
            builtin = self.builtin_values(document)
            items += [
                {"id": BUILT_IN_FIELD_ID, "name": name, "type": kind, "value": builtin[name]}
                for name, kind in BUILT_IN_FIELDS
            ]
        return items

    def builtin_values(self, document: Document) -> dict:
        # Time built-ins are reported as stringified Unix seconds, as Dify's detail responses do.
        return {
            "document_name": document.name,
            "uploader": self.creator_names.get(document.created_by),
            "upload_date": str(float(unix_seconds(document.created_at) or 0)),
            "last_update_date": str(float(unix_seconds(document.updated_at) or 0)),
            "source": SOURCE_NAMES.get(document.data_source_type, document.data_source_type),
        }


def _latest_dataset_rule(session: Session, dataset_id: str) -> dict:
    rule = latest_process_rule(session, dataset_id)
    return {"mode": rule.mode, "rules": rule.rules} if rule else {}


def _document_rule(session: Session, document: Document) -> dict:
    rule = document_process_rule(session, document)
    if rule is None:
        return {}
    return {"id": rule.id, "dataset_id": rule.dataset_id, "mode": rule.mode, "rules": rule.rules}
