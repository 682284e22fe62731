"""The console a person manages knowledge in: a document's page, metadata values, batch actions, adding
documents and the API access panel, in headless Chromium against the real embedded `kb serve`."""

import json
import re
import shlex
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Service, screenshots, sign_in
from tests.samples import make_pdf

LIGHTHOUSE = "The lighthouse keeper logs every passing ship in {place}, and the lamp burns all night."
PLACES = ["Brittany", "Cornwall", "Galicia"]
REPORT_PAGES = [
    "Annual report. Revenue grew by twelve percent in the northern region. " * 6,
    "Operating costs fell as the new warehouse opened near the harbour. " * 6,
    "Outlook: the board expects steady demand for marine instruments next year. " * 6,
]


def _indexed(api: httpx.Client, dataset_id: str, document_id: str, timeout: float = 120) -> dict:
    """The document once its indexing finished (available, or failed with its error)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document = api.get(f"/v1/datasets/{dataset_id}/documents/{document_id}").json()
        if document["indexing_status"] in ("completed", "error") and not document.get("is_paused"):
            return document
        time.sleep(0.2)
    raise AssertionError(f"document {document_id} did not finish indexing")


def _dataset_of_texts(service: Service, name: str, texts: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A dataset holding one indexed text document per (name, text); returns its id and the documents' ids."""
    with service.api() as api:
        dataset_id = api.post("/v1/datasets", json={"name": name}).json()["id"]
        ids = {}
        for title, text in texts.items():
            body = {"name": title, "text": text, "indexing_technique": "high_quality"}
            ids[title] = api.post(f"/v1/datasets/{dataset_id}/document/create-by-text", json=body).json()[
                "document"
            ]["id"]
        for document_id in ids.values():
            assert _indexed(api, dataset_id, document_id)["display_status"] == "available"
    return dataset_id, ids


def _row(page: Page, name: str):
    return page.locator("#documents tr[data-document]", has_text=name)


def test_metadata_values_on_one_document_and_on_several_then_a_filter_finds_them(
    page: Page, events, kb_service
):
    texts = {f"{place}.txt": LIGHTHOUSE.format(place=place) for place in PLACES}
    dataset_id, ids = _dataset_of_texts(kb_service, "Lighthouses", texts)
    with kb_service.api() as api:
        base = f"/v1/datasets/{dataset_id}/metadata"
        team = api.post(base, json={"type": "string", "name": "team"}).json()
        api.post(base, json={"type": "number", "name": "year"}).raise_for_status()
    sign_in(page, kb_service.key)

    # One document: its page edits every field of the dataset, each with an input of its type
    page.goto(f"/ui/datasets/{dataset_id}/documents/{ids['Brittany.txt']}")
    expect(page.locator("#metadata-year")).to_have_attribute("type", "number")
    page.fill("#metadata-team", "coast")
    page.fill("#metadata-year", "2024")
    page.click("#save-metadata")
    expect(page.locator("#metadata-team")).to_have_value("coast")  # the page reloaded with the saved values
    with kb_service.api() as api:
        saved = api.get(f"/v1/datasets/{dataset_id}/documents/{ids['Brittany.txt']}?metadata=only").json()
    assert {item["name"]: item["value"] for item in saved["doc_metadata"]} == {"team": "coast", "year": 2024}

    # Several documents at once, through the batch metadata update; each document's result is shown
    page.goto(f"/ui/datasets/{dataset_id}")
    for name in ("Cornwall.txt", "Galicia.txt"):
        _row(page, name).locator("[data-select]").check()
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    page.select_option("#batch-field", team["id"])
    page.fill("#batch-value", "moor")
    page.click("#batch-metadata button[type=submit]")
    expect(page.locator("#batch-results")).to_contain_text("Set team: 2 of 2 done")
    expect(page.locator("#batch-results li")).to_have_count(2)
    with kb_service.api() as api:
        for name in ("Cornwall.txt", "Galicia.txt"):
            values = api.get(f"/v1/datasets/{dataset_id}/documents/{ids[name]}?metadata=only").json()
            assert {item["name"]: item["value"] for item in values["doc_metadata"]} == {"team": "moor"}

    # Hit-testing filters on the values just set
    page.click("nav.tabs a:has-text('Hit-testing')")
    page.fill("#query", "lighthouse keeper ship")
    page.select_option("#search-method", "full_text_search")
    page.click("#add-condition")
    condition = page.locator("#filter-conditions .condition").first
    condition.locator("select[aria-label='Metadata field']").select_option("team")
    condition.locator("select[aria-label='Operator']").select_option("is")
    condition.locator("input[aria-label='Value']").fill("moor")
    page.click("#run-query")
    expect(page.locator("#summary")).to_contain_text("2 records")
    found = sorted(page.locator(".result .meta a").all_inner_texts())
    assert found == ["Cornwall.txt", "Galicia.txt"]
    assert not events.errors


