"""Document operations: create (text or file), update, list, read, delete, pause, resume, retry."""

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.api_keys.service import Caller
from core.database import paginate, utcnow
from core.datasets import service as datasets
from core.datasets.models import Dataset, DatasetProvider, IndexingTechnique
from core.documents.builtin_metadata import built_in_values
from core.documents.lookup import documents_of, get_document
from core.documents.models import (
    IN_PROGRESS,
    ONLINE_SOURCES,
    UNFINISHED_STATUSES,
    DataSourceType,
    Document,
    IndexingStatus,
    ProcessRule,
    UploadFile,
)
from core.documents.schemas import DocumentOptions
from core.documents.views import display_status
from core.errors import (
    ArchivedDocumentImmutable,
    DocumentAlreadyFinished,
    DocumentIndexing,
    InvalidAction,
    InvalidParam,
    NotFound,
)
from core.files import uploads
from core.files.uploads import StoredFile
from core.index.engines import get_vector_store
from core.index.writer import engine_collections
from core.ingestion.process_rules import AUTOMATIC_RULES, latest_process_rule
from core.queue import INDEX_DOCUMENT_TASK, enqueue_after_commit
from core.search.schemas import RetrievalModel, SearchMethod
from core.settings import get_settings

MAX_PAGE_SIZE = 100
FIRST_DOCUMENT_RETRIEVAL_MODEL = RetrievalModel(
    search_method=SearchMethod.SEMANTIC, reranking_enable=False, top_k=4, score_threshold_enabled=False
)


@dataclass(frozen=True)
class NewFile:
    """Content already stored on disk, to become a document's source."""

    stored: StoredFile
    name: str
    extension: str
    mime_type: str | None


@contextmanager
def discarded_on_failure(session: Session, source: NewFile | None) -> Iterator[None]:
    """A stored file whose request fails is removed again, unless another upload shares its content."""
    try:
        yield
    except BaseException:
        session.rollback()
        if source is not None:
            uploads.delete_stored_file_if_unused(session, get_settings(), source.stored.storage_key)
        raise


def new_batch_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + str(random.randint(100000, 999999))


def create_document(
    session: Session,
    caller: Caller,
    dataset: Dataset,
    options: DocumentOptions,
    source: NewFile,
    *,
    source_type: str = DataSourceType.UPLOAD_FILE,
    source_info: dict | None = None,
    batch: str | None = None,
) -> tuple[Document, str]:
    """A new document from `source`; an enabled document of the same name and source type is re-used
    instead. Online sources (`source_type` website_crawl, notion_import) store their fetched text as
    the file and describe where it came from in `source_info`."""
    _lock_dataset(session, dataset)
    if options.original_document_id:
        original = get_document(session, dataset, options.original_document_id)
        return update_document(session, caller, dataset, original, options, source, name=None), original.batch
    batch = batch or new_batch_id()
    document, old_upload, old_rule = _same_name_document(session, dataset, source_type, source.name)
    if document is not None and _unchanged(session, document, old_upload, old_rule, options, source):
        # The index is already right, and the dataset's settings were checked when the document was
        # made: only the batch moves.
        document.batch = batch
        session.commit()
        return document, batch
    _prepare_dataset(session, dataset, options, source_type)
    rule_id = _resolve_process_rule(session, caller, dataset, options)
    upload = record_callers_upload(session, caller, source)
    if document is None:
        document = Document(
            workspace_id=dataset.workspace_id,
            dataset_id=dataset.id,
            position=_next_position(session, dataset),
            data_source_type=source_type,
            name=source.name,
            created_from="api",
            created_by=caller.account.id,
            doc_form=options.doc_form,
            doc_language=options.doc_language,
        )
        session.add(document)
    document.batch = batch
    document.dataset_process_rule_id = rule_id
    _point_to_upload(document, upload, source_info)
    if dataset.built_in_field_enabled:
        session.flush()  # the built-in upload date is the row's creation time
        document.doc_metadata = {**(document.doc_metadata or {}), **built_in_values(session, document)}
    _queue_indexing(session, document)
    session.commit()
    return document, batch


