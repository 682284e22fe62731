"""A fault stays with the document it belongs to: documents deleted while a run indexes their dataset
leave the run, and none of the others fails."""

import pytest

from bench.corpus import document_text, load_corpus
from tests.helpers import create_dataset, create_text_document, wait_until
from worker.embedded import EmbeddedWorker

DOCUMENTS = 200


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_deleting_documents_during_a_run_fails_none_of_the_others(client, tenant, broker):
    dataset = create_dataset(client, tenant)
    base = f"/v1/datasets/{dataset['id']}"
    ids = [
        create_text_document(client, tenant, dataset["id"], item["_id"], document_text(item)).json()[
            "document"
        ]["id"]
        for item in load_corpus(DOCUMENTS)
    ]

    def statuses() -> dict[str, str]:
        listing = client.get(
            f"{base}/documents", params={"limit": 100, "page": 1}, headers=tenant.headers
        ).json()
        second = client.get(
            f"{base}/documents", params={"limit": 100, "page": 2}, headers=tenant.headers
        ).json()
        return {item["id"]: item["indexing_status"] for item in listing["data"] + second["data"]}

    worker = EmbeddedWorker().start()  # the run starts once every document waits
    try:
        wait_until(lambda: "completed" in statuses().values(), timeout=120)
        deleted = [  # the companions the run has already loaded among them; an indexing one refuses
            document_id
            for document_id in ids[1::2]
            if client.delete(f"{base}/documents/{document_id}", headers=tenant.headers).status_code == 204
        ]
        wait_until(lambda: set(statuses().values()) <= {"completed", "error"}, timeout=300)
    finally:
        worker.stop()
    final = statuses()
    assert deleted and not set(deleted) & set(final)
    assert set(final) == set(ids) - set(deleted)
    assert [status for status in final.values() if status != "completed"] == []
