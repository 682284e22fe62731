"""Document creation, update, listing and deletion through the API, indexed by a
real Celery worker consuming from Redis, on SQLite and PostgreSQL."""

import time

import pytest
from sqlalchemy import func, select

from core.database import session_scope
from core.documents.models import Document, UploadFile
from core.index.engines import get_vector_store
from core.index.keyword_index import TEXTS, term_collections
from core.index.models import EmbeddingCacheEntry
from core.segments.models import ChildChunk, Segment
from core.settings import get_settings
from tests import samples
from tests.helpers import (
    assert_error,
    create_dataset,
    create_text_document,
    no_file_kept,
    replace_stored,
    stored_keys,
    upload_document,
    wait_for_batch,
)

TEXT = "\n\n".join(
    f"Section {i}. Mitochondria produce ATP through oxidative phosphorylation in eukaryotic cells. " * 3
    for i in range(6)
)
DOCUMENT_FIELDS = set(
    """id position data_source_type data_source_info data_source_detail_dict dataset_process_rule_id name
    created_from created_by created_at tokens indexing_status error enabled disabled_at disabled_by archived
    display_status word_count hit_count doc_form doc_metadata summary_index_status need_summary""".split()  # noqa: SIM905
)
CUSTOM_RULE = {
    "mode": "custom",
    "rules": {
        "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
        "segmentation": {"separator": "\\n\\n", "max_tokens": 300, "chunk_overlap": 0},
    },
}


def _vectors(dataset_id: str, **where) -> int:
    with session_scope() as session:
        from core.datasets.models import Dataset

        collection = session.get(Dataset, dataset_id).vector_collection
    return get_vector_store().count(collection, **where) if collection else 0


def _eventually(check, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _texts(document_id: str, dataset_id: str | None = None) -> int:
    """The document's texts in the full-text index (the engine's term collection)."""
    if dataset_id is None:
        with session_scope() as session:
            from core.documents.models import Document

            dataset_id = session.scalar(select(Document.dataset_id).where(Document.id == document_id))
    return get_vector_store().count(term_collections(dataset_id)[TEXTS], document_id=document_id)


def _count(model, **where) -> int:
    with session_scope() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.scalar(query)


def _indexed_document(client, tenant, dataset_id: str, name: str, text: str, **fields) -> dict:
    created = create_text_document(client, tenant, dataset_id, name, text, **fields)
    assert created.status_code == 200, created.text
    wait_for_batch(client, tenant, dataset_id, created.json()["batch"])
    return created.json()


def _segments(document_id: str) -> list[Segment]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(Segment).where(Segment.document_id == document_id).order_by(Segment.position)
            )
        )


def test_create_by_text_indexes_the_document(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    response = create_text_document(
        client, tenant, dataset["id"], "cells.txt", TEXT, process_rule=CUSTOM_RULE
    )
    assert response.status_code == 200, response.text
    body = response.json()
    document = body["document"]
    assert set(document) == DOCUMENT_FIELDS
    assert len(body["batch"]) == 20 and body["batch"].isdigit()
    assert document["indexing_status"] == "waiting" and document["display_status"] == "queuing"
    assert document["data_source_type"] == "upload_file" and document["created_from"] == "api"
    assert document["data_source_detail_dict"]["upload_file"]["name"] == "cells.txt"

    status = wait_for_batch(client, tenant, dataset["id"], body["batch"])[0]
    assert status["indexing_status"] == "completed", status
    assert status["completed_segments"] == status["total_segments"] == 6
    for stamp in ("processing_started_at", "parsing_completed_at", "splitting_completed_at", "completed_at"):
        assert isinstance(status[stamp], int)

    detail = client.get(
        f"/v1/datasets/{dataset['id']}/documents/{document['id']}", headers=tenant.headers
    ).json()
    assert detail["display_status"] == "available" and detail["segment_count"] == 6
    assert detail["tokens"] > 0 and detail["word_count"] == sum(
        len(s.content) for s in _segments(document["id"])
    )
    assert detail["document_process_rule"]["mode"] == "custom"
    assert _vectors(dataset["id"], document_id=document["id"]) == 6
    assert _texts(document["id"]) == 6

    dataset_after = client.get(f"/v1/datasets/{dataset['id']}", headers=tenant.headers).json()
    assert dataset_after["indexing_technique"] == "high_quality"
    assert dataset_after["embedding_model"] == "all-MiniLM-L6-v2"
    assert dataset_after["retrieval_model_dict"]["top_k"] == 4
    assert dataset_after["data_source_type"] == "upload_file" and dataset_after["doc_form"] == "text_model"
    assert dataset_after["document_count"] == 1 and dataset_after["total_available_documents"] == 1


def test_underscore_alias_and_automatic_rule(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    body = {
        "name": "a",
        "text": TEXT,
        "indexing_technique": "high_quality",
        "process_rule": {"mode": "automatic"},
    }
    response = client.post(
        f"/v1/datasets/{dataset['id']}/document/create_by_text", json=body, headers=tenant.headers
    )
    assert response.status_code == 200
    assert (
        wait_for_batch(client, tenant, dataset["id"], response.json()["batch"])[0]["indexing_status"]
        == "completed"
    )
    assert all(len(segment.content) <= 500 for segment in _segments(response.json()["document"]["id"]))


def test_indexing_technique_is_required_for_the_first_document(client, tenant):
    dataset = create_dataset(client, tenant)
    response = client.post(
        f"/v1/datasets/{dataset['id']}/document/create-by-text",
        json={"name": "a", "text": "b"},
        headers=tenant.headers,
    )
    assert_error(response, 400, "invalid_param", "indexing_technique is required.")
    assert _count(UploadFile) == 0


def test_an_empty_text_is_refused_in_words_about_text(client, tenant):
    dataset = create_dataset(client, tenant)
    base = f"/v1/datasets/{dataset['id']}"
    for text in ("", "  \n\t "):
        body = {"name": "blank", "text": text, "indexing_technique": "high_quality"}
        response = client.post(f"{base}/document/create-by-text", json=body, headers=tenant.headers)
        assert_error(
            response, 400, "invalid_param", "The text is empty: a document needs some text to index."
        )
    document = create_text_document(client, tenant, dataset["id"], "full", "Some words.").json()["document"]
    update = {"name": "full", "text": ""}
    response = client.post(
        f"{base}/documents/{document['id']}/update-by-text", json=update, headers=tenant.headers
    )
    assert_error(response, 400, "invalid_param", "The text is empty: a document needs some text to index.")
    assert _count(Document) == 1 and _count(UploadFile) == 1


def test_doc_form_rules(client, tenant):
    dataset = create_dataset(client, tenant)
    bad = create_text_document(client, tenant, dataset["id"], "a", "text", doc_form="poem_model")
    assert_error(bad, 400, "invalid_param", "Invalid doc_form.")
    assert create_text_document(client, tenant, dataset["id"], "a", "text").status_code == 200
    other = create_text_document(client, tenant, dataset["id"], "b", "text", doc_form="qa_model")
    assert_error(other, 400, "invalid_param", "doc_form is different from the dataset doc_form.")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"mode": "fancy"}, "Process rule mode is invalid"),
        ({"mode": "custom"}, "Process rule rules is required"),
        ({"mode": "custom", "rules": {"segmentation": {}}}, "Process rule pre_processing_rules is required"),
        ({"mode": "custom", "rules": {"pre_processing_rules": []}}, "Process rule segmentation is required"),
        (
            {
                "mode": "custom",
                "rules": {"pre_processing_rules": [], "segmentation": {"separator": "", "max_tokens": 100}},
            },
            "Process rule segmentation separator is required",
        ),
        (
            {"mode": "custom", "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n"}}},
            "Process rule segmentation max_tokens is required",
        ),
    ],
)
def test_process_rule_validation(client, tenant, rule, message):
    dataset = create_dataset(client, tenant)
    response = create_text_document(client, tenant, dataset["id"], "a", "text", process_rule=rule)
    assert_error(response, 400, "invalid_param", message)