def update_document(
    session: Session,
    caller: Caller,
    dataset: Dataset,
    document: Document,
    options: DocumentOptions,
    source: NewFile | None,
    *,
    name: str | None,
) -> Document:
    """New content, name or process rule for an available document, then a re-index that swaps in
    the new chunks at once; the document keeps its batch id."""
    if document.archived:
        raise ArchivedDocumentImmutable()
    if display_status(document) != "available":
        raise InvalidParam("Document is not available")
    if options.doc_form != (dataset_doc_form(session, dataset) or options.doc_form):
        raise InvalidParam("doc_form is different from the dataset doc_form.")
    if options.process_rule is not None:
        document.dataset_process_rule_id = _new_process_rule(session, caller, dataset, options.process_rule)
    replaced = document.upload_file_id
    if source is not None:
        _point_to_upload(document, record_callers_upload(session, caller, source))
    if name:
        document.name = name
    if "doc_language" in options.model_fields_set:  # a rename or a new rule keeps the document's language
        document.doc_language = options.doc_language
    _queue_indexing(session, document)
    session.commit()
    _release_upload(session, replaced, document)
    return document


def replace_content(session: Session, document: Document, source: NewFile, source_info: dict) -> None:
    """New text fetched for an online document (a sync): re-indexed in place, and since unchanged
    chunks keep their vectors, only the changed ones are embedded."""
    upload = uploads.record_upload(
        session,
        workspace_id=document.workspace_id,
        created_by=document.created_by,
        stored=source.stored,
        name=source.name,
        extension=source.extension,
        mime_type=source.mime_type,
    )
    replaced = document.upload_file_id
    _point_to_upload(document, upload, source_info)
    _queue_indexing(session, document)
    session.commit()
    _release_upload(session, replaced, document)


def _release_upload(session: Session, upload_id: str | None, document: Document) -> None:
    """The upload a document no longer points to goes, row and file, once nothing else refers to it
    (content-addressed files may back several rows)."""
    if upload_id is None or upload_id == document.upload_file_id:
        return
    upload = session.get(UploadFile, upload_id)
    if upload is None or _upload_in_use(session, upload_id, document.id):
        return
    session.delete(upload)
    session.commit()
    uploads.delete_stored_file_if_unused(session, get_settings(), upload.storage_key)


def list_documents(
    session: Session, dataset: Dataset, *, page: int, limit: int, keyword: str | None, status: str | None
) -> tuple[list[Document], int]:
    query = select(Document).where(Document.dataset_id == dataset.id)
    if keyword:
        query = query.where(Document.name.contains(keyword))
    if status:
        condition = _display_status_condition(status)
        if condition is None:
            raise InvalidParam(f"Invalid status: {status}. Use one of {', '.join(DISPLAY_STATUSES)}.")
        query = query.where(condition)
    limit = min(limit, MAX_PAGE_SIZE)
    return paginate(session, query, page, limit, Document.created_at.desc(), Document.position.desc())


def documents_of_batch(session: Session, dataset: Dataset, batch: str) -> list[Document]:
    documents = session.scalars(
        select(Document)
        .where(Document.dataset_id == dataset.id, Document.batch == batch)
        .order_by(Document.position)
    ).all()
    if not documents:
        raise NotFound("Documents not found.")
    return list(documents)


def documents_by_ids(session: Session, dataset: Dataset, document_ids: list[str]) -> list[Document]:
    """The dataset's documents among `document_ids` (others' ids are simply not found)."""
    return list(
        session.scalars(
            select(Document)
            .where(Document.dataset_id == dataset.id, Document.id.in_(document_ids))
            .order_by(Document.position)
        ).all()
    )


def delete_document(session: Session, dataset: Dataset, document_id: str) -> None:
    document = get_document(session, dataset, document_id, "Document Not Exists.")
    if document.archived:
        raise ArchivedDocumentImmutable()
    if document.indexing_status in IN_PROGRESS and not document.is_paused:
        raise DocumentIndexing("Cannot delete document during indexing.")
    upload = session.get(UploadFile, document.upload_file_id) if document.upload_file_id else None
    session.delete(document)
    if upload is not None and not _upload_in_use(session, upload.id, document.id):
        session.delete(upload)
    session.commit()
    if upload is not None:
        uploads.delete_stored_file_if_unused(session, get_settings(), upload.storage_key)
    for collection in engine_collections(dataset):
        get_vector_store().delete_where(collection, document_id=document.id)


