"""ETL_TYPE=unstructured: the real unstructured-client against a local server answering with the
documented element list."""

from http.server import BaseHTTPRequestHandler

import pytest

from etl.extractors import ExtractionError, extract_file
from tests.http_servers import send_json, serving

ELEMENTS = [
    {"type": "Title", "element_id": "a1", "text": "Quarterly report", "metadata": {"page_number": 1}},
    {"type": "NarrativeText", "element_id": "a2", "text": "Revenue grew.", "metadata": {"page_number": 1}},
    {"type": "NarrativeText", "element_id": "a3", "text": "Costs fell.", "metadata": {"page_number": 2}},
]


class _PartitionHandler(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _PartitionHandler.seen.append(
            {"path": self.path, "key": self.headers.get("unstructured-api-key"), "body": body}
        )
        status, payload = (200, ELEMENTS) if b"broken" not in body else (422, {"detail": "cannot partition"})
        send_json(self, status, payload)

    def log_message(self, *_args):
        pass


@pytest.fixture
def unstructured_url():
    with serving(_PartitionHandler) as url:
        yield f"{url}/general/v0/general"


def test_partitioned_elements_become_pages(tmp_path, unstructured_url):
    path = tmp_path / "report.pptx"
    path.write_bytes(b"PK fake pptx bytes")
    parts = extract_file(path, "pptx", etl_type="unstructured", unstructured_api_url=unstructured_url,
                         unstructured_api_key="key-1")  # fmt: skip
    assert [(p.text, p.metadata) for p in parts] == [
        ("# Quarterly report\nRevenue grew.", {"page": 1}),
        ("Costs fell.", {"page": 2}),
    ]
    request = _PartitionHandler.seen[-1]
    assert request["path"] == "/general/v0/general" and request["key"] == "key-1"
    assert b'filename="report.pptx"' in request["body"] and b"PK fake pptx bytes" in request["body"]


def test_local_formats_stay_local_under_unstructured(tmp_path, unstructured_url):
    path = tmp_path / "a.txt"
    path.write_text("plain text")
    before = len(_PartitionHandler.seen)
    assert (
        extract_file(path, "txt", etl_type="unstructured", unstructured_api_url=unstructured_url)[0].text
        == "plain text"
    )
    assert len(_PartitionHandler.seen) == before


def test_server_error_is_an_extraction_error(tmp_path, unstructured_url):
    path = tmp_path / "a.eml"
    path.write_bytes(b"broken")
    with pytest.raises(ExtractionError, match="Unstructured API"):
        extract_file(path, "eml", etl_type="unstructured", unstructured_api_url=unstructured_url)


def test_ppt_needs_the_api(tmp_path):
    path = tmp_path / "a.ppt"
    path.write_bytes(b"x")
    with pytest.raises(ExtractionError, match="not allowed"):
        extract_file(path, "ppt", etl_type="unstructured")
