"""The admin UI as a person uses it, in headless Chromium against the real embedded `kb serve`."""

import re

import pytest
from playwright.sync_api import Page, expect

from bench.corpus import document_text, load_corpus
from tests.e2e.conftest import screenshots, sign_in
from tests.samples import make_docx, make_pdf

QUOKKA_FACT = "The quokka is a small marsupial that lives on Rottnest Island near Perth."
WOMBAT_TEXT = "Wombats dig long burrows in the eucalyptus forests of Tasmania."
FILLER_PAGES = 60  # enough chunks that indexing takes a few seconds, so its progress shows


DROP_FILE = """([name, bytes]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], name));
    const drop = new DragEvent("drop", { dataTransfer: transfer, bubbles: true });
    document.getElementById("dropzone").dispatchEvent(drop);
}"""
# Every text a progress cell shows, so the test knows the page showed progress as it came in.
RECORD_PROGRESS = """() => {
    window.progressSeen = [];
    const record = () => document.querySelectorAll("[data-progress]")
        .forEach((cell) => window.progressSeen.push(cell.textContent));
    new MutationObserver(record).observe(document.body, { childList: true, subtree: true });
}"""


def _pdf_pages() -> list[str]:
    """The quokka fact on the first page, SciFact abstracts after it (Helvetica is Latin-1 only)."""
    pages = [
        document_text(item).encode("latin-1", "replace").decode("latin-1")
        for item in load_corpus(FILLER_PAGES)
    ]
    return [QUOKKA_FACT, *pages]


def _hit_test(page: Page, query: str, method: str) -> None:
    page.fill("#query", query)
    page.select_option("#search-method", method)
    page.click("#run-query")
    expect(page.locator("#summary")).to_be_visible()


def _first_card(page: Page):
    return page.locator(".result").first


def _new_dataset(page: Page, name: str) -> str:
    page.click("summary:has-text('Create a dataset')")
    page.fill("#new-dataset-name", name)
    page.click("form button.primary:has-text('Create')")
    page.wait_for_selector(f"h1:text-is('{name}')")
    return page.url.rsplit("/", 1)[-1]


