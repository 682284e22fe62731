"""Document routes, with Dify's underscore aliases of the create and update paths."""

import secrets
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.deps import (
    KNOWLEDGE_REQUEST,
    CallerDep,
    DatasetDep,
    SessionDep,
    json_body,
    parse_uuid,
    public_base_url,
    validated,
)
from api.multipart import read_document_upload
from api.schemas.documents import (
    DocumentIdsBody,
    DocumentPage,
    DocumentWithBatch,
    IndexingStatusList,
    ResultOut,
    RetryBody,
    ZipBody,
)
from core.documents import downloads, preview, status, views
from core.documents import service as documents
from core.documents.models import DataSourceType
from core.documents.schemas import (
    ChunkPreviewOptions,
    DocumentCreateByText,
    DocumentOptions,
    DocumentUpdateByText,
)
from core.documents.service import NewFile
from core.errors import InvalidMetadata, InvalidParam
from core.files.storage import file_storage
from core.files.uploads import delete_stored_file_if_unused, store_bytes
from core.settings import get_settings

router = APIRouter(prefix="/datasets/{dataset_id}", tags=["documents"])

MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "data": {"type": "string", "description": "JSON: the options of create-by-text"},
                    },
                }
            }
        },
    }
}


def _document_with_batch(session, dataset, document, batch: str) -> dict:
    return {"document": views.describe_documents(session, dataset, [document])[0], "batch": batch}


def _text_file(text: str, name: str) -> NewFile:
    stored = store_bytes(get_settings(), text.encode(), "txt")
    return NewFile(stored=stored, name=name, extension="txt", mime_type="text/plain")


@router.post("/document/create-by-text", response_model=DocumentWithBatch, dependencies=[KNOWLEDGE_REQUEST])
@router.post(
    "/document/create_by_text",
    response_model=DocumentWithBatch,
    include_in_schema=False,
    dependencies=[KNOWLEDGE_REQUEST],
)
def create_document_by_text(
    body: DocumentCreateByText, dataset: DatasetDep, caller: CallerDep, session: SessionDep
) -> dict:
    """A document from text, queued for indexing; answers `{document, batch}` at once (poll the batch's
    indexing status). The first document of a dataset must give `indexing_technique` and fixes the
    dataset's `doc_form`; `process_rule` defaults to the dataset's latest rule, else automatic. A
    document of the same name and unchanged text, rule and form is not indexed again. Empty text is
    refused."""
    source = _text_file(body.text, body.name)
    with documents.discarded_on_failure(session, source):
        document, batch = documents.create_document(session, caller, dataset, body, source)
    return _document_with_batch(session, dataset, document, batch)


@router.post(
    "/document/create-by-file",
    response_model=DocumentWithBatch,
    openapi_extra=MULTIPART_BODY,
    dependencies=[KNOWLEDGE_REQUEST],
)
@router.post(
    "/document/create_by_file",
    response_model=DocumentWithBatch,
    include_in_schema=False,
    dependencies=[KNOWLEDGE_REQUEST],
)
async def create_document_by_file(
    request: Request, dataset: DatasetDep, caller: CallerDep, session: SessionDep
):
    """A document from an uploaded file (multipart: `file`, and `data`, a JSON string with the options of
    create-by-text). The upload is streamed to disk and refused past `UPLOAD_FILE_SIZE_LIMIT`; a type
    the service does not read is 400 `invalid_param` (Dify's create-path answer)."""
    if dataset.provider == "external":
        raise InvalidParam("External datasets are not supported.")
    upload = await read_document_upload(request, get_settings(), file_required=True, on_update=False)
    with documents.discarded_on_failure(session, upload.file):
        options = validated(DocumentOptions, upload.data)
        needs_rule = not options.has_process_rule and not options.original_document_id
        if needs_rule and not await run_in_threadpool(documents.has_process_rule, session, dataset):
            raise InvalidParam("process_rule is required.")
        document, batch = await run_in_threadpool(
            documents.create_document, session, caller, dataset, options, upload.sent_file
        )
    return _document_with_batch(session, dataset, document, batch)


@router.post(
    "/documents/{document_id}/update-by-text",
    response_model=DocumentWithBatch,
    dependencies=[KNOWLEDGE_REQUEST],
)
@router.post(
    "/documents/{document_id}/update_by_text",
    response_model=DocumentWithBatch,
    include_in_schema=False,
    dependencies=[KNOWLEDGE_REQUEST],
)
def update_document_by_text(
    document_id: str, body: DocumentUpdateByText, dataset: DatasetDep, caller: CallerDep, session: SessionDep
) -> dict:
    """New text, name or process rule for an available document, then a re-index that swaps the new chunks
    in at once; the document keeps its batch. A name is required with text."""
    document = documents.get_document(session, dataset, parse_uuid(document_id))
    if body.text is not None and not body.name:
        raise InvalidParam("name is required when text is given.")
    source = _text_file(body.text, body.name) if body.text is not None and body.name else None
    options = DocumentOptions.model_validate(
        body.model_dump(exclude_unset=True) | {"doc_form": body.doc_form}
    )
    document = documents.update_document(session, caller, dataset, document, options, source, name=body.name)
    return _document_with_batch(session, dataset, document, document.batch)


