"""Ingestion throughput: SciFact through the real API and the embedded worker (SQLite, Qdrant Edge),
next to raw `SentenceTransformer.encode` on the same chunks in the same run (and to the
service's model processes alone), and the time of a second ingest of the unchanged corpus.

    python -m bench.ingest [--limit N]
"""

import argparse
import json
import os
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.corpus import RESULTS, document_text, load_corpus
from bench.service import UNLIMITED, EmbeddedServer

POSTING_THREADS = 4
# The model processes' own rate is measured on every 4th chunk: a rate, so a sample tells it.
MODEL_PROCESSES_SAMPLE = 4


AUTOMATIC = {"mode": "automatic"}


def post_corpus(url: str, headers: dict, dataset_id: str, documents: list[dict], process_rule: dict) -> None:
    body = {"indexing_technique": "high_quality", "process_rule": process_rule}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:

        def post(document: dict) -> None:
            payload = {**body, "name": document["_id"], "text": document_text(document)}
            response = client.post(f"/v1/datasets/{dataset_id}/document/create-by-text", json=payload)
            response.raise_for_status()

        with ThreadPoolExecutor(POSTING_THREADS) as pool:
            list(pool.map(post, documents))


def wait_until_indexed(
    url: str, headers: dict, dataset_id: str, expected: int, timeout: float = 7200
) -> None:
    """Polls once a second over one connection, as a client would, keeping the load it adds (which
    competes with the model for the CPU) small."""
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:

        def listing(status: str, limit: int = 1) -> dict:
            params = {"status": status, "limit": limit}
            return client.get(f"/v1/datasets/{dataset_id}/documents", params=params).json()

        deadline = time.monotonic() + timeout
        polls = 0
        while time.monotonic() < deadline:
            if listing("available")["total"] == expected:
                return
            polls += 1
            if polls % 10 == 0 and (failed := listing("error", 100))["total"]:
                errors = {document["error"] for document in failed["data"]}
                raise RuntimeError(f"{failed['total']} documents failed to index: {errors}")
            time.sleep(1)
    raise TimeoutError("indexing did not finish")


def ingest(
    url: str, headers: dict, dataset_id: str, documents: list[dict], process_rule: dict = AUTOMATIC
) -> float:
    started = time.perf_counter()
    post_corpus(url, headers, dataset_id, documents, process_rule)
    wait_until_indexed(url, headers, dataset_id, len(documents))
    return time.perf_counter() - started


def chunk_texts(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [
            row[0] for row in connection.execute("SELECT content FROM segments WHERE status = 'completed'")
        ]


def raw_encode_seconds(texts: list[str]) -> float:
    """`SentenceTransformer.encode` in this process, as a script would call it: the issue's baseline."""
    from sentence_transformers import SentenceTransformer

    from core.settings import get_settings
    from retrieval.embedders import bundled_minilm_path

    batch_size = get_settings().embedding_batch_size  # the service's batch size
    model = SentenceTransformer(str(bundled_minilm_path()), device="cpu", local_files_only=True)
    model.encode(texts[:batch_size], batch_size=batch_size)  # warm-up, as the service's model is warm
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
    return time.perf_counter() - started


def model_processes_encode_seconds(texts: list[str]) -> tuple[float, str]:
    """The texts through the service's own model processes in one call (no API, no database): how
    much of the end-to-end rate the model layout alone explains."""
    from core.index.engines import model_process_layout
    from core.settings import get_settings
    from retrieval.embedders import ProcessPoolEmbedder, bundled_minilm_path

    settings = get_settings()
    processes, threads = model_process_layout(settings.embedding_processes, len(os.sched_getaffinity(0)))
    embedder = ProcessPoolEmbedder(
        "all-MiniLM-L6-v2", bundled_minilm_path(), processes=processes, threads=threads,
        batch_size=settings.embedding_batch_size,
    )  # fmt: skip
    try:
        started = time.perf_counter()
        embedder.embed_documents(texts)
        return time.perf_counter() - started, f"{processes} x {threads} thread(s)"
    finally:
        embedder.close()


def run(limit: int | None) -> dict:
    documents = load_corpus(limit)
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as workdir:
        server = EmbeddedServer(Path(workdir), **UNLIMITED)
        headers = {"Authorization": f"Bearer {server.first_key()}"}
        try:
            dataset = httpx.post(
                f"{server.url}/v1/datasets", json={"name": "scifact"}, headers=headers
            ).json()
            first = ingest(server.url, headers, dataset["id"], documents)
        finally:
            server.stop()
        texts = chunk_texts(Path(workdir) / "data" / "kb.sqlite3")
        encode = raw_encode_seconds(texts)
        sample = texts[::MODEL_PROCESSES_SAMPLE]
        processes_encode, layout = model_processes_encode_seconds(sample)
        server = EmbeddedServer(Path(workdir), **UNLIMITED)
        try:
            second = ingest(server.url, headers, dataset["id"], documents)
        finally:
            server.stop()
    end_to_end_rate = len(texts) / first
    raw_rate = len(texts) / encode
    processes_rate = len(sample) / processes_encode
    return {
        "documents": len(documents),
        "chunks": len(texts),
        "chunking": "automatic (500 characters, overlap 50)",
        "first_ingest_seconds": round(first, 2),
        "end_to_end_chunks_per_second": round(end_to_end_rate, 2),
        "raw_encode_seconds": round(encode, 2),
        "raw_encode_chunks_per_second": round(raw_rate, 2),
        "end_to_end_over_raw_encode": round(end_to_end_rate / raw_rate, 3),
        "model_processes": layout,
        "model_processes_chunks_per_second": round(processes_rate, 2),
        "end_to_end_over_model_processes": round(end_to_end_rate / processes_rate, 3),
        "unchanged_reingest_seconds": round(second, 2),
        "first_over_unchanged_reingest": round(first / second, 1),
    }


def write_results(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Ingestion benchmark (`python -m bench.ingest`)", "", "| measure | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in results.items()]
    (RESULTS / "ingest.md").write_text("\n".join(lines) + "\n")
    _plot(results)


def _plot(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rates, times) = plt.subplots(1, 2, figsize=(10, 4))
    rates.bar(["raw encode", "model processes", "end to end"],
              [results["raw_encode_chunks_per_second"], results["model_processes_chunks_per_second"],
               results["end_to_end_chunks_per_second"]],
              color=["#999999", "#bbbbbb", "#2a6fdb"])  # fmt: skip
    rates.set_ylabel("chunks per second")
    rates.set_title(f"Throughput ({results['end_to_end_over_raw_encode']:.2f} of raw encode)")
    seconds = [results["first_ingest_seconds"], results["unchanged_reingest_seconds"]]
    times.bar(["first ingest", "unchanged re-ingest"], seconds, color=["#2a6fdb", "#3aa655"])
    times.set_ylabel("seconds")
    times.set_title(f"Re-ingest {results['first_over_unchanged_reingest']}x faster")
    figure.suptitle(f"SciFact: {results['documents']} documents, {results['chunks']} chunks")
    figure.tight_layout()
    figure.savefig(RESULTS / "ingest.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="ingest only the first N documents")
    results = run(parser.parse_args().limit)
    write_results(results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
