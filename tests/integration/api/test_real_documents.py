"""Documents as people upload them, through the API and the real worker: scans and images are read by
OCR, chunks know their pages and headings, and the indexes read each chunk with its document's title
and heading path while its content stays the original text."""

import time

import pytest

from core.settings import get_settings
from tests import samples
from tests.helpers import assert_error, create_dataset, create_text_document, upload_document, wait_for_batch

OPTIONS = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}
SECTIONS = [
    ("1 Introduction", "Axolotls regenerate whole limbs after amputation. " * 12),
    ("1.1 Wound healing", "Blastema cells gather under the wound epidermis within days. " * 10),
    ("2 Methods", "Regenerating limbs were photographed every second day. " * 12),
]


def _hit(client, tenant, dataset_id: str, query: str, method: str = "hybrid_search") -> list[dict]:
    settings = {
        "search_method": method,
        "top_k": 3,
        "reranking_enable": False,
        "score_threshold_enabled": False,
    }
    body = {"query": query, "retrieval_model": settings}
    response = client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()["records"]


def _upload(client, tenant, dataset_id: str, name: str, content: bytes, options=OPTIONS) -> dict:
    created = upload_document(client, tenant, dataset_id, name, content, options)
    assert created.status_code == 200, created.text
    return wait_for_batch(client, tenant, dataset_id, created.json()["batch"], timeout=180)[0] | {
        "id": created.json()["document"]["id"]
    }


def test_a_scanned_pdf_is_indexed_through_ocr_and_found(client, tenant, celery_worker, tmp_path):
    dataset = create_dataset(client, tenant)
    scan = samples.make_scanned_pdf(
        tmp_path / "scan.pdf", ["The greenhouse ventilation opens at 28 degrees.", "Irrigation runs at dawn."]
    )
    status = _upload(client, tenant, dataset["id"], "greenhouse scan.pdf", scan.read_bytes())
    assert status["indexing_status"] == "completed", status
    records = _hit(client, tenant, dataset["id"], "greenhouse ventilation", "full_text_search")
    assert "ventilation opens at 28 degrees" in records[0]["segment"]["content"]
    assert records[0]["page"] == 1
    detail = client.get(
        f"/v1/datasets/{dataset['id']}/documents/{status['id']}", headers=tenant.headers
    ).json()
    assert detail["extraction"] == {"pages": 2, "ocr_pages": [1, 2]}


def test_the_indexing_status_counts_the_pages_read_while_ocr_runs(client, tenant, celery_worker, tmp_path):
    dataset = create_dataset(client, tenant)
    lines = [
        "The north pump was serviced on Monday.",
        "Filters of the east basin were replaced.",
        "A valve on the south main was found leaking.",
        "Night shift logged no alarms this week.",
    ]
    scan = samples.make_scanned_pdf(tmp_path / "logbook.pdf", lines)
    created = upload_document(client, tenant, dataset["id"], "logbook.pdf", scan.read_bytes(), OPTIONS)
    assert created.status_code == 200, created.text
    url = f"/v1/datasets/{dataset['id']}/documents/{created.json()['batch']}/indexing-status"
    seen = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        [status] = client.get(url, headers=tenant.headers).json()["data"]
        if status["indexing_status"] == "parsing" and status["extraction"]:
            seen.append(status["extraction"])
        if status["indexing_status"] in ("completed", "error"):
            break
        time.sleep(0.05)
    assert status["indexing_status"] == "completed", status
    assert status["extraction"] == {"pages": 4, "ocr_pages": [1, 2, 3, 4]}
    assert seen, "no page count was reported while the pages were read"
    for reported in seen:
        assert reported["pages"] == 4 and 1 <= reported["pages_read"] <= 4
        assert reported["ocr_pages"] == list(range(1, reported["pages_read"] + 1))
    assert min(reported["pages_read"] for reported in seen) < 4  # seen before the last page was read


def test_a_png_upload_is_read_by_ocr(client, tenant, celery_worker, tmp_path):
    dataset = create_dataset(client, tenant)
    image = samples.make_text_image(tmp_path / "whiteboard.png", "Sprint goal: migrate billing to ledger v2.")
    status = _upload(client, tenant, dataset["id"], "whiteboard.png", image.read_bytes())
    assert status["indexing_status"] == "completed", status
    assert (
        "ledger v2"
        in _hit(client, tenant, dataset["id"], "billing ledger", "full_text_search")[0]["segment"]["content"]
    )


