"""Signed download links (no bearer key: the signature is the authorisation), as Dify's file preview."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from api.deps import SessionDep, parse_uuid
from core.documents import downloads
from core.documents.uploads import upload_path
from core.settings import get_settings

router = APIRouter(tags=["files"])
Param = Annotated[str, Query(max_length=128)]


@router.get("/files/{upload_file_id}/file-preview", response_class=FileResponse)
def file_preview(
    upload_file_id: str,
    session: SessionDep,
    timestamp: Param,
    nonce: Param,
    sign: Param,
    as_attachment: bool = False,
) -> FileResponse:
    """An uploaded file behind a signed link from the download routes (`timestamp`, `nonce`, `sign`); no
    key needed. `as_attachment=true` asks the browser to save it. A wrong or expired signature is 403."""
    settings = get_settings()
    upload = downloads.verified_upload(session, settings, parse_uuid(upload_file_id), timestamp, nonce, sign)
    return FileResponse(
        upload_path(settings, upload),
        media_type=upload.mime_type or "application/octet-stream",
        filename=upload.name,
        content_disposition_type="attachment" if as_attachment else "inline",
    )
