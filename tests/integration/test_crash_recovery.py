"""kill -9 of the embedded `kb serve` in the middle of indexing: once restarted it takes the
interrupted runs over at once (no lease to wait out) and every document ends with exactly the chunks
a clean run makes, one vector each."""

import sqlite3

import httpx

from bench.service import EmbeddedServer
from tests.batch_runs import (
    abstracts,
    assert_engine_holds,
    clean_counts,
    seconds_until_all_completed,
    segment_counts,
    send_batch,
    wait_for_a_completed_document,
)

DOCUMENTS = 60
RECOVERY_SECONDS = 60


def test_kill_9_mid_indexing_recovers_within_a_minute(tmp_path):
    corpus = abstracts(DOCUMENTS)
    server = EmbeddedServer(tmp_path)
    headers = {"Authorization": f"Bearer {server.first_key()}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        dataset_id = client.post("/v1/datasets", json={"name": "crash"}).json()["id"]
        send_batch(client, dataset_id, corpus)
        wait_for_a_completed_document(client, dataset_id)
    server.process.kill()  # SIGKILL: no clean-up of any kind
    server.process.wait()
    interrupted = _unfinished_documents(tmp_path, dataset_id)
    assert interrupted, "the kill came after indexing had finished"

    server = EmbeddedServer(tmp_path)
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            recovered = seconds_until_all_completed(client, [dataset_id], RECOVERY_SECONDS)
            counts = segment_counts(client, dataset_id)
    finally:
        server.stop()
    assert counts == clean_counts(corpus)
    assert_engine_holds(tmp_path / "data" / "qdrant-edge", dataset_id, sum(counts.values()))
    print(f"\n{len(interrupted)} interrupted documents, all completed {recovered:.1f} s after the restart")


def _unfinished_documents(workdir, dataset_id: str) -> list[str]:
    with sqlite3.connect(workdir / "data" / "kb.sqlite3") as connection:
        rows = connection.execute(
            "SELECT name FROM documents WHERE dataset_id = ? AND indexing_status != 'completed'",
            (dataset_id,),
        ).fetchall()
    return [name for (name,) in rows]