def test_chunk_length_is_checked_at_indexing_time(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    rule = {
        "mode": "custom",
        "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n", "max_tokens": 20}},
    }
    response = create_text_document(client, tenant, dataset["id"], "a", TEXT, process_rule=rule)
    assert response.status_code == 200
    status = wait_for_batch(client, tenant, dataset["id"], response.json()["batch"])[0]
    assert status["indexing_status"] == "error"
    assert status["error"] == "Custom segment length should be between 50 and 4000."
    assert isinstance(status["stopped_at"], int)


@pytest.mark.parametrize(
    ("filename", "maker", "expected"),
    [
        (
            "notes.pdf",
            lambda p: samples.make_pdf(p, ["Chlorophyll absorbs light.", "Second page text."]),
            "Chlorophyll",
        ),
        ("cells.docx", samples.make_docx, "Organelle: Chloroplast"),
        (
            "table.xlsx",
            lambda p: samples.make_xlsx(p, [["Gene", "Role"], ["TP53", "Tumour suppressor"]]),
            "Gene: TP53",
        ),
        ("mail.msg", samples.make_msg, "Lab meeting"),
    ],
)
def test_create_by_file(client, tenant, celery_worker, tmp_path, filename, maker, expected):
    dataset = create_dataset(client, tenant)
    content = maker(tmp_path / filename).read_bytes()
    data = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}
    response = upload_document(client, tenant, dataset["id"], filename, content, data)
    assert response.status_code == 200, response.text
    document = response.json()["document"]
    assert document["name"] == filename
    assert document["data_source_detail_dict"]["upload_file"]["size"] == len(content)
    status = wait_for_batch(client, tenant, dataset["id"], response.json()["batch"])[0]
    assert status["indexing_status"] == "completed", status["error"]
    assert any(expected in segment.content for segment in _segments(document["id"]))


def test_upload_errors(client, tenant):
    dataset = create_dataset(client, tenant)
    url = f"/v1/datasets/{dataset['id']}/document/create-by-file"
    assert_error(
        client.post(url, headers=tenant.headers), 400, "no_file_uploaded", "Please upload your file."
    )
    assert_error(
        client.post(url, data={"data": "{}"}, headers=tenant.headers),
        400,
        "no_file_uploaded",
        "Please upload your file.",
    )
    two = [("file", ("a.txt", b"a", "text/plain")), ("other", ("b.txt", b"b", "text/plain"))]
    assert_error(
        client.post(url, files=two, headers=tenant.headers),
        400,
        "too_many_files",
        "Only one file is allowed.",
    )
    nameless = {"file": ("", b"text", "text/plain")}
    response = client.post(url, files=nameless, headers=tenant.headers)
    assert response.status_code == 400 and response.json()["code"] in (
        "filename_not_exists_error",
        "no_file_uploaded",
    )
    slash_only = {"file": ("../", b"text", "text/plain")}
    assert_error(client.post(url, files=slash_only, headers=tenant.headers), 400, "filename_not_exists_error")
    response = upload_document(
        client, tenant, dataset["id"], "virus.exe", b"MZ", {"process_rule": {"mode": "automatic"}}
    )
    assert_error(response, 400, "invalid_param", "File type not allowed: .exe")
    response = upload_document(
        client, tenant, dataset["id"], "a.txt", b"text", {"indexing_technique": "economy"}
    )
    assert_error(response, 400, "invalid_param", "process_rule is required.")
    response = client.post(
        url, files={"file": ("a.txt", b"t", "text/plain")}, data={"data": "{oops"}, headers=tenant.headers
    )
    assert_error(response, 400, "invalid_param", "The data field must be a JSON object.")
    assert _count(UploadFile) == 0 and no_file_kept()


