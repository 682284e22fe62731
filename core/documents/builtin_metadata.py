"""The values of the built-in metadata fields a document has (its name, uploader, dates and source)."""

from typing import Any

from sqlalchemy.orm import Session

from core.database import unix_seconds
from core.documents.models import SOURCE_NAMES, Document
from core.workspaces.models import Account


def built_in_values(session: Session, document: Document) -> dict[str, Any]:
    uploader = session.get(Account, document.created_by)
    return {
        "document_name": document.name,
        "uploader": uploader.name if uploader else None,
        "upload_date": unix_seconds(document.created_at),
        "last_update_date": unix_seconds(document.updated_at),
        "source": SOURCE_NAMES.get(document.data_source_type, document.data_source_type),
    }