@router.patch(
    "/documents/{document_id}",
    response_model=DocumentWithBatch,
    openapi_extra=MULTIPART_BODY,
    dependencies=[KNOWLEDGE_REQUEST],
)
@router.post(
    "/documents/{document_id}/update-by-file",
    response_model=DocumentWithBatch,
    include_in_schema=False,
    dependencies=[KNOWLEDGE_REQUEST],
)
@router.post(
    "/documents/{document_id}/update_by_file",
    response_model=DocumentWithBatch,
    include_in_schema=False,
    dependencies=[KNOWLEDGE_REQUEST],
)
async def update_document_by_file(
    document_id: str, request: Request, dataset: DatasetDep, caller: CallerDep, session: SessionDep
):
    """Replaces an available document's file (multipart, as create-by-file) and re-indexes it; too large a
    file is 413, a type the service does not read 415."""
    document = await run_in_threadpool(documents.get_document, session, dataset, parse_uuid(document_id))
    upload = await read_document_upload(request, get_settings(), file_required=False, on_update=True)
    with documents.discarded_on_failure(session, upload.file):
        options = validated(DocumentOptions, upload.data)
        name = upload.file.name if upload.file else None
        document = await run_in_threadpool(
            documents.update_document, session, caller, dataset, document, options, upload.file, name=name
        )
    return _document_with_batch(session, dataset, document, document.batch)


PREVIEW_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ChunkPreviewOptions.model_json_schema()},
            "multipart/form-data": MULTIPART_BODY["requestBody"]["content"]["multipart/form-data"],
        },
    }
}


@router.post("/documents/preview", openapi_extra=PREVIEW_BODY, dependencies=[KNOWLEDGE_REQUEST])
async def preview_document_chunks(request: Request, dataset: DatasetDep, session: SessionDep) -> dict:
    """Ours: the chunks a text (JSON `text`), a file (multipart `file` + `data`) or a stored document (JSON
    `document_id`, before a re-index with another rule) would become under `doc_form` and `process_rule`,
    split as indexing splits them; nothing is stored."""
    settings = get_settings()
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        options = validated(ChunkPreviewOptions, await json_body(request))
        if options.document_id is not None:
            return await run_in_threadpool(
                preview.preview_stored_document,
                session,
                settings,
                dataset,
                parse_uuid(options.document_id),
                options,
            )
        return await run_in_threadpool(preview.preview_chunks, settings, options)
    upload = await read_document_upload(request, settings, file_required=True, on_update=False)
    sent = upload.sent_file
    try:
        options = validated(ChunkPreviewOptions, upload.data)
        with file_storage(settings).local_copy(sent.stored.storage_key) as path:
            return await run_in_threadpool(
                preview.preview_chunks, settings, options, (path, sent.extension, sent.name)
            )
    finally:
        delete_stored_file_if_unused(session, settings, sent.stored.storage_key)


