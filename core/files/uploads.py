"""Uploaded files: streamed to a local temporary file, then kept in the file storage (the data
directory or S3, see core.files.storage), content-addressed by SHA-256.

The size limit is enforced while the bytes arrive, so an oversized body is refused after at most
limit + one chunk has been written, never held in memory.
"""

import contextlib
import errno
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.documents.models import UploadFile
from core.errors import FileTooLarge, InvalidParam, StorageFull, UnsupportedFileType
from core.files.storage import TEMP_DIR, file_storage
from core.settings import Settings
from etl.extractors import supported_extensions

MAX_FILENAME_LENGTH = 200
_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class StoredFile:
    storage_key: str
    size: int
    sha256: str


def safe_filename(filename: str) -> str:
    """The last path component, without control characters: a name, never a path."""
    name = _UNSAFE_NAME_CHARS.sub("", filename).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        name = (stem[: MAX_FILENAME_LENGTH - len(extension) - 1] + dot + extension) if dot else name[:200]
    return name


def file_extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def check_extension(filename: str, settings: Settings, *, on_update: bool) -> str:
    """Create paths report a bad type as 400 invalid_param and update paths as 415, as Dify does."""
    extension = file_extension(filename)
    readable = supported_extensions(
        settings.etl_type, settings.unstructured_api_url, ocr=settings.ocr_enabled
    )
    if extension not in readable:
        if on_update:
            raise UnsupportedFileType()
        raise InvalidParam(f"File type not allowed: .{extension}" if extension else "File type not allowed.")
    return extension


class UploadWriter:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._limit = settings.upload_file_size_limit_bytes
        temp_dir = settings.upload_dir / TEMP_DIR
        temp_dir.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=temp_dir)
        self._file = os.fdopen(handle, "wb")
        self._temp_path = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._limit:
            self.abort()
            limit_mb = self._settings.upload_file_size_limit
            raise FileTooLarge(f"File size exceeded. The file is larger than the {limit_mb} MB limit.")
        self._hash.update(chunk)
        with self._aborted_when_full():
            self._file.write(chunk)

    def finish(self, extension: str) -> StoredFile:
        """Stores the file under its content hash; the extension stays on the name because parsers
        (openpyxl, the Unstructured API) go by it."""
        with self._aborted_when_full():
            self._file.close()
        digest = self._hash.hexdigest()
        storage_key = _storage_key(digest, extension)
        with self._aborted_when_full():
            file_storage(self._settings).save(storage_key, self._temp_path)
        return StoredFile(storage_key=storage_key, size=self.size, sha256=digest)

    def abort(self) -> None:
        with contextlib.suppress(OSError):  # closing flushes, which fails again on a full disk
            self._file.close()
        self._temp_path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _aborted_when_full(self):
        """A full disk is the caller's to hear about (507), and leaves no half-written temp file."""
        try:
            yield
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            self.abort()
            raise StorageFull() from None


def _storage_key(digest: str, extension: str) -> str:
    return f"{digest[:2]}/{digest}.{extension}" if extension else f"{digest[:2]}/{digest}"


def store_bytes(settings: Settings, data: bytes, extension: str) -> StoredFile:
    """Bytes already stored (a client sending the same text again) are not written twice."""
    if len(data) <= settings.upload_file_size_limit_bytes:
        digest = hashlib.sha256(data).hexdigest()
        storage_key = _storage_key(digest, extension)
        if file_storage(settings).exists(storage_key):
            return StoredFile(storage_key=storage_key, size=len(data), sha256=digest)
    writer = UploadWriter(settings)
    writer.write(data)
    return writer.finish(extension)


def record_upload(
    session: Session,
    *,
    workspace_id: str,
    created_by: str,
    stored: StoredFile,
    name: str,
    extension: str,
    mime_type: str | None,
    api_key_id: str | None = None,
) -> UploadFile:
    upload = UploadFile(
        workspace_id=workspace_id,
        storage_key=stored.storage_key,
        name=name,
        size=stored.size,
        extension=extension,
        mime_type=mime_type,
        hash=stored.sha256,
        created_by=created_by,
        api_key_id=api_key_id,
    )
    session.add(upload)
    session.flush()
    return upload


def local_copy(settings: Settings, upload: UploadFile) -> contextlib.AbstractContextManager[Path]:
    """The upload as a local file for the block (parsers need a path)."""
    return file_storage(settings).local_copy(upload.storage_key)


def stored(settings: Settings, upload: UploadFile) -> bool:
    return file_storage(settings).exists(upload.storage_key)


def delete_stored_file_if_unused(session: Session, settings: Settings, storage_key: str) -> None:
    """Content-addressed files may back several upload rows; the file goes with the last of them."""
    users = session.scalar(select(func.count(UploadFile.id)).where(UploadFile.storage_key == storage_key))
    if not users:
        file_storage(settings).delete(storage_key)
