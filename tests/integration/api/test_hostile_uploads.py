"""Hostile uploads through the API and the real worker: each gets a clear error (at upload, or on its
own document), and the dataset's other documents index as if nothing had happened."""

import os
import threading
import zlib
from pathlib import Path

import pytest

from tests import samples
from tests.helpers import assert_error, create_dataset, upload_document, wait_for_batch

OPTIONS = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}


def _nested_pdf() -> bytes:
    """A PDF whose catalog holds an array nested 50,000 deep (a parser-recursion attack)."""
    depth = 50_000
    catalog = b"<< /Type /Catalog /Pages 2 0 R /Evil " + b"[" * depth + b"]" * depth + b" >>"
    return samples.pdf_of_objects([catalog, b"<< /Type /Pages /Kids [] /Count 0 >>"])


def _pdf_bomb() -> bytes:
    """A one-page PDF whose content stream inflates from about 200 KB to 200 MB."""
    stream = zlib.compress(b" " * (200 * 2**20), 9)
    contents = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"
    return samples.pdf_of_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        contents,
    ])  # fmt: skip


@pytest.fixture
def hostile_files(tmp_path) -> dict[str, bytes]:
    return {
        "bomb.docx": samples.make_zip_bomb_docx(tmp_path / "bomb.docx").read_bytes(),
        "bomb.xlsx": samples.make_zip_bomb_docx(tmp_path / "bomb.xlsx").read_bytes(),
        "nested.pdf": _nested_pdf(),
        "bomb.pdf": _pdf_bomb(),
        "not-really.pdf": b"just some text pretending to be a PDF",
        "encrypted.pdf": samples.make_encrypted_pdf(tmp_path / "e.pdf", samples.PARAGRAPH).read_bytes(),
    }


def test_hostile_files_fail_alone(client, tenant, celery_worker, hostile_files):
    dataset = create_dataset(client, tenant)
    batches = {}
    for name, content in hostile_files.items():
        response = upload_document(client, tenant, dataset["id"], name, content, OPTIONS)
        assert response.status_code == 200, response.text
        batches[name] = response.json()["batch"]
    good = upload_document(client, tenant, dataset["id"], "good.txt", samples.PARAGRAPH.encode(), OPTIONS)
    for name, batch in batches.items():
        status = wait_for_batch(client, tenant, dataset["id"], batch)[0]
        assert status["indexing_status"] == "error", name
        assert status["error"] and "Traceback" not in status["error"], (name, status["error"])
    assert (
        wait_for_batch(client, tenant, dataset["id"], good.json()["batch"])[0]["indexing_status"]
        == "completed"
    )
    records = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json={"query": "photosynthesis"},
                          headers=tenant.headers).json()["records"]  # fmt: skip
    assert [record["segment"]["document"]["name"] for record in records] == ["good.txt"]


def test_zip_bombs_say_so(client, tenant, celery_worker, hostile_files):
    dataset = create_dataset(client, tenant)
    batch = upload_document(client, tenant, dataset["id"], "bomb.xlsx", hostile_files["bomb.xlsx"], OPTIONS)
    status = wait_for_batch(client, tenant, dataset["id"], batch.json()["batch"])[0]
    assert "ZIP bomb" in status["error"]


@pytest.mark.parametrize("name", ["run.exe", "archive.zip", "noextension"])
def test_unsupported_types_are_refused_at_upload(client, tenant, name):
    dataset = create_dataset(client, tenant)
    response = upload_document(client, tenant, dataset["id"], name, b"MZ\x90\x00", OPTIONS)
    assert_error(response, 400, "invalid_param")  # create paths report the type so, as Dify does
    assert "File type not allowed" in response.json()["message"]
    assert client.get(f"/v1/datasets/{dataset['id']}/documents", headers=tenant.headers).json()["total"] == 0


def test_nul_bytes_in_utf8_text_are_cleaned_away(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    content = b"Mitochondria\x00 make ATP. Ribosomes build proteins."
    created = upload_document(client, tenant, dataset["id"], "../../etc/notes.txt", content, OPTIONS).json()
    assert created["document"]["name"] == "notes.txt"  # a name, never a path
    assert (
        wait_for_batch(client, tenant, dataset["id"], created["batch"])[0]["indexing_status"] == "completed"
    )
    segments = client.get(f"/v1/datasets/{dataset['id']}/documents/{created['document']['id']}/segments",
                          headers=tenant.headers).json()["data"]  # fmt: skip
    assert [segment["content"] for segment in segments] == [
        "Mitochondria make ATP. Ribosomes build proteins."
    ]


def test_bytes_that_are_no_text_fail_with_a_clear_error(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    content = b"Mitochondria\x00 make ATP.\n\xff\xfe\x00\x81 Ribosomes build proteins."
    created = upload_document(client, tenant, dataset["id"], "binary.txt", content, OPTIONS).json()
    status = wait_for_batch(client, tenant, dataset["id"], created["batch"])[0]
    assert (status["indexing_status"], status["error"]) == (
        "error",
        "The file is not text in any encoding that could be detected.",
    )


class PeakMemory:
    """Samples this process's resident memory (the API and its embedded worker run here) while a block
    runs; `growth` is the peak above the level at the start."""

    def __init__(self) -> None:
        self.start = self.peak = _resident_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _resident_bytes())

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_archive_bombs_of_every_format_are_refused_without_inflating(client, tenant, celery_worker, tmp_path):
    bombs = {
        f"bomb.{ext}": samples.make_zip_bomb(tmp_path / f"bomb.{ext}", ext, 400).read_bytes()
        for ext in ("epub", "docx", "xlsx", "pptx")
    }
    dataset = create_dataset(client, tenant)
    with PeakMemory() as memory:
        for name, content in bombs.items():
            batch = upload_document(client, tenant, dataset["id"], name, content, OPTIONS).json()["batch"]
            status = wait_for_batch(client, tenant, dataset["id"], batch)[0]
            assert status["indexing_status"] == "error", name
            assert "ZIP bomb" in status["error"], (name, status["error"])
    assert memory.growth < 200 * 2**20, f"{memory.growth / 2**20:.0f} MB"