def test_a_documents_page_shows_its_facts_serves_its_file_renames_and_reindexes_it(
    page: Page, events, kb_service, tmp_path, screenshot_dir
):
    pdf = make_pdf(tmp_path / "annual-report.pdf", REPORT_PAGES)
    segmentation = {"separator": "\n\n", "max_tokens": 1000, "chunk_overlap": 0}
    cleaning = [{"id": "remove_extra_spaces", "enabled": True}]
    rule = {"mode": "custom", "rules": {"pre_processing_rules": cleaning, "segmentation": segmentation}}
    with kb_service.api() as api:
        dataset_id = api.post("/v1/datasets", json={"name": "Reports"}).json()["id"]
        created = api.post(
            f"/v1/datasets/{dataset_id}/document/create-by-file",
            files={"file": (pdf.name, pdf.read_bytes(), "application/pdf")},
            data={"data": json.dumps({"indexing_technique": "high_quality", "process_rule": rule})},
        )
        assert created.status_code == 200, created.text
        document_id = created.json()["document"]["id"]
        before = _indexed(api, dataset_id, document_id)
    sign_in(page, kb_service.key)
    page.goto(f"/ui/datasets/{dataset_id}")
    _row(page, pdf.name).locator("a").click()

    facts = page.locator("#document-facts")
    expect(page.locator("#document-name")).to_contain_text(pdf.name)
    expect(facts.locator("[data-fact=Chunks]")).to_have_text(str(before["segment_count"]))
    expect(facts.locator("[data-fact=Pages]")).to_have_text(str(len(REPORT_PAGES)))
    expect(facts.locator("[data-fact=Characters]")).to_have_text(f"{before['word_count']:,}")
    expect(facts.locator("[data-fact='Processing rule']")).to_contain_text("Custom")
    expect(facts.locator("[data-fact='Processing rule']")).to_contain_text("up to 1000 characters")
    expect(facts.locator("[data-fact=Stages]")).to_contain_text("embedding and indexing")
    with page.expect_download() as download:
        page.click("#download-file")
    assert Path(download.value.path()).read_bytes() == pdf.read_bytes()
    assert download.value.suggested_filename == pdf.name

    # Rename: the chunks are indexed with the name, so the document is re-indexed under it
    page.fill("#document-rename", "Annual report 2025.pdf")
    page.click("#rename button[type=submit]")
    expect(page.locator("#toasts")).to_contain_text("Renamed")  # the update was accepted
    with kb_service.api() as api:
        renamed = _indexed(api, dataset_id, document_id)
    assert renamed["name"] == "Annual report 2025.pdf" and renamed["display_status"] == "available"
    page.reload()
    expect(page.locator("#document-name")).to_contain_text("Annual report 2025.pdf")

    # Re-index with a smaller chunk size, previewed on the stored file first
    page.click("#reindex summary")
    expect(page.locator("#reindex #chunk-mode")).to_have_value("custom")  # prefilled with the document's rule
    expect(page.locator("#reindex #doc-form")).to_be_disabled()  # the dataset's chunk structure stays
    page.fill("#reindex #chunk-max", "200")
    page.fill("#reindex #chunk-overlap", "20")
    page.click("#preview-reindex")
    summary = page.locator("#reindex-preview #preview-summary")
    expect(summary).to_contain_text("Preview of “Annual report 2025.pdf”")
    previewed = int(re.search(r"(\d+) chunks", summary.inner_text()).group(1))
    assert previewed > before["segment_count"]
    screenshots(page, screenshot_dir, "document")
    page.click("#run-reindex")
    expect(page.locator("#toasts")).to_contain_text("Re-indexing with the new rule")
    with kb_service.api() as api:
        after = _indexed(api, dataset_id, document_id)
    assert after["segment_count"] == previewed
    assert after["document_process_rule"]["rules"]["segmentation"]["max_tokens"] == 200
    page.reload()
    expect(facts.locator("[data-fact=Chunks]")).to_have_text(str(previewed))
    expect(facts.locator("[data-fact='Processing rule']")).to_contain_text("up to 200 characters")
    page.click("#open-chunks")
    expect(page.locator("article.segment")).to_have_count(min(previewed, 20))
    assert not events.errors