def test_upload_size_limit_is_enforced_while_streaming(client, tenant, monkeypatch):
    monkeypatch.setenv("UPLOAD_FILE_SIZE_LIMIT", "1")
    get_settings.cache_clear()
    dataset = create_dataset(client, tenant)
    big = b"x" * (1024 * 1024 + 10)
    data = {"indexing_technique": "economy", "process_rule": {"mode": "automatic"}}
    response = upload_document(client, tenant, dataset["id"], "big.txt", big, data)
    assert_error(response, 413, "file_too_large")
    assert response.json()["message"].startswith("File size exceeded.")

    small = upload_document(client, tenant, dataset["id"], "small.txt", b"small text", data)
    document_id = small.json()["document"]["id"]
    _complete_without_worker(document_id)
    path = f"documents/{document_id}/update-by-file"
    assert_error(
        upload_document(client, tenant, dataset["id"], "big.txt", big, None, path), 413, "file_too_large"
    )
    assert_error(
        upload_document(client, tenant, dataset["id"], "x.exe", b"MZ", None, path),
        415,
        "unsupported_file_type",
    )
    with session_scope() as session:
        assert stored_keys() == {session.scalar(select(UploadFile.storage_key))}  # only the small file
    assert not any(p.is_file() for p in get_settings().upload_dir.rglob("tmp/*"))


def _complete_without_worker(document_id: str) -> None:
    from core.ingestion.runs import index_document

    index_document(document_id)