def pause_document(session: Session, caller: Caller, dataset: Dataset, document_id: str) -> None:
    document = get_document(session, dataset, document_id)
    if document.indexing_status not in UNFINISHED_STATUSES:
        raise DocumentAlreadyFinished()
    document.is_paused = True
    document.paused_at = utcnow()
    document.paused_by = caller.account.id
    session.commit()


def resume_document(session: Session, dataset: Dataset, document_id: str) -> None:
    document = get_document(session, dataset, document_id)
    if not document.is_paused:
        raise InvalidAction("Document is not paused.")
    document.is_paused = False
    document.paused_at = None
    document.paused_by = None
    document.heartbeat_at = None  # the paused run has stopped: the next task may take over at once
    enqueue_after_commit(session, INDEX_DOCUMENT_TASK, document.id)
    session.commit()


def retry_documents(session: Session, dataset: Dataset, document_ids: list[str]) -> None:
    documents = documents_of(session, dataset, document_ids)
    if any(document.indexing_status == IndexingStatus.COMPLETED for document in documents):
        raise DocumentAlreadyFinished()
    for document in documents:
        document.is_paused = False
        _queue_indexing(session, document)
    session.commit()


def _queue_indexing(session: Session, document: Document) -> None:
    document.indexing_status = IndexingStatus.WAITING
    document.indexing_attempts = 0  # a new request starts a new retry budget
    for stamp in ("processing_started_at", "parsing_completed_at", "cleaning_completed_at",
                  "splitting_completed_at", "completed_at", "stopped_at", "error"):  # fmt: skip
        setattr(document, stamp, None)
    session.flush()
    enqueue_after_commit(session, INDEX_DOCUMENT_TASK, document.id)


def _lock_dataset(session: Session, dataset: Dataset) -> None:
    """Serialises document creation per dataset (positions, first-document settings) on PostgreSQL;
    SQLite serialises writers by itself (and has no row locks)."""
    if session.get_bind().dialect.name != "sqlite":
        session.execute(select(Dataset.id).where(Dataset.id == dataset.id).with_for_update())


def _prepare_dataset(session: Session, dataset: Dataset, options: DocumentOptions, source_type: str) -> None:
    """The first document fixes the dataset's indexing technique, doc_form, models and source type."""
    if dataset.provider == DatasetProvider.EXTERNAL:
        raise InvalidParam("External datasets are not supported.")
    if dataset.data_source_type and dataset.data_source_type != source_type:
        raise InvalidParam(
            f"This dataset takes {dataset.data_source_type} documents only, not {source_type} documents."
        )
    if not dataset.indexing_technique:
        if not options.indexing_technique:
            raise InvalidParam("indexing_technique is required.")
        dataset.indexing_technique = options.indexing_technique
    existing_form = dataset_doc_form(session, dataset)
    if existing_form and existing_form != options.doc_form:
        raise InvalidParam("doc_form is different from the dataset doc_form.")
    if dataset.indexing_technique == IndexingTechnique.HIGH_QUALITY:
        if dataset.embedding_model is None:
            datasets.set_embedding_model(dataset, options.embedding_model, options.embedding_model_provider)
        if dataset.retrieval_model is None:
            model = options.retrieval_model or FIRST_DOCUMENT_RETRIEVAL_MODEL
            dataset.retrieval_model = datasets.checked_retrieval_model(model)
    dataset.data_source_type = dataset.data_source_type or source_type


def dataset_doc_form(session: Session, dataset: Dataset) -> str | None:
    if dataset.chunk_structure:
        return dataset.chunk_structure
    return session.scalar(
        select(Document.doc_form)
        .where(Document.dataset_id == dataset.id)
        .order_by(Document.position)
        .limit(1)
    )


def _resolve_process_rule(
    session: Session, caller: Caller, dataset: Dataset, options: DocumentOptions
) -> str:
    if options.process_rule is not None:
        return _new_process_rule(session, caller, dataset, options.process_rule)
    latest = latest_process_rule(session, dataset.id)
    return (
        latest.id
        if latest
        else _new_process_rule(session, caller, dataset, {"mode": "automatic", "rules": AUTOMATIC_RULES})
    )


def _same_name_document(
    session: Session, dataset: Dataset, source_type: str, name: str
) -> tuple[Document | None, UploadFile | None, ProcessRule | None]:
    found = session.execute(
        select(Document, UploadFile, ProcessRule)
        .outerjoin(UploadFile, UploadFile.id == Document.upload_file_id)
        .outerjoin(ProcessRule, ProcessRule.id == Document.dataset_process_rule_id)
        .where(
            Document.dataset_id == dataset.id,
            Document.data_source_type == source_type,
            Document.name == name,
            Document.enabled.is_(True),
        )
    ).first()
    return found or (None, None, None)