def test_batch_actions_report_each_document(page: Page, events, kb_service, screenshot_dir):
    texts = {f"{place} log.txt": LIGHTHOUSE.format(place=place) for place in PLACES}
    dataset_id, ids = _dataset_of_texts(kb_service, "Ship logs", texts)
    sign_in(page, kb_service.key)
    page.goto(f"/ui/datasets/{dataset_id}")
    expect(page.locator("#batch-bar")).to_be_hidden()
    expect(page.locator(".pager")).to_have_count(0)  # three documents fit one page

    # Select all, then leave one out: the header box shows a partial selection
    page.check("#select-all")
    expect(page.locator("#selected-count")).to_have_text("3 selected")
    _row(page, "Galicia log.txt").locator("[data-select]").uncheck()
    assert page.evaluate("document.getElementById('select-all').indeterminate") is True
    page.click("#batch-bar [data-batch=disable]")
    expect(page.locator("#batch-results")).to_contain_text("Disable: 2 of 2 done")
    with kb_service.api() as api:
        listed = api.get(f"/v1/datasets/{dataset_id}/documents").json()["data"]
    states = {item["name"]: item["display_status"] for item in listed}
    assert states == {
        "Brittany log.txt": "disabled",
        "Cornwall log.txt": "disabled",
        "Galicia log.txt": "available",
    }
    expect(_row(page, "Brittany log.txt").locator(".badge-disabled")).to_be_visible()

    # A refusal is reported for the document it concerns: finished documents cannot be retried
    page.check("#select-all")
    page.click("#batch-bar [data-batch=retry]")
    expect(page.locator("#batch-results")).to_contain_text("Retry: 0 of 3 done")
    expect(page.locator(f"#batch-results [data-outcome='{ids['Galicia log.txt']}'] .error")).to_be_visible()
    screenshots(page, screenshot_dir, "documents-batch")
    assert not events.errors


def test_adding_documents_previews_the_chosen_file_and_clears_the_form(
    page: Page, events, kb_service, tmp_path
):
    first = tmp_path / "tides.txt"
    first.write_text("Spring tides follow the new and the full moon.\n\nNeap tides follow the quarters.")
    second = tmp_path / "winds.txt"
    second.write_text("The mistral blows down the Rhône valley towards the sea.")
    sign_in(page, kb_service.key)
    with kb_service.api() as api:
        dataset_id = api.post("/v1/datasets", json={"name": "Weather"}).json()["id"]
    page.goto(f"/ui/datasets/{dataset_id}")
    page.set_input_files("#file-picker", [str(first), str(second)])
    expect(page.locator("#upload-list li")).to_have_count(2)

    # With two files the person picks which one to preview, and the preview names it
    page.select_option("#preview-source", label="winds.txt")
    page.click("#preview-chunks")
    expect(page.locator("#preview-summary")).to_contain_text("Preview of “winds.txt”")
    expect(page.locator("#chunk-preview")).to_contain_text("mistral")
    expect(page.locator("#chunk-preview")).not_to_contain_text("tides")

    page.click("#upload-files")
    expect(page.locator("#documents tr[data-document]")).to_have_count(2)
    expect(page.locator("#upload-list li")).to_have_count(0)  # the uploaded files left the form
    expect(page.locator("#documents .badge-available")).to_have_count(2, timeout=120_000)

    # The Characters column is the API's word_count (which counts characters)
    with kb_service.api() as api:
        listed = api.get(f"/v1/datasets/{dataset_id}/documents").json()["data"]
    for item in listed:
        shown = _row(page, item["name"]).locator("[data-characters]")
        expect(shown).to_have_text(f"{item['word_count']:,}")
    expect(page.locator("#documents th", has_text="Words")).to_have_count(0)
    assert not events.errors


