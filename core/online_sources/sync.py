"""Keeping online documents current: a sync reads the page again and re-indexes it only when its
text changed (so only changed chunks are embedded again); a schedule per dataset has beat sync every
online document of it periodically."""

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.database import existing, rows_changed, session_scope, unix_seconds, utcnow
from core.datasets.models import Dataset
from core.datasources import service as datasources
from core.datasources.service import Provider
from core.documents import service as documents
from core.documents.lookup import documents_of
from core.documents.models import ONLINE_SOURCES, Document, UploadFile
from core.errors import InvalidParam, NotFound
from core.index.embedding_cache import text_hash
from core.online_sources.clients import open_client
from core.online_sources.service import apply_row_properties, markdown_file, owner_caller
from core.queue import SYNC_DOCUMENT_TASK, enqueue_after_commit
from etl.crawlers import CrawledPage
from retrieval.http_client import ApiError


def sync_document(document_id: str) -> None:
    """The worker task: reads the page again; a changed text is re-indexed (only changed chunks are
    embedded again), an unchanged one is left alone. A failure is recorded on the document's source
    info and loses nothing: the indexed text stays searchable."""
    with session_scope() as session:
        document = session.get(Document, document_id)
        if document is None or document.data_source_type not in ONLINE_SOURCES:
            return
        info = dict(document.data_source_info or {})
        try:
            page, properties = _read_again(session, document.workspace_id, info)
        except (ApiError, InvalidParam, NotFound) as error:
            document.data_source_info = info | {
                "last_sync_error": str(error),
                "last_sync_at": unix_seconds(utcnow()),
            }
            session.commit()
            return
        info = info | {
            "title": page.title or info.get("url"),
            "last_sync_error": None,
            "last_sync_at": unix_seconds(utcnow()),
        }
        if _current_text_hash(session, document) == text_hash(page.markdown):
            document.data_source_info = info
            session.commit()
            return
        if properties is not None:
            info["properties"] = properties
        documents.replace_content(session, document, markdown_file(info["url"], page.markdown), info)
        if properties is not None:
            caller = owner_caller(session, document.workspace_id, document.created_by)
            apply_row_properties(
                session, caller, existing(session, Dataset, document.dataset_id), [(document, properties)]
            )


def _read_again(session: Session, workspace_id: str, info: dict) -> tuple[CrawledPage, dict | None]:
    """The page as its source has it now, and a database row's properties (None for other pages)."""
    credentials = datasources.load_credentials(session, workspace_id, info["provider"])
    with open_client(credentials) as client:
        if credentials.provider == Provider.NOTION:
            as_row = info.get("type") == "database_row"
            page = client.page(info["notion_page_id"], as_row=as_row)
            return CrawledPage(page.url, page.title, page.text), page.properties if as_row else None
        if credentials.provider == Provider.FIRECRAWL:
            return client.scrape(info["url"], info.get("only_main_content", True)), None
        return client.read(info["url"]), None


def _current_text_hash(session: Session, document: Document) -> str | None:
    upload = session.get(UploadFile, document.upload_file_id) if document.upload_file_id else None
    return upload.hash if upload else None


def queue_sync(session: Session, dataset: Dataset, document_ids: list[str]) -> None:
    found = documents_of(session, dataset, document_ids, "Document not found.")
    if any(document.data_source_type not in ONLINE_SOURCES for document in found):
        raise InvalidParam("Only documents imported from an online source can be synced.")
    for document in found:
        enqueue_after_commit(session, SYNC_DOCUMENT_TASK, document.id)
    session.commit()


MIN_SYNC_INTERVAL_MINUTES, MAX_SYNC_INTERVAL_MINUTES = 5, 7 * 24 * 60


def set_sync_schedule(session: Session, dataset: Dataset, minutes: int | None) -> None:
    """Syncs the dataset's online documents every `minutes` (None: only when asked)."""
    if minutes is not None and not MIN_SYNC_INTERVAL_MINUTES <= minutes <= MAX_SYNC_INTERVAL_MINUTES:
        raise InvalidParam(
            f"interval_minutes must be between {MIN_SYNC_INTERVAL_MINUTES} and "
            f"{MAX_SYNC_INTERVAL_MINUTES}, or null."
        )
    if minutes is not None and dataset.data_source_type not in ONLINE_SOURCES:
        raise InvalidParam("Only datasets of online documents (website, Notion) can be synced.")
    dataset.sync_interval_minutes = minutes
    session.commit()


def describe_sync_schedule(dataset: Dataset) -> dict:
    synced = dataset.last_synced_at
    return {
        "interval_minutes": dataset.sync_interval_minutes,
        "last_synced_at": unix_seconds(synced),
    }


def sync_due_datasets() -> list[str]:
    """Beat's periodic task: queues a sync of every live online document of each dataset whose
    interval has passed. Each dataset is claimed with one conditional UPDATE, so two beats (or a
    beat that runs late) never sync a dataset twice for one interval. Returns the synced datasets."""
    now = utcnow()
    synced = []
    with session_scope() as session:
        candidates = session.execute(
            select(Dataset.id, Dataset.sync_interval_minutes, Dataset.last_synced_at).where(
                Dataset.sync_interval_minutes.is_not(None), Dataset.data_source_type.in_(ONLINE_SOURCES)
            )
        ).all()
        for dataset_id, minutes, last in candidates:
            if last is not None and now - last < timedelta(minutes=minutes or 0):
                continue
            claimed = rows_changed(
                session.execute(
                    update(Dataset)
                    .where(Dataset.id == dataset_id, _unchanged(Dataset.last_synced_at, last))
                    .values(last_synced_at=now)
                )
            )
            if not claimed:
                continue
            for document_id in session.scalars(
                select(Document.id).where(Document.dataset_id == dataset_id, Document.enabled.is_(True),
                                          Document.archived.is_(False))
            ):  # fmt: skip
                enqueue_after_commit(session, SYNC_DOCUMENT_TASK, document_id)
            session.commit()
            synced.append(dataset_id)
    return synced


def _unchanged(column, value):
    return column.is_(None) if value is None else column == value