def _unchanged(
    session: Session,
    document: Document,
    upload: UploadFile | None,
    rule: ProcessRule | None,
    options: DocumentOptions,
    source: NewFile,
) -> bool:
    """The completed document already has these bytes, this doc_form and this process rule (the
    request's, or else the dataset's latest, as a new document would get)."""
    if not (
        document.indexing_status == IndexingStatus.COMPLETED
        and document.doc_form == options.doc_form
        and upload is not None
        and upload.hash == source.stored.sha256
    ):
        return False
    if options.process_rule is not None:
        return _same_rule(rule, options.process_rule)
    latest = latest_process_rule(session, document.dataset_id)
    return latest is not None and latest.id == document.dataset_process_rule_id


def _same_rule(row: ProcessRule | None, rule: dict[str, Any]) -> bool:
    return row is not None and row.mode == rule["mode"] and row.rules == rule["rules"]


def _new_process_rule(session: Session, caller: Caller, dataset: Dataset, rule: dict[str, Any]) -> str:
    """Stores the rule, or returns the dataset's latest one when it is the same rule."""
    latest = latest_process_rule(session, dataset.id)
    if latest is not None and _same_rule(latest, rule):
        return latest.id
    row = ProcessRule(
        dataset_id=dataset.id, mode=rule["mode"], rules=rule["rules"], created_by=caller.account.id
    )
    session.add(row)
    session.flush()
    return row.id


def _next_position(session: Session, dataset: Dataset) -> int:
    return (
        session.scalar(select(func.max(Document.position)).where(Document.dataset_id == dataset.id)) or 0
    ) + 1


def record_callers_upload(
    session: Session, caller: Caller, source: NewFile, api_key_id: str | None = None
) -> UploadFile:
    """The row of a file the caller sent; `api_key_id` for a file kept for later (a pipeline run)."""
    return uploads.record_upload(
        session,
        workspace_id=caller.workspace.id,
        created_by=caller.account.id,
        stored=source.stored,
        name=source.name,
        extension=source.extension,
        mime_type=source.mime_type,
        api_key_id=api_key_id,
    )


def _point_to_upload(document: Document, upload: UploadFile, source_info: dict | None = None) -> None:
    """Online documents keep their source description (URL, title, ...) beside the stored text."""
    kept = source_info if source_info is not None else _online_source_info(document)
    document.upload_file_id = upload.id
    document.data_source_info = {**kept, "upload_file_id": upload.id}


def _online_source_info(document: Document) -> dict:
    if document.data_source_type not in ONLINE_SOURCES:
        return {}
    return {key: value for key, value in (document.data_source_info or {}).items() if key != "upload_file_id"}


def _upload_in_use(session: Session, upload_id: str, except_document_id: str) -> bool:
    return (
        session.scalar(
            select(Document.id)
            .where(Document.upload_file_id == upload_id, Document.id != except_document_id)
            .limit(1)
        )
        is not None
    )


DISPLAY_STATUSES = ("queuing", "indexing", "paused", "error", "available", "disabled", "archived")


def _display_status_condition(status: str):
    """The list filter uses the display-status buckets; None for an unknown one."""
    status = {"active": "available", "enabled": "available"}.get(status or "", status)
    completed = Document.indexing_status == IndexingStatus.COMPLETED
    conditions = {
        "queuing": Document.indexing_status == IndexingStatus.WAITING,
        "paused": and_(Document.indexing_status.in_(IN_PROGRESS), Document.is_paused.is_(True)),
        "indexing": and_(Document.indexing_status.in_(IN_PROGRESS), Document.is_paused.is_(False)),
        "error": Document.indexing_status == IndexingStatus.ERROR,
        "available": and_(completed, Document.enabled.is_(True), Document.archived.is_(False)),
        "disabled": and_(completed, Document.enabled.is_(False), Document.archived.is_(False)),
        "archived": and_(completed, Document.archived.is_(True)),
    }
    return conditions.get(status)


def has_process_rule(session: Session, dataset: Dataset) -> bool:
    return latest_process_rule(session, dataset.id) is not None