def test_settings_are_not_hit_testings_temporary_panel(page: Page, events, kb_service, screenshot_dir):
    texts = {"harbour.txt": LIGHTHOUSE.format(place="the harbour")}
    dataset_id, _ = _dataset_of_texts(kb_service, "Harbour", texts)
    sign_in(page, kb_service.key)
    page.goto(f"/ui/datasets/{dataset_id}/settings")
    expect(page.locator("#save-settings")).to_be_visible()
    expect(page.locator("#temporary-notice")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("Temporary")
    expect(page.locator("#settings-permission")).to_have_count(0)  # no members here, so no member choice
    expect(page.locator("#access-note")).to_contain_text("every API key of this workspace")
    # the threshold box is greyed out until ticked
    expect(page.locator("#threshold")).to_be_disabled()
    page.check("#threshold-on")
    expect(page.locator("#threshold")).to_be_enabled()
    option = page.locator("#settings-embedding option").first.inner_text()
    box = page.locator("#settings-embedding").bounding_box()
    assert option.startswith("all-MiniLM-L6-v2") and box["width"] > 600
    screenshots(page, screenshot_dir, "settings")

    page.click("nav.tabs a:has-text('Hit-testing')")
    expect(page.locator("#temporary-notice")).to_be_visible()
    page.fill("#query", "lighthouse lamp")
    page.select_option("#search-method", "semantic_search")
    page.click("#run-query")
    expect(page.locator("#summary")).to_contain_text("query embedding")
    expect(page.locator("#summary")).not_to_contain_text("beside the keyword search")
    expect(page.locator("#records tbody tr").first).to_contain_text("Vector")
    assert not events.errors


def test_the_api_access_panel_gives_a_request_that_works(page: Page, events, kb_service, screenshot_dir):
    texts = {"pier.txt": LIGHTHOUSE.format(place="the pier")}
    dataset_id, _ = _dataset_of_texts(kb_service, "Pier", texts)
    sign_in(page, kb_service.key)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/ui/datasets/{dataset_id}/access")
    expect(page.locator("#base-url")).to_have_value(f"{kb_service.url}/v1")
    expect(page.locator("#external-endpoint")).to_have_value(kb_service.url)
    expect(page.locator("#mcp-endpoint")).to_have_value(f"{kb_service.url}/mcp")
    page.click("button[aria-label='Copy This dataset\\'s ID']")
    assert page.evaluate("navigator.clipboard.readText()") == dataset_id
    expect(page.locator("#example-request")).to_contain_text("$KB_API_KEY")  # no key until one is made

    page.click("#create-access-key")
    key = page.locator("#created-key").input_value()
    assert key.startswith("ds-")
    example = page.locator("#example-request").inner_text()
    assert key in example and "$KB_API_KEY" not in example
    screenshots(page, screenshot_dir, "api-access")

    # The example, run as written, answers with this dataset's records; its key reaches this dataset only
    words = shlex.split(example.replace("\\\n", " "))
    url = words[words.index("-X") + 2]
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    answer = httpx.post(url, headers=headers, content=words[words.index("-d") + 1], timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["records"][0]["segment"]["document"]["name"] == "pier.txt"
    with kb_service.api(key) as scoped:
        assert [item["id"] for item in scoped.get("/v1/datasets").json()["data"]] == [dataset_id]
    assert not events.errors