def test_a_person_indexes_files_tunes_retrieval_and_edits_chunks(
    page: Page, events, kb_service, tmp_path, screenshot_dir
):
    sign_in(page, kb_service.key)
    dataset_id = _new_dataset(page, "Field guide")

    pdf = make_pdf(tmp_path / "marsupials.pdf", _pdf_pages())
    docx = make_docx(tmp_path / "cells.docx")
    page.set_input_files("#file-picker", str(pdf))
    # the second file arrives by drag and drop, as a DataTransfer on the drop zone
    page.evaluate(DROP_FILE, [docx.name, list(docx.read_bytes())])
    expect(page.locator("#upload-list li")).to_have_count(2)
    page.evaluate("window.notReloaded = true")
    page.evaluate(RECORD_PROGRESS)
    page.click("#upload-files")
    expect(page.locator("#upload-list progress")).to_have_count(2)
    expect(page.locator("#upload-list li")).to_have_count(0)  # uploaded files leave the form
    rows = page.locator("#documents tr[data-document]")
    expect(rows).to_have_count(2)
    expect(page.locator("#documents .badge-available")).to_have_count(2, timeout=180_000)
    assert page.evaluate("window.notReloaded") is True  # progress came in without a page load
    seen = page.evaluate("window.progressSeen")
    assert any(re.search(r"\d+ / \d+", text) for text in seen), seen  # completed_segments / total_segments
    screenshots(page, screenshot_dir, "documents")

    page.click("nav.tabs a:has-text('Hit-testing')")
    _hit_test(page, "Where does the quokka live?", "hybrid_search")
    card = _first_card(page)
    expect(card).to_contain_text("Rottnest Island")
    expect(card.locator("[data-leg=vector]")).to_be_visible()
    expect(card.locator("[data-leg=keyword]")).to_be_visible()
    expect(card.locator("mark", has_text=re.compile("^quokka$", re.I))).to_be_visible()
    expect(card.locator(".meta a")).to_have_text("marsupials.pdf")
    assert re.fullmatch(r"\d\.\d\d", card.locator(".score-value").inner_text())
    # each leg's raw score and the probability read from it; what a score means, and a threshold
    expect(card.locator("[data-leg=vector]")).to_contain_text(re.compile(r"vector \d\.\d\d → \d\.\d\d"))
    expect(page.locator("#score-note")).to_contain_text("probabilities of relevance")
    expect(page.locator("#threshold-help")).to_contain_text("0.5 keeps what is more likely relevant")
    expect(page.locator("#summary")).to_contain_text("query embedding")
    expect(page.locator("#summary")).to_contain_text("keyword search")
    hybrid_score = card.locator(".score-value").inner_text()
    screenshots(page, screenshot_dir, "hit-testing")

    _hit_test(page, "Where does the quokka live?", "full_text_search")
    expect(card.locator("[data-leg=vector]")).to_have_count(0)
    expect(card.locator("[data-leg=keyword]")).to_be_visible()
    expect(card).to_contain_text("Rottnest Island")
    assert card.locator(".score-value").inner_text() != hybrid_score

    # Records: newest first, and a click runs the query again with its own settings
    records = page.locator("#records tbody tr")
    expect(records).to_have_count(2)
    expect(records.first).to_contain_text("Hit-testing")
    expect(records.first).to_contain_text("Full-text")
    records.nth(1).locator("button").click()
    expect(page.locator("#search-method")).to_have_value("hybrid_search")
    expect(records).to_have_count(3)
    expect(_first_card(page).locator("[data-leg=vector]")).to_be_visible()

    # The card opens its chunk in the document's segments page; edit it and find the new text
    _first_card(page).locator(".meta a").click()
    focused = page.locator("article.segment.focused")
    expect(focused).to_contain_text("quokka")
    page.screenshot(path=str(screenshot_dir / "segments.png"))
    focused.locator("button:has-text('Edit')").click()
    page.locator("article.segment textarea").fill(WOMBAT_TEXT)
    page.locator("article.segment button:has-text('Save')").click()
    expect(page.locator("#segments")).to_contain_text(WOMBAT_TEXT)
    page.click("nav.tabs a:has-text('Hit-testing')")
    _hit_test(page, "wombat burrows", "full_text_search")
    expect(_first_card(page)).to_contain_text(WOMBAT_TEXT)

    # A disabled document is gone from the results
    _hit_test(page, "chloroplast mitochondrion organelle", "full_text_search")
    expect(page.locator(".result .meta a", has_text="cells.docx").first).to_be_visible()
    page.click("nav.tabs a:has-text('Documents')")
    page.locator("tr[data-document]", has_text="cells.docx").locator("button:has-text('Disable')").click()
    expect(
        page.locator("tr[data-document]", has_text="cells.docx").locator(".badge-disabled")
    ).to_be_visible()
    page.click("nav.tabs a:has-text('Hit-testing')")
    _hit_test(page, "chloroplast mitochondrion organelle", "full_text_search")
    expect(page.locator(".result .meta a", has_text="cells.docx")).to_have_count(0)

    assert not events.errors and not events.dialogs

    # Sign-out ends the session on the server: the old cookie gets 401
    cookie = next(c for c in page.context.cookies() if c["name"] == "kb_session")
    page.click("#sign-out")
    expect(page.locator("#api-key")).to_be_visible()
    stale = page.request.get("/v1/datasets", headers={"Cookie": f"kb_session={cookie['value']}"})
    assert stale.status == 401
    assert page.request.get(f"/v1/datasets/{dataset_id}").status == 401


def test_a_wrong_key_is_refused(page: Page, kb_service):
    page.goto("/ui/")
    page.fill("#api-key", "ds-notakey0000000000000000")
    page.click("button:has-text('Sign in')")
    expect(page.locator(".signin .error")).to_have_text("Access token is invalid")
    assert not [c for c in page.context.cookies() if c["name"] == "kb_session"]