def test_chunks_carry_pages_heading_paths_and_context(client, tenant, celery_worker, tmp_path):
    dataset = create_dataset(client, tenant)
    report = samples.make_report_pdf(tmp_path / "r.pdf", SECTIONS, "Zanzibar Institute - internal")
    status = _upload(client, tenant, dataset["id"], "Zanzibar axolotl report.pdf", report.read_bytes())
    assert status["indexing_status"] == "completed", status
    segments = client.get(
        f"/v1/datasets/{dataset['id']}/documents/{status['id']}/segments", headers=tenant.headers
    ).json()["data"]
    places = [(segment["page"], segment["heading_path"]) for segment in segments]
    assert list(dict.fromkeys(map(str, places))) == [
        str((1, ["1 Introduction"])),
        str((2, ["1 Introduction", "1.1 Wound healing"])),
        str((3, ["2 Methods"])),
    ]
    wound = next(segment for segment in segments if segment["page"] == 2)
    assert wound["context"] == "Zanzibar axolotl report › 1.1 Wound healing"
    assert all("Zanzibar" not in segment["content"] for segment in segments)  # header and context left out
    # The title and heading path reach the full-text index although no content holds them.
    assert len(_hit(client, tenant, dataset["id"], "Zanzibar", "full_text_search")) == 3
    records = _hit(client, tenant, dataset["id"], "Zanzibar wound healing", "full_text_search")
    assert records[0]["segment"]["heading_path"] == ["1 Introduction", "1.1 Wound healing"]
    assert (records[0]["page"], records[0]["heading_path"]) == (2, ["1 Introduction", "1.1 Wound healing"])


def test_context_can_be_turned_off_in_the_process_rule(client, tenant, celery_worker, tmp_path):
    dataset = create_dataset(client, tenant)
    rule = {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [],
            "chunk_context": False,
            "segmentation": {"separator": "\\n\\n", "max_tokens": 500},
        },
    }
    report = samples.make_report_pdf(tmp_path / "r.pdf", SECTIONS, "Lab")
    status = _upload(
        client,
        tenant,
        dataset["id"],
        "Zanzibar.pdf",
        report.read_bytes(),
        {"indexing_technique": "high_quality", "process_rule": rule},
    )
    assert status["indexing_status"] == "completed", status
    assert _hit(client, tenant, dataset["id"], "Zanzibar", "full_text_search") == []


def test_a_dataset_whose_documents_all_failed_says_so(client, tenant, celery_worker, tmp_path, monkeypatch):
    monkeypatch.setenv("OCR_ENABLED", "false")
    get_settings.cache_clear()
    dataset = create_dataset(client, tenant)
    scan = samples.make_scanned_pdf(tmp_path / "scan.pdf", ["Nothing to read without OCR."])
    status = _upload(client, tenant, dataset["id"], "scan.pdf", scan.read_bytes())
    assert status["indexing_status"] == "error"
    assert "no text layer (a scan?) and OCR is turned off" in status["error"]
    body = {"query": "anything"}
    response = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json=body, headers=tenant.headers)
    message = "No document of this dataset could be indexed: 1 failed (each document's error says why)."
    assert_error(response, 400, "dataset_not_initialized", message)


@pytest.mark.parametrize("extension", ["png"])
def test_images_are_refused_at_upload_when_ocr_is_off(client, tenant, monkeypatch, tmp_path, extension):
    monkeypatch.setenv("OCR_ENABLED", "false")
    get_settings.cache_clear()
    dataset = create_dataset(client, tenant)
    image = samples.make_text_image(tmp_path / f"a.{extension}", "Text.")
    response = upload_document(client, tenant, dataset["id"], f"a.{extension}", image.read_bytes(), OPTIONS)
    assert_error(response, 400, "invalid_param", f"File type not allowed: .{extension}")


def test_chosen_metadata_values_join_the_context_at_the_next_indexing(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    base = f"/v1/datasets/{dataset['id']}"
    rule = {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [],
            "chunk_context_metadata": ["company", "quarter"],
            "segmentation": {"separator": "\\n\\n", "max_tokens": 500},
        },
    }
    text = "Revenue rose to 42 million on strong demand for sensors."
    bad_rule = {**rule, "rules": {**rule["rules"], "chunk_context_metadata": ["Company Name"]}}
    refused = create_text_document(client, tenant, dataset["id"], "results.txt", text, process_rule=bad_rule)
    assert_error(refused, 400, "invalid_param")
    created = create_text_document(client, tenant, dataset["id"], "results.txt", text, process_rule=rule)
    assert created.status_code == 200, created.text
    document = created.json()["document"]
    wait_for_batch(client, tenant, dataset["id"], created.json()["batch"])
    assert _hit(client, tenant, dataset["id"], "Zanzibar", "full_text_search") == []

    company = client.post(
        f"{base}/metadata", json={"type": "string", "name": "company"}, headers=tenant.headers
    )
    values = [{**company.json(), "value": "Zanzibar Instruments"}]
    operation = [{"document_id": document["id"], "metadata_list": values}]
    body = {"operation_data": operation}
    assert client.post(f"{base}/documents/metadata", json=body, headers=tenant.headers).status_code == 200
    update = {"name": "results.txt", "text": text, "process_rule": rule}
    updated = client.post(
        f"{base}/documents/{document['id']}/update-by-text", json=update, headers=tenant.headers
    )
    assert updated.status_code == 200, updated.text
    wait_for_batch(client, tenant, dataset["id"], updated.json()["batch"])

    [record] = _hit(client, tenant, dataset["id"], "Zanzibar", "full_text_search")
    assert record["segment"]["content"] == text
    segments = client.get(f"{base}/documents/{document['id']}/segments", headers=tenant.headers).json()[
        "data"
    ]
    assert [segment["context"] for segment in segments] == ["results › company: Zanzibar Instruments"]