@router.get("/documents", response_model=DocumentPage)
def list_documents(
    dataset: DatasetDep,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 20,
    keyword: Annotated[str | None, Query(max_length=255)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
) -> dict:
    """The dataset's documents by position: `page`, `limit` (at most 100), `keyword` (substring of the
    name) and `status` (queuing, indexing, paused, error, available, disabled, archived; `active` and
    `enabled` mean available). `has_more` is true when the page is full."""
    rows, total = documents.list_documents(
        session, dataset, page=page, limit=limit, keyword=keyword, status=status
    )
    return {
        "data": views.describe_documents(session, dataset, rows),
        "has_more": len(rows) == limit,
        "limit": limit,
        "total": total,
        "page": page,
    }


@router.get("/documents/{document_id}")
def get_document(
    document_id: str,
    dataset: DatasetDep,
    session: SessionDep,
    metadata: Annotated[str, Query(max_length=32)] = "all",
) -> dict:
    """One document with its process rule, source details, counts and metadata; `metadata=all` (default),
    `only` or `without`."""
    if metadata not in ("all", "only", "without"):
        raise InvalidMetadata(f"Invalid metadata value: {metadata}")
    document = documents.get_document(session, dataset, parse_uuid(document_id))
    return views.describe_document_detail(session, dataset, document, metadata)


@router.delete("/documents/{document_id}", status_code=204, dependencies=[KNOWLEDGE_REQUEST])
def delete_document(document_id: str, dataset: DatasetDep, session: SessionDep) -> Response:
    """Deletes the document with its chunks, vectors, terms and stored file (unless another upload shares
    the bytes)."""
    documents.delete_document(session, dataset, parse_uuid(document_id))
    return Response(status_code=204)


@router.get("/documents/{batch}/indexing-status", response_model=IndexingStatusList)
def get_indexing_status(batch: str, dataset: DatasetDep, session: SessionDep) -> dict:
    """Each document of the batch: its status, the time of each stage, `completed_segments` and
    `total_segments`, and its error."""
    rows = documents.documents_of_batch(session, dataset, batch[:64])
    return {"data": views.describe_indexing_status(session, rows)}


MAX_PROGRESS_DOCUMENTS = 100


@router.get("/indexing-status", response_model=IndexingStatusList)
def get_documents_indexing_status(
    dataset: DatasetDep,
    session: SessionDep,
    document_id: Annotated[list[str], Query(max_length=MAX_PROGRESS_DOCUMENTS)],
) -> dict:
    """Ours: the indexing status of documents by id, whatever their batch (the admin UI's progress)."""
    ids = [str(parsed) for parsed in map(_uuid_or_none, document_id) if parsed]
    rows = documents.documents_by_ids(session, dataset, ids)
    return {"data": views.describe_indexing_status(session, rows)}


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@router.patch("/documents/status/{action}", response_model=ResultOut)
def update_document_status(
    action: str, body: DocumentIdsBody, dataset: DatasetDep, caller: CallerDep, session: SessionDep
) -> dict:
    """`enable`, `disable`, `archive` or `un_archive` the documents `document_ids`. Disabled and archived
    documents leave the search engine before the call returns and come back (vectors from the embedding
    cache) when enabled; archived documents are read-only. A document being indexed is refused (400)."""
    status.update_document_status(session, caller, dataset, action, body.document_ids)
    return {"result": "success"}


@router.post("/documents/{document_id}/processing/pause", response_model=ResultOut)
def pause_document(document_id: str, dataset: DatasetDep, caller: CallerDep, session: SessionDep) -> dict:
    """Ours: pauses a document's indexing after its current step; it keeps what is done."""
    documents.pause_document(session, caller, dataset, parse_uuid(document_id))
    return {"result": "success"}


@router.post("/documents/{document_id}/processing/resume", response_model=ResultOut)
def resume_document(document_id: str, dataset: DatasetDep, session: SessionDep) -> dict:
    """Ours: resumes a paused document's indexing where it stopped."""
    documents.resume_document(session, dataset, parse_uuid(document_id))
    return {"result": "success"}


@router.post("/retry", response_model=ResultOut)
def retry_documents(body: RetryBody, dataset: DatasetDep, session: SessionDep) -> dict:
    """Ours: re-queues the unfinished (failed or stuck) documents `document_ids`; a finished one among
    them refuses the call with 400 `document_already_finished`."""
    documents.retry_documents(session, dataset, body.document_ids)
    return {"result": "success"}


@router.get("/documents/{document_id}/download", dependencies=[KNOWLEDGE_REQUEST])
def download_document(document_id: str, request: Request, dataset: DatasetDep, session: SessionDep) -> dict:
    """A signed link (`{url}`) to the document's uploaded file, served at `/files/{id}/file-preview` and
    valid for `FILES_ACCESS_TIMEOUT` seconds. 400 for a document that is not an uploaded file."""
    settings = get_settings()
    upload = downloads.document_upload(session, dataset, parse_uuid(document_id))
    return {"url": downloads.signed_url(settings, public_base_url(request), upload)}


@router.get("/documents/{document_id}/upload-file")
def get_document_upload_file(
    document_id: str, request: Request, dataset: DatasetDep, session: SessionDep
) -> dict:
    """Dify's legacy form of the download: the file's details with a view and a download link."""
    settings = get_settings()
    document = documents.get_document(session, dataset, parse_uuid(document_id))
    if document.data_source_type != DataSourceType.UPLOAD_FILE:
        raise InvalidParam("Document is not an uploaded file.")
    upload = downloads.document_upload(session, dataset, document.id)
    return downloads.describe_upload_file(settings, public_base_url(request), upload)


@router.post("/documents/download-zip", response_class=FileResponse, dependencies=[KNOWLEDGE_REQUEST])
def download_documents_zip(body: ZipBody, dataset: DatasetDep, session: SessionDep) -> FileResponse:
    """A ZIP archive (`application/zip`) of the uploaded files of `document_ids` (1 to 100), built on disk."""
    ids = [parse_uuid(document_id) for document_id in body.document_ids]
    archive = downloads.zip_documents(session, get_settings(), dataset, ids)
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=f"{secrets.token_hex(16)}.zip",
        background=BackgroundTask(archive.unlink, missing_ok=True),
    )