def test_the_session_cookie_is_http_only_and_strict(page: Page, kb_service):
    sign_in(page, kb_service.key)
    cookie = next(c for c in page.context.cookies() if c["name"] == "kb_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert "kb_session" not in page.evaluate("document.cookie")
    assert kb_service.key not in page.content()


def test_a_change_without_the_csrf_token_is_refused(page: Page, kb_service):
    sign_in(page, kb_service.key)
    refused = page.request.post("/v1/datasets", data={"name": "forged"})
    assert refused.status == 403 and refused.json()["code"] == "forbidden"
    listed = page.request.get("/v1/datasets?keyword=forged").json()
    assert listed["total"] == 0


def test_another_workspaces_dataset_is_a_404_page(page: Page, kb_service):
    with kb_service.api(kb_service.other_key) as api:
        theirs = api.post("/v1/datasets", json={"name": "Globex secrets"}).json()
    sign_in(page, kb_service.key)
    for suffix in ("", "/hit-testing", "/settings"):
        page.goto(f"/ui/datasets/{theirs['id']}{suffix}")
        expect(page.locator("h1")).to_have_text("404 · Not found")
        expect(page.locator("main")).not_to_contain_text("Globex secrets")


HOSTILE = (
    "<script>window.hacked = 1; alert('script')</script> "
    "<img src=x onerror=\"window.hacked = 2; alert('img')\"> "
    "[click me](javascript:alert('md')) <a href=\"javascript:alert('link')\">link</a> hostile marker"
)


@pytest.mark.parametrize("where", ["documents", "document", "segments", "hit-testing"])
def test_hostile_content_renders_as_text(page: Page, events, kb_service, where):
    with kb_service.api() as api:
        dataset = api.post("/v1/datasets", json={"name": f"Hostile {where}"}).json()
        body = {"name": "<img src=x onerror=alert('name')>.txt", "text": HOSTILE,
                "indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}  # fmt: skip
        created = api.post(f"/v1/datasets/{dataset['id']}/document/create-by-text", json=body).json()
        document_id = created["document"]["id"]
        for _ in range(600):
            status = api.get(
                f"/v1/datasets/{dataset['id']}/documents/{created['batch']}/indexing-status"
            ).json()
            if status["data"][0]["indexing_status"] == "completed":
                break
            page.wait_for_timeout(100)
        segment = {"content": HOSTILE.replace("marker", "segment"), "keywords": ["<b>bold</b>"]}
        added = api.post(f"/v1/datasets/{dataset['id']}/documents/{document_id}/segments",
                         json={"segments": [segment]})  # fmt: skip
        assert added.status_code == 200, added.text
    sign_in(page, kb_service.key)
    if where == "documents":
        page.goto(f"/ui/datasets/{dataset['id']}")
        expect(page.locator("#documents")).to_contain_text("<img src=x onerror=alert('name')>.txt")
    elif where == "document":
        page.goto(f"/ui/datasets/{dataset['id']}/documents/{document_id}")
        expect(page.locator("#document-name")).to_contain_text("<img src=x onerror=alert('name')>.txt")
        page.click("#reindex summary")
        page.click("#preview-reindex")
        expect(page.locator("#reindex-preview")).to_contain_text("<script>window.hacked = 1;")
    elif where == "segments":
        page.goto(f"/ui/datasets/{dataset['id']}/documents/{document_id}/segments")
        expect(page.locator("#segments")).to_contain_text("<script>window.hacked = 1;")
        expect(page.locator("#segments")).to_contain_text("<b>bold</b>")
    else:
        page.goto(f"/ui/datasets/{dataset['id']}/hit-testing")
        _hit_test(page, "hostile marker script onerror", "full_text_search")
        expect(_first_card(page)).to_contain_text("<script>window.hacked = 1;")
    assert page.locator("main img, main script").count() == 0
    assert page.locator("main a[href^='javascript']").count() == 0
    assert page.evaluate("window.hacked") is None
    assert events.dialogs == [] and events.errors == []
    # nothing even tried to run: the page's policy would have reported a blocked script or handler
    assert not [text for text in events.console_errors if "Content Security Policy" in text]


def test_the_keys_page_creates_a_dataset_scoped_key_shown_once(page: Page, kb_service):
    with kb_service.api() as api:
        chosen = api.post("/v1/datasets", json={"name": "Scoped only"}).json()
        api.post("/v1/datasets", json={"name": "Not for that key"}).raise_for_status()
    sign_in(page, kb_service.key)
    page.click("#nav a:has-text('API keys')")
    page.locator("#key-scope label", has_text="Scoped only").locator("input").check()
    page.click("#create-key")
    token = page.locator("#created-key").input_value()
    assert token.startswith("ds-")
    expect(page.locator("#keys tr", has_text=token[:6]).filter(has_text="Scoped only")).to_have_count(1)
    with kb_service.api(token) as scoped:
        assert [item["id"] for item in scoped.get("/v1/datasets").json()["data"]] == [chosen["id"]]
    page.reload()
    expect(page.locator("#created-key")).to_have_count(0)  # shown once only
