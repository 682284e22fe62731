"""Signed download links (no bearer key: the signature is the authorisation), as Dify's file preview."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response, StreamingResponse

from api.deps import SessionDep, parse_uuid
from core.documents import downloads
from core.files.storage import LocalStorage, file_storage
from core.settings import get_settings

router = APIRouter(tags=["files"])
Param = Annotated[str, Query(max_length=128)]


@router.get("/files/{upload_file_id}/file-preview", response_class=StreamingResponse)
def file_preview(
    upload_file_id: str,
    session: SessionDep,
    timestamp: Param,
    nonce: Param,
    sign: Param,
    as_attachment: bool = False,
) -> Response:
    """An uploaded file behind a signed link from the download routes (`timestamp`, `nonce`, `sign`); no
    key needed. `as_attachment=true` asks the browser to save it. A wrong or expired signature is 403."""
    settings = get_settings()
    upload = downloads.verified_upload(session, settings, parse_uuid(upload_file_id), timestamp, nonce, sign)
    media_type = upload.mime_type or "application/octet-stream"
    disposition = "attachment" if as_attachment else "inline"
    storage = file_storage(settings)
    if isinstance(storage, LocalStorage):  # sendfile, with its length and ranges
        path = storage.root / upload.storage_key
        return FileResponse(
            path, media_type=media_type, filename=upload.name, content_disposition_type=disposition
        )
    headers = {
        "Content-Disposition": _disposition(disposition, upload.name),
        "Content-Length": str(upload.size),
    }
    return StreamingResponse(storage.chunks(upload.storage_key), media_type=media_type, headers=headers)


def _disposition(kind: str, name: str) -> str:
    """As Starlette's FileResponse writes it: RFC 5987 encoding for a name that is not plain ASCII."""
    quoted = quote(name)
    return f"{kind}; filename*=utf-8''{quoted}" if quoted != name else f'{kind}; filename="{name}"'