def test_same_name_document_is_reindexed_not_duplicated(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    first = create_text_document(
        client, tenant, dataset["id"], "faq", "Old answer about ATP synthase. " * 5
    ).json()
    wait_for_batch(client, tenant, dataset["id"], first["batch"])
    second = create_text_document(
        client, tenant, dataset["id"], "faq", "New answer about ribosomes. " * 5
    ).json()
    assert second["document"]["id"] == first["document"]["id"] and second["batch"] != first["batch"]
    wait_for_batch(client, tenant, dataset["id"], second["batch"])
    contents = " ".join(segment.content for segment in _segments(first["document"]["id"]))
    assert "ribosomes" in contents and "ATP synthase" not in contents
    listing = client.get(f"/v1/datasets/{dataset['id']}/documents", headers=tenant.headers).json()
    assert listing["total"] == 1
    assert _vectors(dataset["id"]) == len(_segments(first["document"]["id"]))


def test_update_by_text_swaps_content_and_keeps_batch(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    # Without chunk context, a chunk's indexed text is its content alone, which a rename leaves as it
    # is (with it, the title is part of every chunk's indexed text: test_a_rename_re_indexes_the_context).
    rule = {**CUSTOM_RULE, "rules": {**CUSTOM_RULE["rules"], "chunk_context": False}}
    created = _indexed_document(client, tenant, dataset["id"], "doc", TEXT, process_rule=rule)
    document_id = created["document"]["id"]
    before = {segment.id for segment in _segments(document_id)}
    new_text = TEXT.replace("Section 5.", "Appendix.")
    response = client.post(
        f"/v1/datasets/{dataset['id']}/documents/{document_id}/update-by-text",
        json={"name": "renamed", "text": new_text},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["batch"] == created["batch"] and response.json()["document"]["name"] == "renamed"
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    after = _segments(document_id)
    # Five sections are unchanged: their segments (and vectors) are kept, one is new.
    assert len(before & {segment.id for segment in after}) == 5 and len(after) == 6
    assert any("Appendix." in segment.content for segment in after)
    # the replaced chunk leaves the engine just after the swap commits
    assert _eventually(
        lambda: _vectors(dataset["id"], document_id=document_id) == 6 and _texts(document_id) == 6
    )


def test_a_rename_re_indexes_the_context(client, tenant, celery_worker):
    """With chunk context (the default), the title is read before every chunk: an update that renames
    the document writes every chunk anew, with the new title, and the old title is no longer found."""
    dataset = create_dataset(client, tenant)
    created = _indexed_document(
        client, tenant, dataset["id"], "Okapi field notes", TEXT, process_rule=CUSTOM_RULE
    )
    document_id = created["document"]["id"]
    before = {segment.id for segment in _segments(document_id)}
    response = client.post(
        f"/v1/datasets/{dataset['id']}/documents/{document_id}/update-by-text",
        json={"name": "Quokka field notes", "text": TEXT},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    after = _segments(document_id)
    assert not before & {segment.id for segment in after}
    assert {segment.context for segment in after} == {"Quokka field notes"}

    def found(word: str) -> int:
        body = {
            "query": word,
            "retrieval_model": {
                "search_method": "full_text_search",
                "top_k": 10,
                "reranking_enable": False,
                "score_threshold_enabled": False,
            },
        }
        url = f"/v1/datasets/{dataset['id']}/hit-testing"
        return len(client.post(url, json=body, headers=tenant.headers).json()["records"])

    assert _eventually(lambda: found("quokka") == len(after) and found("okapi") == 0)


def test_an_updated_document_keeps_its_old_version_searchable_until_the_new_one_is_live(
    client, tenant, broker
):
    """No worker consumes here: the update's run waits in the broker, as behind a busy queue, and is
    then run by hand; an interrupted run (claimed, chunks half written) is recovery's case of the same."""
    dataset = create_dataset(client, tenant)
    quokkas = "Quokkas smile for photographs on Rottnest Island near Perth. " * 4
    created = create_text_document(client, tenant, dataset["id"], "animal", quokkas).json()["document"]
    _complete_without_worker(created["id"])

    def found(query: str) -> list[str]:
        for method in ("semantic_search", "full_text_search", "hybrid_search"):
            # a threshold, or every chunk would come back: each version's text scores about 0.4 for
            # its own query and under 0.02 for the other's (probabilities of relevance)
            semantic = method == "semantic_search"
            model = {"search_method": method, "reranking_enable": False, "top_k": 3,
                     "score_threshold_enabled": semantic, "score_threshold": 0.2}  # fmt: skip
            response = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", headers=tenant.headers,
                                   json={"query": query, "retrieval_model": model})  # fmt: skip
            yield [record["segment"]["content"][:7] for record in response.json()["records"]]

    wombats = "Wombats dig long burrows and leave cube-shaped droppings on rocks. " * 4
    url = f"/v1/datasets/{dataset['id']}/documents/{created['id']}/update-by-text"
    assert (
        client.post(url, json={"name": "animal", "text": wombats}, headers=tenant.headers).status_code == 200
    )
    with session_scope() as session:
        assert session.get(Document, created["id"]).indexing_status == "waiting"
    assert all(hits == ["Quokkas"] for hits in found("quokkas smiling on Rottnest")), (
        "the old version answers"
    )
    assert not any(any(hit == "Wombats" for hit in hits) for hits in found("wombat burrows"))

    _complete_without_worker(created["id"])
    assert all(hits == ["Wombats"] for hits in found("wombat burrows"))
    assert not any(any(hit == "Quokkas" for hit in hits) for hits in found("quokkas smiling on Rottnest"))


def test_searches_during_updates_always_find_the_document(client, tenant, celery_worker):
    """Updates swap versions while a client searches in a loop: each search finds the old text or the
    new one, never neither and never a mix of two versions."""
    import threading

    dataset = create_dataset(client, tenant)
    versions = [
        f"Version {n}: quokkas and wombats share burrow number {n} on the island. " * 6 for n in range(6)
    ]
    created = create_text_document(client, tenant, dataset["id"], "burrows", versions[0]).json()
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    found, done = [], threading.Event()
    model = {"search_method": "full_text_search", "reranking_enable": False, "top_k": 5,
             "score_threshold_enabled": False}  # fmt: skip

    def search_in_a_loop() -> None:
        while not done.is_set():
            body = {"query": "quokkas wombats burrow", "retrieval_model": model}
            response = client.post(
                f"/v1/datasets/{dataset['id']}/hit-testing", headers=tenant.headers, json=body
            )
            found.append({record["segment"]["content"][:10] for record in response.json()["records"]})

    searcher = threading.Thread(target=search_in_a_loop, daemon=True)
    searcher.start()
    url = f"/v1/datasets/{dataset['id']}/documents/{created['document']['id']}/update-by-text"
    for text in versions[1:]:
        assert (
            client.post(url, json={"name": "burrows", "text": text}, headers=tenant.headers).status_code
            == 200
        )
        wait_for_batch(client, tenant, dataset["id"], created["batch"])
    done.set()
    searcher.join(30)
    assert len(found) > 20
    assert all(len(seen) == 1 for seen in found), [seen for seen in found if len(seen) != 1][:3]
    assert found[-1] == {"Version 5:"}


def test_an_update_releases_the_replaced_upload(client, tenant, celery_worker):
    """The previous text or file goes, row and stored bytes, once nothing refers to it; bytes another
    document shares stay."""
    dataset = create_dataset(client, tenant)
    created = _indexed_document(client, tenant, dataset["id"], "doc", TEXT, process_rule=CUSTOM_RULE)
    _indexed_document(client, tenant, dataset["id"], "twin", TEXT, process_rule=CUSTOM_RULE)  # same bytes
    document_id = created["document"]["id"]
    url = f"/v1/datasets/{dataset['id']}/documents/{document_id}/update-by-text"
    for text in ("A first new text.", "A second new text."):
        response = client.post(url, json={"name": "doc", "text": text}, headers=tenant.headers)
        assert response.status_code == 200, response.text
        wait_for_batch(client, tenant, dataset["id"], created["batch"])
    with session_scope() as session:
        uploads = session.scalars(select(UploadFile)).all()
        assert len(uploads) == 2  # the twin's (shared with the original text) and the newest
    assert stored_keys() == {upload.storage_key for upload in uploads} and len(stored_keys()) == 2


def test_update_of_unavailable_document_is_refused(client, tenant):
    dataset = create_dataset(client, tenant)
    created = create_text_document(client, tenant, dataset["id"], "doc", TEXT).json()
    response = client.post(
        f"/v1/datasets/{dataset['id']}/documents/{created['document']['id']}/update_by_text",
        json={"name": "doc", "text": "new"},
        headers=tenant.headers,
    )
    assert_error(response, 400, "invalid_param", "Document is not available")


def test_update_by_file_aliases(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    created = create_text_document(client, tenant, dataset["id"], "doc", TEXT).json()
    document_id = created["document"]["id"]
    for path, method in (
        (f"documents/{document_id}", "PATCH"),
        (f"documents/{document_id}/update-by-file", "POST"),
        (f"documents/{document_id}/update_by_file", "POST"),
    ):
        wait_for_batch(client, tenant, dataset["id"], created["batch"])
        response = upload_document(
            client, tenant, dataset["id"], f"{method}.md", f"# {path}\n\nBody text".encode(), {}, path, method
        )
        assert response.status_code == 200, response.text
        assert response.json()["document"]["name"] == f"{method}.md"
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    assert "update_by_file" in _segments(document_id)[0].content


def test_list_documents_filters_and_paging(client, tenant):
    dataset = create_dataset(client, tenant)
    ids = [
        create_text_document(client, tenant, dataset["id"], f"doc-{i}", "text").json()["document"]["id"]
        for i in range(3)
    ]
    page = client.get(f"/v1/datasets/{dataset['id']}/documents?page=1&limit=2", headers=tenant.headers).json()
    assert [d["id"] for d in page["data"]] == [ids[2], ids[1]]
    assert page["has_more"] is True and page["total"] == 3 and page["limit"] == 2
    keyword = client.get(
        f"/v1/datasets/{dataset['id']}/documents?keyword=doc-1", headers=tenant.headers
    ).json()
    assert [d["id"] for d in keyword["data"]] == [ids[1]]
    queued = client.get(
        f"/v1/datasets/{dataset['id']}/documents?status=queuing", headers=tenant.headers
    ).json()
    assert queued["total"] == 3
    available = client.get(
        f"/v1/datasets/{dataset['id']}/documents?status=enabled", headers=tenant.headers
    ).json()
    assert available["total"] == 0
    unknown = client.get(f"/v1/datasets/{dataset['id']}/documents?status=whatever", headers=tenant.headers)
    assert_error(unknown, 400, "invalid_param")  # a typo must not look like "no documents"
    assert "queuing" in unknown.json()["message"]


def test_document_detail_metadata_modes(client, tenant):
    dataset = create_dataset(client, tenant)
    document_id = create_text_document(client, tenant, dataset["id"], "doc", "text").json()["document"]["id"]
    url = f"/v1/datasets/{dataset['id']}/documents/{document_id}"
    full = client.get(url, headers=tenant.headers).json()
    assert {
        "doc_type",
        "doc_metadata",
        "dataset_process_rule",
        "segment_count",
        "average_segment_length",
    } <= set(full)
    assert full["data_source_info"]["upload_file"]["extension"] == "txt"
    only = client.get(f"{url}?metadata=only", headers=tenant.headers).json()
    assert set(only) == {"id", "doc_type", "doc_metadata"}
    without = client.get(f"{url}?metadata=without", headers=tenant.headers).json()
    assert "doc_metadata" not in without and "doc_type" not in without and "name" in without
    assert_error(
        client.get(f"{url}?metadata=some", headers=tenant.headers),
        400,
        "invalid_metadata",
        "Invalid metadata value: some",
    )
    missing = f"/v1/datasets/{dataset['id']}/documents/00000000-0000-4000-8000-000000000000"
    assert_error(client.get(missing, headers=tenant.headers), 404, "not_found", "Document not found.")


def test_indexing_status_of_unknown_batch(client, tenant):
    dataset = create_dataset(client, tenant)
    response = client.get(
        f"/v1/datasets/{dataset['id']}/documents/20200101000000123456/indexing-status", headers=tenant.headers
    )
    assert_error(response, 404, "not_found", "Documents not found.")


def test_delete_document_removes_everything(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    created = _indexed_document(client, tenant, dataset["id"], "doc", TEXT)
    document_id = created["document"]["id"]
    assert _vectors(dataset["id"], document_id=document_id) > 0 and _texts(document_id) > 0
    response = client.delete(f"/v1/datasets/{dataset['id']}/documents/{document_id}", headers=tenant.headers)
    assert response.status_code == 204
    assert _vectors(dataset["id"], document_id=document_id) == 0
    assert _texts(document_id, dataset["id"]) == 0 and _count(Segment, document_id=document_id) == 0
    assert _count(UploadFile) == 0 and no_file_kept()
    again = client.delete(f"/v1/datasets/{dataset['id']}/documents/{document_id}", headers=tenant.headers)
    assert_error(again, 404, "not_found", "Document Not Exists.")


def test_delete_rules(client, tenant):
    dataset = create_dataset(client, tenant)
    document_id = create_text_document(client, tenant, dataset["id"], "doc", "text").json()["document"]["id"]
    url = f"/v1/datasets/{dataset['id']}/documents/{document_id}"
    with session_scope() as session:
        session.get(Document, document_id).indexing_status = "indexing"
    assert_error(
        client.delete(url, headers=tenant.headers),
        400,
        "document_indexing",
        "Cannot delete document during indexing.",
    )
    with session_scope() as session:
        document = session.get(Document, document_id)
        document.indexing_status, document.archived = "completed", True
    assert_error(
        client.delete(url, headers=tenant.headers),
        403,
        "archived_document_immutable",
        "The archived document is not editable.",
    )


def test_hierarchical_document(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    rule = {
        "mode": "hierarchical",
        "rules": {
            "pre_processing_rules": [],
            "parent_mode": "paragraph",
            "segmentation": {"separator": "\\n\\n", "max_tokens": 1000},
            "subchunk_segmentation": {"separator": ". ", "max_tokens": 100},
        },
    }
    response = create_text_document(
        client, tenant, dataset["id"], "doc", TEXT, process_rule=rule, doc_form="hierarchical_model"
    )
    assert response.status_code == 200, response.text
    document_id = response.json()["document"]["id"]
    assert (
        wait_for_batch(client, tenant, dataset["id"], response.json()["batch"])[0]["indexing_status"]
        == "completed"
    )
    parents = _segments(document_id)
    children = _count(ChildChunk, document_id=document_id)
    assert len(parents) == 6 and children >= 18
    assert _vectors(dataset["id"], document_id=document_id) == children
    assert _texts(document_id) == children


def test_full_doc_hierarchical_document(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    rule = {
        "mode": "hierarchical",
        "rules": {"pre_processing_rules": [], "parent_mode": "full-doc",
                  "subchunk_segmentation": {"separator": "\\n\\n", "max_tokens": 500}},
    }  # fmt: skip
    response = create_text_document(
        client, tenant, dataset["id"], "doc", TEXT, process_rule=rule, doc_form="hierarchical_model"
    )
    assert (
        wait_for_batch(client, tenant, dataset["id"], response.json()["batch"])[0]["indexing_status"]
        == "completed"
    )
    parents = _segments(response.json()["document"]["id"])
    assert len(parents) == 1 and parents[0].content == TEXT.strip()


def test_qa_document_from_csv(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    csv = b"question,answer\nWhat makes ATP?,ATP synthase.\nWhere is DNA?,In the nucleus.\n"
    data = {
        "indexing_technique": "high_quality",
        "doc_form": "qa_model",
        "process_rule": {"mode": "automatic"},
    }
    response = upload_document(client, tenant, dataset["id"], "faq.csv", csv, data)
    assert (
        wait_for_batch(client, tenant, dataset["id"], response.json()["batch"])[0]["indexing_status"]
        == "completed"
    )
    segments = _segments(response.json()["document"]["id"])
    assert [(s.content, s.answer) for s in segments] == [
        ("What makes ATP?", "ATP synthase."),
        ("Where is DNA?", "In the nucleus."),
    ]
    assert segments[0].word_count == len("What makes ATP?") + len("ATP synthase.")


def test_economy_dataset_writes_only_terms(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    response = create_text_document(client, tenant, dataset["id"], "doc", TEXT, indexing_technique="economy")
    assert (
        wait_for_batch(client, tenant, dataset["id"], response.json()["batch"])[0]["indexing_status"]
        == "completed"
    )
    document_id = response.json()["document"]["id"]
    assert _vectors(dataset["id"]) == 0 and _texts(document_id) == len(_segments(document_id))
    assert all(segment.tokens == 0 for segment in _segments(document_id))
    assert (
        client.get(f"/v1/datasets/{dataset['id']}", headers=tenant.headers).json()["embedding_model"] is None
    )


def test_corrupt_file_fails_alone(client, tenant, celery_worker, tmp_path):
    dataset = create_dataset(client, tenant)
    data = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}
    broken = upload_document(client, tenant, dataset["id"], "broken.pdf", b"%PDF-1.4 garbage", data).json()
    locked = samples.make_encrypted_pdf(tmp_path / "locked.pdf", "secret").read_bytes()
    encrypted = upload_document(client, tenant, dataset["id"], "locked.pdf", locked, data).json()
    fine = create_text_document(client, tenant, dataset["id"], "fine", TEXT).json()
    assert "PDF" in wait_for_batch(client, tenant, dataset["id"], broken["batch"])[0]["error"]
    assert "encrypted" in wait_for_batch(client, tenant, dataset["id"], encrypted["batch"])[0]["error"]
    assert wait_for_batch(client, tenant, dataset["id"], fine["batch"])[0]["indexing_status"] == "completed"


def test_rerunning_the_task_leaves_one_copy_and_embeds_nothing_new(client, tenant, celery_worker):
    from core.ingestion.runs import index_document

    dataset = create_dataset(client, tenant)
    created = _indexed_document(client, tenant, dataset["id"], "doc", TEXT, process_rule=CUSTOM_RULE)
    document_id = created["document"]["id"]
    cached = _count(EmbeddingCacheEntry)
    segment_ids = [segment.id for segment in _segments(document_id)]
    for _ in range(2):
        with session_scope() as session:
            session.get(
                Document, document_id
            ).indexing_status = "waiting"  # as a redelivered message finds it
        index_document(document_id)
        index_document(document_id)
    assert [segment.id for segment in _segments(document_id)] == segment_ids
    assert _count(Segment, document_id=document_id) == 6 and _texts(document_id) == 6
    assert _vectors(dataset["id"], document_id=document_id) == 6
    assert _count(EmbeddingCacheEntry) == cached


def test_one_run_takes_every_waiting_document_and_each_goes_live_once_written(client, tenant, monkeypatch):
    from core.ingestion import stages as pipeline
    from core.ingestion.runs import MAX_COMPANIONS, index_document

    monkeypatch.setattr(pipeline, "SEGMENTS_PER_BATCH", 4)
    dataset = create_dataset(client, tenant)
    created = [
        create_text_document(client, tenant, dataset["id"], f"doc {n}", TEXT, process_rule=CUSTOM_RULE)
        for n in range(MAX_COMPANIONS + 9)
    ]
    ids = [response.json()["document"]["id"] for response in created]
    index_document(ids[0])  # one task: the others are found as the run goes on
    with session_scope() as session:
        documents = [session.get(Document, document_id) for document_id in ids]
        assert {document.indexing_status for document in documents} == {"completed"}
        assert documents[0].completed_at < documents[-1].processing_started_at
    assert _count(Segment, status="completed") == 6 * len(ids)
    assert _vectors(dataset["id"]) == 6 * len(ids)


def test_pause_resume_and_retry(client, tenant, request, monkeypatch):
    dataset = create_dataset(client, tenant)
    created = create_text_document(client, tenant, dataset["id"], "doc", TEXT).json()
    document_id = created["document"]["id"]
    base = f"/v1/datasets/{dataset['id']}/documents/{document_id}/processing"
    assert client.post(f"{base}/pause", headers=tenant.headers).json() == {"result": "success"}
    request.getfixturevalue("celery_worker")  # the queued task now runs and finds the document paused
    status = client.get(
        f"/v1/datasets/{dataset['id']}/documents/{created['batch']}/indexing-status", headers=tenant.headers
    )
    assert status.json()["data"][0]["indexing_status"] == "paused"
    listing = client.get(
        f"/v1/datasets/{dataset['id']}/documents?status=queuing", headers=tenant.headers
    ).json()
    assert listing["total"] == 1
    assert client.post(f"{base}/resume", headers=tenant.headers).json() == {"result": "success"}
    assert (
        wait_for_batch(client, tenant, dataset["id"], created["batch"])[0]["indexing_status"] == "completed"
    )
    assert_error(
        client.post(f"{base}/resume", headers=tenant.headers),
        400,
        "invalid_action",
        "Document is not paused.",
    )
    assert_error(client.post(f"{base}/pause", headers=tenant.headers), 400, "document_already_finished")
    retry = client.post(
        f"/v1/datasets/{dataset['id']}/retry", json={"document_ids": [document_id]}, headers=tenant.headers
    )
    assert_error(retry, 400, "document_already_finished")


def test_retry_after_a_failure(client, tenant, celery_worker, monkeypatch):
    dataset = create_dataset(client, tenant)
    data = {
        "indexing_technique": "high_quality",
        "doc_form": "qa_model",
        "process_rule": {"mode": "automatic"},
    }
    created = upload_document(client, tenant, dataset["id"], "notes.txt", TEXT.encode(), data).json()
    failed = wait_for_batch(client, tenant, dataset["id"], created["batch"])[0]
    assert failed["indexing_status"] == "error" and "QA_LLM_BASE_URL" in failed["error"]
    # The operator fixes the cause (here: the document becomes a Q&A table), then retries.
    with session_scope() as session:
        document = session.get(Document, created["document"]["id"])
        upload = session.get(UploadFile, document.upload_file_id)
        replace_stored(upload.storage_key, b"question,answer\nWhat?,That.\n")
        upload.extension = "csv"
    body = {"document_ids": [created["document"]["id"]]}
    assert (
        client.post(f"/v1/datasets/{dataset['id']}/retry", json=body, headers=tenant.headers).status_code
        == 200
    )
    assert (
        wait_for_batch(client, tenant, dataset["id"], created["batch"])[0]["indexing_status"] == "completed"
    )


def test_unchanged_reupload_keeps_the_index(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    first = _indexed_document(client, tenant, dataset["id"], "doc", TEXT, process_rule=CUSTOM_RULE)
    segment_ids = [segment.id for segment in _segments(first["document"]["id"])]
    again = create_text_document(client, tenant, dataset["id"], "doc", TEXT, process_rule=CUSTOM_RULE).json()
    assert again["document"]["id"] == first["document"]["id"] and again["batch"] != first["batch"]
    assert again["document"]["indexing_status"] == "completed"
    assert wait_for_batch(client, tenant, dataset["id"], again["batch"])[0]["indexing_status"] == "completed"
    assert [segment.id for segment in _segments(first["document"]["id"])] == segment_ids
    assert _count(UploadFile) == 1
    with session_scope() as session:
        from core.documents.models import ProcessRule

        assert session.scalar(select(func.count()).select_from(ProcessRule)) == 1


def test_pause_during_indexing_and_resume(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    long_text = "\n\n".join(
        f"Paragraph {i} on protein folding and chaperones in the cell. " * 2 for i in range(400)
    )
    rule = {
        "mode": "custom",
        "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 200}},
    }
    created = create_text_document(client, tenant, dataset["id"], "long", long_text, process_rule=rule).json()
    document_id = created["document"]["id"]
    status_url = f"/v1/datasets/{dataset['id']}/documents/{created['batch']}/indexing-status"
    while (status := client.get(status_url, headers=tenant.headers).json()["data"][0])[
        "completed_segments"
    ] == 0:
        assert status["indexing_status"] != "completed"
    base = f"/v1/datasets/{dataset['id']}/documents/{document_id}/processing"
    assert client.post(f"{base}/pause", headers=tenant.headers).status_code == 200
    time.sleep(3)  # the run notices the pause at its next batch and stops
    paused = client.get(status_url, headers=tenant.headers).json()["data"][0]
    assert (
        paused["indexing_status"] == "paused"
        and paused["completed_segments"] < paused["total_segments"] == 400
    )
    time.sleep(1)
    assert (
        client.get(status_url, headers=tenant.headers).json()["data"][0]["completed_segments"]
        == paused["completed_segments"]
    )
    assert client.post(f"{base}/resume", headers=tenant.headers).status_code == 200
    done = wait_for_batch(client, tenant, dataset["id"], created["batch"])[0]
    assert done["indexing_status"] == "completed" and done["completed_segments"] == 400
    assert (
        _count(Segment, document_id=document_id) == 400
        and _vectors(dataset["id"], document_id=document_id) == 400
    )


def test_document_status_actions_take_documents_out_of_the_indexes_and_back(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    document = _indexed_document(client, tenant, dataset["id"], "doc", TEXT)["document"]
    other = _indexed_document(client, tenant, dataset["id"], "other", TEXT + " More text.")["document"]
    vectors, nodes = (
        _vectors(dataset["id"], document_id=document["id"]),
        _texts(document["id"]),
    )
    assert vectors > 0 and nodes > 0
    url = f"/v1/datasets/{dataset['id']}/documents/status"

    def act(action: str, ids: list[str]):
        return client.patch(f"{url}/{action}", json={"document_ids": ids}, headers=tenant.headers)

    unknown = "00000000-0000-4000-8000-000000000000"
    # An unknown id refuses the whole batch (404), so the answer never claims a change it did not make.
    assert_error(act("disable", [document["id"], unknown]), 404, "not_found", "Documents not found.")
    assert _vectors(dataset["id"], document_id=document["id"]) == vectors
    for action, gone in (("disable", True), ("enable", False), ("archive", True), ("un_archive", False)):
        for _ in range(2):  # the second call is a no-op
            response = act(action, [document["id"]])
            assert response.status_code == 200 and response.json() == {"result": "success"}
        assert _vectors(dataset["id"], document_id=document["id"]) == (0 if gone else vectors)
        assert _texts(document["id"]) == (0 if gone else nodes)
        assert _vectors(dataset["id"], document_id=other["id"]) > 0
    detail = client.get(
        f"/v1/datasets/{dataset['id']}/documents/{document['id']}", headers=tenant.headers
    ).json()
    assert (
        detail["enabled"] is True and detail["archived"] is False and detail["display_status"] == "available"
    )

    act("archive", [document["id"]])
    archived = client.get(f"/v1/datasets/{dataset['id']}/documents/{document['id']}", headers=tenant.headers)
    assert archived.json()["display_status"] == "archived"
    segments_url = f"/v1/datasets/{dataset['id']}/documents/{document['id']}/segments"
    assert_error(client.post(segments_url, json={"segments": [{"content": "x"}]}, headers=tenant.headers),
                 403, "archived_document_immutable")  # fmt: skip
    assert act("enable", []).json() == {"result": "success"}
    assert_error(act("shred", [document["id"]]), 400, "invalid_action")


def test_disable_needs_a_completed_document(client, tenant):
    dataset = create_dataset(client, tenant)
    waiting = create_text_document(client, tenant, dataset["id"], "doc", TEXT).json()["document"]
    response = client.patch(f"/v1/datasets/{dataset['id']}/documents/status/disable",
                            json={"document_ids": [waiting["id"]]}, headers=tenant.headers)  # fmt: skip
    assert_error(response, 400, "invalid_action", "Document: doc is not completed.")


def test_signed_download_links_and_zip(client, tenant, monkeypatch):
    import io
    import zipfile
    from urllib.parse import urlsplit

    dataset = create_dataset(client, tenant)
    first = create_text_document(client, tenant, dataset["id"], "notes", TEXT).json()["document"]
    second = upload_document(client, tenant, dataset["id"], "table.csv", b"a,b\n1,2\n").json()["document"]
    base = f"/v1/datasets/{dataset['id']}/documents"

    url = client.get(f"{base}/{first['id']}/download", headers=tenant.headers).json()["url"]
    link = urlsplit(url)
    assert url.startswith("http://testserver/files/") and "as_attachment=true" in link.query
    fetched = client.get(f"{link.path}?{link.query}")  # no bearer key: the signature is the authorisation
    assert fetched.status_code == 200 and fetched.text == TEXT
    assert fetched.headers["content-disposition"].startswith("attachment")
    assert_error(client.get(f"{link.path}?{link.query.replace('sign=', 'sign=0')}"), 403, "forbidden")
    monkeypatch.setattr(get_settings(), "files_access_timeout", -1)
    assert_error(client.get(f"{link.path}?{link.query}"), 403, "forbidden", "Request expired.")

    archive = client.post(f"{base}/download-zip", json={"document_ids": [first["id"], second["id"]]},
                          headers=tenant.headers)  # fmt: skip
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert sorted(opened.namelist()) == ["notes", "table.csv"]
        assert opened.read("table.csv") == b"a,b\n1,2\n"
    unknown = "00000000-0000-4000-8000-000000000000"
    assert_error(client.get(f"{base}/{unknown}/download", headers=tenant.headers), 404, "not_found")
    missing = client.post(f"{base}/download-zip", json={"document_ids": [unknown]}, headers=tenant.headers)
    assert_error(missing, 404, "not_found")
    too_many = {"document_ids": [first["id"]] * 101}
    assert_error(
        client.post(f"{base}/download-zip", json=too_many, headers=tenant.headers), 400, "invalid_param"
    )


def test_switching_indexing_technique_builds_and_drops_vectors(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant, indexing_technique="economy")
    document = _indexed_document(client, tenant, dataset["id"], "doc", TEXT, indexing_technique="economy")
    segments = len(_segments(document["document"]["id"]))
    assert _vectors(dataset["id"]) == 0

    patched = client.patch(f"/v1/datasets/{dataset['id']}", json={"indexing_technique": "high_quality"},
                           headers=tenant.headers)  # fmt: skip
    assert patched.status_code == 200 and patched.json()["embedding_model"]
    deadline = time.monotonic() + 60
    while _vectors(dataset["id"]) < segments and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _vectors(dataset["id"]) == segments
    body = {"query": TEXT[:80], "retrieval_model": {"search_method": "semantic_search", "top_k": 1,
            "reranking_enable": False, "score_threshold_enabled": False}}  # fmt: skip
    hits = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json=body, headers=tenant.headers)
    assert hits.json()["records"][0]["segment"]["document_id"] == document["document"]["id"]

    client.patch(
        f"/v1/datasets/{dataset['id']}", json={"indexing_technique": "economy"}, headers=tenant.headers
    )
    assert _vectors(dataset["id"]) == 0
    body["retrieval_model"]["search_method"] = "keyword_search"
    hits = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json=body, headers=tenant.headers)
    assert hits.json()["records"][0]["segment"]["document_id"] == document["document"]["id"]


def test_sweep_finishes_deletes_cut_short_after_their_commit(client, tenant, celery_worker, monkeypatch):
    from core import maintenance
    from core.datasets import service as datasets_service
    from core.documents import service as documents_service
    from worker.recovery import sweep_orphans

    dataset = create_dataset(client, tenant)
    kept = _indexed_document(client, tenant, dataset["id"], "kept", TEXT)["document"]
    doomed = _indexed_document(client, tenant, dataset["id"], "doomed", TEXT + " Other words.")["document"]
    other = create_dataset(client, tenant, name="other")
    _indexed_document(client, tenant, other["id"], "file", "Text of a dataset that is deleted.")
    with session_scope() as session:
        from core.datasets.models import Dataset

        other_collection = session.get(Dataset, other["id"]).vector_collection
        files = set(session.scalars(select(UploadFile.storage_key)))
    assert stored_keys() == files

    def crash(*_args, **_kwargs):
        raise RuntimeError("the process died here")

    # The rows are committed, then the process dies before vectors and files are removed.
    monkeypatch.setattr(documents_service, "get_vector_store", crash)
    monkeypatch.setattr(datasets_service.uploads, "delete_stored_file_if_unused", crash)
    client.delete(f"/v1/datasets/{dataset['id']}/documents/{doomed['id']}", headers=tenant.headers)
    client.delete(f"/v1/datasets/{other['id']}", headers=tenant.headers)
    monkeypatch.undo()
    assert _vectors(dataset["id"], document_id=doomed["id"]) > 0 and _texts(doomed["id"], dataset["id"]) > 0
    assert other_collection in get_vector_store().collection_names()

    monkeypatch.setattr(maintenance, "FILE_GRACE_SECONDS", 0)
    removed = sweep_orphans()
    # the other dataset's vectors and its three term collections; the doomed document's points in the
    # vectors, the texts and the document terms
    assert removed["collections"] == 4 and removed["documents"] == 3 and removed["files"] >= 1
    assert (
        _vectors(dataset["id"], document_id=doomed["id"]) == 0
        and _vectors(dataset["id"], document_id=kept["id"]) > 0
    )
    assert _texts(doomed["id"], dataset["id"]) == 0 and _texts(kept["id"]) > 0
    assert other_collection not in get_vector_store().collection_names()
    with session_scope() as session:
        referenced = set(session.scalars(select(UploadFile.storage_key)))
    assert referenced < files and stored_keys() == referenced
    assert sweep_orphans() == {"collections": 0, "documents": 0, "files": 0}
