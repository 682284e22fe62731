"""Resolving the ids a request names (in its path or its body) to documents and uploads, always through
the caller's reach: the dataset in the path, the workspace, and a dataset-scoped key's datasets. An id
outside that reach gets the answer of an id that does not exist. A module of its own so that the
services around documents (metadata, downloads, pipelines) can use it without the document service."""

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from core.api_keys.service import Caller
from core.datasets.models import Dataset
from core.documents.models import Document, UploadFile
from core.errors import NotFound


def get_document(
    session: Session, dataset: Dataset, document_id: str, message: str = "Document not found."
) -> Document:
    document = session.scalar(
        select(Document).where(Document.id == document_id, Document.dataset_id == dataset.id)
    )
    if document is None:
        raise NotFound(message)
    return document


def documents_of(
    session: Session, dataset: Dataset, document_ids: list[str], message: str = "Documents not found."
) -> list[Document]:
    """The dataset's documents with these ids; NotFound when any id is not one of them."""
    wanted = set(document_ids)
    found = session.scalars(
        select(Document).where(Document.dataset_id == dataset.id, Document.id.in_(wanted))
    ).all()
    if len(found) != len(wanted):
        raise NotFound(message)
    return list(found)


def reachable_upload(session: Session, caller: Caller, upload_id: str) -> UploadFile | None:
    """An upload of the caller's workspace; for a dataset-scoped key, only one it uploaded itself or one
    a document of its datasets holds (another dataset's file is as unknown as a missing one)."""
    upload = session.get(UploadFile, upload_id)
    if upload is None or upload.workspace_id != caller.workspace.id:
        return None
    if caller.dataset_ids is None or upload.api_key_id == caller.api_key_id:
        return upload
    held = session.scalar(
        select(
            exists().where(Document.upload_file_id == upload.id, Document.dataset_id.in_(caller.dataset_ids))
        )
    )
    return upload if held else None
