"""`ETL_TYPE=unstructured`: partition through an Unstructured API server, as Dify does."""

from pathlib import Path
from typing import Any

from etl.extractors.base import ExtractedPart, ExtractionError

PARTITION_PATH = "/general/v0/general"


def extract_with_unstructured_api(path: Path, api_url: str, api_key: str | None) -> list[ExtractedPart]:
    from unstructured_client import UnstructuredClient
    from unstructured_client.models import operations, shared

    # Dify's UNSTRUCTURED_API_URL names the partition endpoint; the client wants the server root.
    server_url = api_url.rstrip("/").removesuffix(PARTITION_PATH)
    client = UnstructuredClient(server_url=server_url, api_key_auth=api_key or "", timeout_ms=300_000)
    request = operations.PartitionRequest(
        partition_parameters=shared.PartitionParameters(
            files=shared.Files(content=path.read_bytes(), file_name=path.name),
            strategy=shared.Strategy.AUTO,
            split_pdf_page=False,
        )
    )
    try:
        response = client.general.partition(request=request)
    except Exception as error:
        raise ExtractionError(f"The Unstructured API could not partition the file: {error}") from error
    return _parts_by_page(response.elements or [])


def _parts_by_page(elements: list[dict[str, Any]]) -> list[ExtractedPart]:
    pages: dict[int | None, list[str]] = {}
    for element in elements:
        text = (element.get("text") or "").strip()
        if not text:
            continue
        if element.get("type") == "Title":
            text = "# " + text
        page = (element.get("metadata") or {}).get("page_number")
        pages.setdefault(page, []).append(text)
    return [
        ExtractedPart("\n".join(texts), {"page": page} if page is not None else {})
        for page, texts in pages.items()
    ]
