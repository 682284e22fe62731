"""kill -9 of the embedded `kb serve` in the middle of indexing: once restarted it takes the
interrupted runs over at once (no lease to wait out) and every document ends with exactly the chunks
a clean run makes, one vector each."""

import time

import httpx

from bench.corpus import document_text, load_corpus
from bench.service import EmbeddedServer
from core.documents.process_rules import AUTOMATIC_RULES
from core.indexing.keyword_index import TEXTS, term_collections
from core.indexing.pipeline import plan_segments
from core.settings import Settings
from retrieval.edge_store import EdgeVectorStore

DOCUMENTS = 60
RECOVERY_SECONDS = 60


def _statuses(client: httpx.Client, dataset_id: str) -> dict[str, str]:
    listing = client.get(f"/v1/datasets/{dataset_id}/documents", params={"limit": 100}).json()
    return {item["name"]: item["indexing_status"] for item in listing["data"]}


def test_kill_9_mid_indexing_recovers_within_a_minute(tmp_path):
    corpus = {item["_id"]: document_text(item) for item in load_corpus(DOCUMENTS)}
    server = EmbeddedServer(tmp_path)
    key = server.first_key()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        dataset_id = client.post("/v1/datasets", json={"name": "crash"}).json()["id"]
        for name, text in corpus.items():
            body = {
                "name": name,
                "text": text,
                "indexing_technique": "high_quality",
                "process_rule": {"mode": "automatic"},
            }
            client.post(f"/v1/datasets/{dataset_id}/document/create-by-text", json=body).raise_for_status()
        deadline = time.monotonic() + 120
        while "completed" not in _statuses(client, dataset_id).values():
            assert time.monotonic() < deadline, "indexing did not start"
            time.sleep(0.2)
    server.process.kill()  # SIGKILL: no clean-up of any kind
    server.process.wait()
    interrupted = _unfinished_documents(tmp_path, dataset_id)
    assert interrupted, "the kill came after indexing had finished"

    restarted_at = time.monotonic()
    server = EmbeddedServer(tmp_path)
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            while set(_statuses(client, dataset_id).values()) != {"completed"}:
                assert time.monotonic() - restarted_at < RECOVERY_SECONDS, _statuses(client, dataset_id)
                time.sleep(0.2)
            recovered = time.monotonic() - restarted_at
            counts = {}
            for item in client.get(f"/v1/datasets/{dataset_id}/documents", params={"limit": 100}).json()[
                "data"
            ]:
                path = f"/v1/datasets/{dataset_id}/documents/{item['id']}/segments"
                counts[item["name"]] = client.get(path, params={"limit": 1}).json()["total"]
    finally:
        server.stop()
    rule = {"mode": "automatic", "rules": AUTOMATIC_RULES}
    clean = {
        name: len(plan_segments(Settings(), "text_model", None, rule, text, None, "txt"))
        for name, text in corpus.items()
    }
    assert counts == clean
    store = EdgeVectorStore(tmp_path / "data" / "qdrant-edge")
    try:
        texts = term_collections(dataset_id)[TEXTS]
        (collection,) = set(store.collection_names()) - set(term_collections(dataset_id).values())
        assert store.count(collection) == sum(clean.values())  # one vector per chunk, no orphans
        assert store.count(texts) == sum(clean.values())  # and one text in the full-text index
    finally:
        store.close()
    print(f"\n{len(interrupted)} interrupted documents, all completed {recovered:.1f} s after the restart")


def _unfinished_documents(workdir, dataset_id: str) -> list[str]:
    import sqlite3

    with sqlite3.connect(workdir / "data" / "kb.sqlite3") as connection:
        rows = connection.execute(
            "SELECT name FROM documents WHERE dataset_id = ? AND indexing_status != 'completed'",
            (dataset_id,),
        ).fetchall()
    return [name for (name,) in rows]
