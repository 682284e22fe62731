"""Finding a document of a dataset; a module of its own so that the services around documents
(metadata, downloads) can use it without importing the document service."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.datasets.models import Dataset
from core.documents.models import Document
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
