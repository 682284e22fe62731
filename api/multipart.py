"""Streaming multipart parsing for document uploads.

Starlette's form parser spools a whole file before the handler runs; this parser feeds the `file`
part straight into the upload writer, which stops at the size limit, and checks the file name and
type before the first byte is written.
"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from api.input_guard import TOO_DEEP_MESSAGE, check_json_text
from core.documents.service import NewFile
from core.errors import (
    FilenameNotExists,
    FileTooLarge,
    InvalidParam,
    NoFileUploaded,
    ServiceError,
    TooManyFiles,
)
from core.files.uploads import UploadWriter, check_extension, safe_filename
from core.settings import Settings

MAX_DATA_FIELD_BYTES = 1024 * 1024
FORM_OVERHEAD_BYTES = 1024 * 1024
# An oversized upload is read and dropped up to this much so that its client sees the 413; past it
# the connection is closed instead.
DRAINED_BYTES_MAX = 256 * 1024 * 1024


@dataclass
class DocumentUpload:
    file: NewFile | None
    data: dict[str, Any]

    @property
    def sent_file(self) -> NewFile:
        """The file of an upload read with `file_required` (one without it was refused as it was read)."""
        if self.file is None:
            raise NoFileUploaded()
        return self.file


class _Part:
    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.field = b""
        self.value = b""
        self.name = ""
        self.filename: str | None = None
        self.content_type: str | None = None


class _UploadParser:
    def __init__(self, settings: Settings, on_update: bool):
        self.settings = settings
        self.on_update = on_update
        self.part = _Part()
        self.files_seen = 0
        self.writer: UploadWriter | None = None
        self.finished_writer: UploadWriter | None = None
        self.extension = ""
        self.filename = ""
        self.mime_type: str | None = None
        self.data = bytearray()
        self.data_seen = False

    def callbacks(self) -> Any:  # multipart's MultipartCallbacks
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda b, s, e: setattr(self.part, "field", self.part.field + b[s:e]),
            "on_header_value": lambda b, s, e: setattr(self.part, "value", self.part.value + b[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self.part = _Part()

    def _header_end(self) -> None:
        self.part.headers[self.part.field.lower()] = self.part.value
        self.part.field, self.part.value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.part.name = options.get(b"name", b"").decode(errors="replace")
        filename = options.get(b"filename")
        if filename is None:
            return
        self.part.filename = filename.decode(errors="replace")
        self.files_seen += 1
        if self.files_seen > 1:
            raise TooManyFiles()
        if self.part.name != "file":
            return
        name = safe_filename(self.part.filename)
        if not name:
            raise FilenameNotExists()
        self.extension = check_extension(name, self.settings, on_update=self.on_update)
        self.filename = name
        self.mime_type = self.part.headers.get(b"content-type", b"").decode(errors="replace") or None
        self.writer = UploadWriter(self.settings)

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.writer is not None:
            self.writer.write(data[start:end])
        elif self.part.name == "data" and self.part.filename is None:
            self.data_seen = True
            self.data += data[start:end]
            if len(self.data) > MAX_DATA_FIELD_BYTES:
                raise InvalidParam("The data field is too large.")

    def _end(self) -> None:
        # The file is moved into storage only once the whole body has parsed (see `stored_file`).
        if self.writer is not None:
            self.finished_writer, self.writer = self.writer, None

    def stored_file(self) -> NewFile | None:
        if self.finished_writer is None:
            return None
        stored = self.finished_writer.finish(self.extension)
        return NewFile(stored=stored, name=self.filename, extension=self.extension, mime_type=self.mime_type)

    def abort(self) -> None:
        for writer in (self.writer, self.finished_writer):
            if writer is not None:
                writer.abort()


async def read_document_upload(
    request: Request, settings: Settings, *, file_required: bool, on_update: bool
) -> DocumentUpload:
    """Raises the upload errors of Dify's API: a file over the size limit is 413 file_too_large; a type the
    service does not read is 400 invalid_param on create paths and 415 on update paths, as Dify
    reports it. An oversized body is answered without being stored: before it is sent where the client
    waits for `Expect: 100-continue`, else after the rest is read and dropped (up to DRAINED_BYTES_MAX),
    so that a client sending the whole body first reads the answer instead of a reset connection."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        if file_required:
            raise NoFileUploaded()
        return DocumentUpload(file=None, data={})
    body = request.stream()
    try:
        return await _read(body, request, settings, options[b"boundary"], file_required, on_update)
    except FileTooLarge:
        if request.headers.get("expect", "").lower() != "100-continue":
            await _drain(body)
        raise


async def _drain(body: AsyncIterator[bytes]) -> None:
    drained = 0
    async for chunk in body:
        drained += len(chunk)
        if drained > DRAINED_BYTES_MAX:
            return


async def _read(
    body: AsyncIterator[bytes],
    request: Request,
    settings: Settings,
    boundary: bytes,
    file_required: bool,
    on_update: bool,
) -> DocumentUpload:
    declared = request.headers.get("content-length")
    limit = settings.upload_file_size_limit_bytes + FORM_OVERHEAD_BYTES
    if declared and declared.isdigit() and int(declared) > limit:
        raise FileTooLarge(
            f"File size exceeded. The file is larger than the {settings.upload_file_size_limit} MB limit."
        )
    state = _UploadParser(settings, on_update)
    parser = MultipartParser(boundary, state.callbacks())
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except ServiceError:
        state.abort()
        raise
    except Exception as error:
        state.abort()
        raise InvalidParam(f"The multipart body could not be parsed: {error}") from None
    if state.finished_writer is None and file_required:
        raise NoFileUploaded()
    try:
        data = _parse_data(bytes(state.data)) if state.data_seen else {}
    except ServiceError:
        state.abort()
        raise
    return DocumentUpload(file=state.stored_file(), data=data)


def _parse_data(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidParam("The data field must be a JSON object.") from None
    except RecursionError:
        raise InvalidParam(TOO_DEEP_MESSAGE) from None
    if not isinstance(data, dict):
        raise InvalidParam("The data field must be a JSON object.")
    check_json_text(data)
    return data
