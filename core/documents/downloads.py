"""Downloads of documents' uploaded files: signed, expiring URLs served by the API (as Dify's file
preview links), and ZIP archives of up to 100 documents."""

import hashlib
import hmac
import os
import secrets
import tempfile
import time
import zipfile
from datetime import UTC
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from core.datasets.models import Dataset
from core.documents.lookup import documents_of, get_document
from core.documents.models import DataSourceType, UploadFile
from core.errors import Forbidden, NotFound
from core.files.storage import file_storage
from core.files.uploads import stored
from core.secret_key import server_secret
from core.settings import Settings


def _signature(settings: Settings, upload_id: str, timestamp: str, nonce: str) -> str:
    message = f"file-preview|{upload_id}|{timestamp}|{nonce}".encode()
    return hmac.new(server_secret(settings), message, hashlib.sha256).hexdigest()


def document_upload(session: Session, dataset: Dataset, document_id: str) -> UploadFile:
    document = get_document(session, dataset, document_id)
    if document.data_source_type != DataSourceType.UPLOAD_FILE or not document.upload_file_id:
        raise NotFound("Document does not have an uploaded file to download.")
    upload = session.get(UploadFile, document.upload_file_id)
    if upload is None:
        raise NotFound("Uploaded file not found.")
    return upload


def signed_url(settings: Settings, base_url: str, upload: UploadFile, *, as_attachment: bool = True) -> str:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    query = {
        "timestamp": timestamp,
        "nonce": nonce,
        "sign": _signature(settings, upload.id, timestamp, nonce),
    }
    url = f"{base_url.rstrip('/')}/files/{upload.id}/file-preview?{urlencode(query)}"
    return url + "&as_attachment=true" if as_attachment else url


def describe_upload_file(settings: Settings, base_url: str, upload: UploadFile) -> dict:
    """Dify's legacy `upload-file` view of a document's file, with its signed links."""
    url = signed_url(settings, base_url, upload, as_attachment=False)
    return {
        "id": upload.id,
        "name": upload.name,
        "size": upload.size,
        "extension": upload.extension,
        "url": url,
        "download_url": url + "&as_attachment=true",
        "mime_type": upload.mime_type,
        "created_by": upload.created_by,
        "created_at": upload.created_at.replace(tzinfo=UTC).timestamp(),
    }


def verified_upload(
    session: Session, settings: Settings, upload_id: str, timestamp: str, nonce: str, sign: str
) -> UploadFile:
    """The upload a link points to, if its signature holds and it has not expired; else 403/404."""
    expected = _signature(settings, upload_id, timestamp, nonce)
    if not hmac.compare_digest(expected, sign):
        raise Forbidden("Invalid request.")
    if not timestamp.isdigit() or time.time() - int(timestamp) > settings.files_access_timeout:
        raise Forbidden("Request expired.")
    upload = session.get(UploadFile, upload_id)
    if upload is None or not stored(settings, upload):
        raise NotFound("File not found.")
    return upload


def zip_documents(session: Session, settings: Settings, dataset: Dataset, document_ids: list[str]) -> Path:
    """A ZIP of the documents' files in a temporary file (the caller removes it), names made unique."""
    documents = documents_of(session, dataset, document_ids, "Document not found.")
    uploads = []
    for document in documents:
        if document.data_source_type != DataSourceType.UPLOAD_FILE or not document.upload_file_id:
            raise NotFound("Only uploaded-file documents can be downloaded as ZIP.")
        upload = session.get(UploadFile, document.upload_file_id)
        if upload is None or not stored(settings, upload):
            raise NotFound("Uploaded file not found.")
        uploads.append(upload)
    handle, name = tempfile.mkstemp(suffix=".zip", dir=settings.data_dir)
    os.close(handle)
    used: set[str] = set()
    storage = file_storage(settings)
    with zipfile.ZipFile(name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for upload in uploads:
            with archive.open(_unique(upload.name, used), "w", force_zip64=True) as member:
                for chunk in storage.chunks(upload.storage_key):  # streamed, from disk or S3
                    member.write(chunk)
    return Path(name)


def _unique(name: str, used: set[str]) -> str:
    stem, dot, extension = name.rpartition(".")
    candidate, number = name, 1
    while candidate in used:
        number += 1
        candidate = f"{stem} ({number}).{extension}" if dot else f"{name} ({number})"
    used.add(candidate)
    return candidate
