"""The local sentence-transformers embedder with the bundled model, and the OpenAI-compatible HTTP
embedder against a local server that answers like /v1/embeddings (including 429 and 5xx)."""

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest
import torch

from retrieval.batching import BatchingEmbedder
from retrieval.embedders import (
    EmbeddingError,
    OpenAICompatibleEmbedder,
    ProcessPoolEmbedder,
    SentenceTransformerEmbedder,
    bundled_minilm_path,
)
from tests.http_servers import read_json, send_json, serving


@pytest.fixture(scope="module")
def minilm():
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2", bundled_minilm_path())


def test_minilm_vectors_are_normalised_and_meaningful(minilm):
    vectors = minilm.embed_documents(
        ["A cat sits on the mat.", "A kitten rests on a rug.", "Stock prices fell."]
    )
    assert vectors.shape == (3, 384) and minilm.dimension == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert minilm.count_tokens(["hello world"]) == [4]  # [CLS] hello world [SEP]


# The last is longer than the model reads: both paths cut it at the same token.
QUERY_TEXTS = ["cells", "A cat sits on the mat.", "word " * 40 + "about cells", "long " * 400]


def test_a_query_embeds_as_the_same_text_among_documents(minilm):
    """Queries take the traced transformer; documents the model's own batched path."""
    assert minilm._query_transformer is not None
    expected = minilm.embed_documents(QUERY_TEXTS)
    for text, vector in zip(QUERY_TEXTS, expected, strict=True):
        assert np.allclose(minilm.embed_query(text), vector, atol=1e-5)


def test_a_model_the_tracer_cannot_follow_embeds_queries_on_its_eager_path(monkeypatch):
    def refuse(*arguments, **keywords):
        raise RuntimeError("untraceable")

    monkeypatch.setattr(torch.jit, "trace", refuse)
    untraced = SentenceTransformerEmbedder("all-MiniLM-L6-v2", bundled_minilm_path())
    assert untraced._query_transformer is None
    expected = untraced.embed_documents(QUERY_TEXTS)
    assert np.allclose([untraced.embed_query(text) for text in QUERY_TEXTS], expected, atol=1e-5)


class _EmbeddingServer(BaseHTTPRequestHandler):
    """Answers each text with a vector derived from its length; fails on demand."""

    failures: list[int] = []
    batches: list[int] = []
    in_flight = 0
    max_in_flight = 0
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 - the http.server API
        body = read_json(self)
        with _EmbeddingServer.lock:
            _EmbeddingServer.in_flight += 1
            _EmbeddingServer.max_in_flight = max(_EmbeddingServer.max_in_flight, _EmbeddingServer.in_flight)
            failure = _EmbeddingServer.failures.pop(0) if _EmbeddingServer.failures else None
        try:
            time.sleep(0.02)
            if failure:
                send_json(
                    self,
                    failure,
                    {"error": {"message": "slow down"}},
                    {"Retry-After": "0"} if failure == 429 else {},
                )
                return
            _EmbeddingServer.batches.append(len(body["input"]))
            data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0]}
                    for i, t in reversed(list(enumerate(body["input"])))]  # fmt: skip
            send_json(
                self,
                200,
                {"object": "list", "data": data, "model": body["model"], "usage": {"total_tokens": 3}},
            )
        finally:
            with _EmbeddingServer.lock:
                _EmbeddingServer.in_flight -= 1

    def log_message(self, *_args):
        pass


@pytest.fixture
def embedding_api():
    _EmbeddingServer.failures, _EmbeddingServer.batches, _EmbeddingServer.max_in_flight = [], [], 0
    with serving(_EmbeddingServer) as url:
        yield f"{url}/v1"


def test_batches_in_order_with_bounded_concurrency(embedding_api):
    embedder = OpenAICompatibleEmbedder("text-embedding-x", embedding_api, "key", batch_size=4, concurrency=2)
    texts = ["a" * n for n in range(1, 19)]
    vectors = embedder.embed_documents(texts)
    assert sorted(_EmbeddingServer.batches) == [2, 4, 4, 4, 4]
    assert _EmbeddingServer.max_in_flight <= 2
    expected = np.array([[n, 1.0, 0.0] for n in range(1, 19)]) / np.linalg.norm(
        [[n, 1.0, 0.0] for n in range(1, 19)], axis=1, keepdims=True
    )
    assert np.allclose(vectors, expected, atol=1e-6)


def test_retries_429_and_5xx_with_backoff(embedding_api):
    _EmbeddingServer.failures = [429, 503, 500]
    embedder = OpenAICompatibleEmbedder("m", embedding_api, batch_size=8, backoff_seconds=0.01)
    assert embedder.embed_documents(["x"]).shape == (1, 3)


def test_gives_up_after_the_last_attempt(embedding_api):
    _EmbeddingServer.failures = [503] * 10
    embedder = OpenAICompatibleEmbedder("m", embedding_api, max_attempts=3, backoff_seconds=0.01)
    with pytest.raises(EmbeddingError, match="503"):
        embedder.embed_documents(["x"])


def test_client_errors_are_not_retried(embedding_api):
    _EmbeddingServer.failures = [401, 401]
    embedder = OpenAICompatibleEmbedder("m", embedding_api, backoff_seconds=0.01)
    with pytest.raises(EmbeddingError, match="401"):
        embedder.embed_documents(["x"])
    assert _EmbeddingServer.failures == [401]


def test_unreachable_api(tmp_path):
    embedder = OpenAICompatibleEmbedder(
        "m", "http://127.0.0.1:9", max_attempts=2, backoff_seconds=0.01, timeout=1
    )
    with pytest.raises(EmbeddingError, match="unreachable"):
        embedder.embed_documents(["x"])


def test_batching_embedder_returns_what_the_model_gives_each_caller(minilm):
    batching = BatchingEmbedder(minilm)
    texts = [["A cat sits on the mat.", "Stock prices fell."], ["A kitten rests on a rug."], []]
    futures = [batching.submit(group) for group in texts]
    for group, future in zip(texts, futures, strict=True):
        embedded = future.result(timeout=60)
        assert embedded.tokens == (minilm.count_tokens(group) if group else [])
        if group:
            assert np.allclose(embedded.vectors, minilm.embed_documents(group), atol=1e-5)


def test_batching_embedder_merges_requests_queued_while_the_model_is_busy(embedding_api):
    batching = BatchingEmbedder(OpenAICompatibleEmbedder("m", embedding_api, batch_size=64), max_batch=64)
    futures = [batching.submit(["a" * n]) for n in range(1, 21)]
    vectors = [future.result(timeout=30).vectors[0] for future in futures]
    assert len(_EmbeddingServer.batches) < 20 and sum(_EmbeddingServer.batches) == 20
    assert [round(v[0] / v[1]) for v in vectors] == list(range(1, 21))  # each caller got its own text


def test_batching_embedder_hands_a_model_failure_to_every_caller(embedding_api):
    _EmbeddingServer.failures = [401]
    batching = BatchingEmbedder(OpenAICompatibleEmbedder("m", embedding_api, backoff_seconds=0.01))
    with pytest.raises(EmbeddingError, match="401"):
        batching.embed_documents(["x"])
    assert batching.embed_documents(["y"]).shape == (1, 3)  # the thread survives


@pytest.fixture(scope="module")
def minilm_processes():
    embedder = ProcessPoolEmbedder(
        "all-MiniLM-L6-v2", bundled_minilm_path(), processes=2, threads=1, batch_size=4
    )
    yield embedder
    embedder.close()


TEXTS = [f"{'word ' * (index % 7 * 9)}sentence number {index} about cells." for index in range(23)]


def test_model_processes_give_the_vectors_and_tokens_of_the_model_in_process(minilm, minilm_processes):
    assert minilm_processes.dimension == 384
    expected = minilm.embed_documents(TEXTS)
    assert np.allclose(minilm_processes.embed_documents(TEXTS), expected, atol=1e-5)
    assert np.allclose(minilm_processes.embed_query(TEXTS[5]), expected[5], atol=1e-5)
    assert minilm_processes.count_tokens(TEXTS) == minilm.count_tokens(TEXTS)
    assert minilm_processes.embed_documents([]).shape == (0, 384)


def test_model_processes_hand_back_token_counts_with_the_vectors(minilm, minilm_processes):
    futures = [minilm_processes.submit(TEXTS[start:]) for start in (0, 9)]  # no wait between calls
    for start, future in zip((0, 9), futures, strict=True):
        embedded = future.result(timeout=120)
        assert embedded.tokens == minilm.count_tokens(TEXTS[start:])
        assert np.allclose(embedded.vectors, minilm.embed_documents(TEXTS[start:]), atol=1e-5)
    batching = BatchingEmbedder(minilm_processes)
    assert batching.submit(TEXTS[:3]).result(timeout=120).tokens == minilm.count_tokens(TEXTS[:3])


def test_a_query_waits_behind_little_of_the_queued_indexing_work(minilm_processes):
    """Indexing may queue hundreds of model batches; a query passes all but the look-ahead."""
    texts = [f"{'long sentence about cells ' * 40}{index}" for index in range(200)]
    submitted: list = []
    feeder = threading.Thread(target=lambda: submitted.append(minilm_processes.submit(texts)))
    feeder.start()
    deadline = time.monotonic() + 60
    while minilm_processes._slots._value > 0:  # the look-ahead is full: indexing work is queued
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert minilm_processes.embed_query("a question").shape == (384,)
    assert feeder.is_alive()  # most of the 50 model batches are still to come
    feeder.join(timeout=300)
    assert submitted[0].result(timeout=300).vectors.shape == (200, 384)


def test_a_killed_model_process_is_replaced(minilm, minilm_processes):
    victim = minilm_processes._pool.submit(os.getpid).result()
    os.kill(victim, signal.SIGKILL)
    expected = minilm.embed_documents(TEXTS[:4])
    for _ in range(3):  # before and after the pool notices the death, every call succeeds
        assert np.allclose(minilm_processes.embed_documents(TEXTS[:4]), expected, atol=1e-5)
        time.sleep(0.5)
    assert victim not in minilm_processes._pool._processes


LEAVING_PARENT = """
import os
from retrieval.embedders import ProcessPoolEmbedder, bundled_minilm_path
if __name__ == "__main__":
    embedder = ProcessPoolEmbedder("m", bundled_minilm_path(), processes=2, threads=1)
    print(*embedder._pool._processes, flush=True)
    os._exit(0)  # no pool shutdown, as when the service is killed
"""


def test_model_processes_leave_with_their_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(LEAVING_PARENT)
    finished = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=Path.cwd()
    )
    children = [int(pid) for pid in finished.stdout.split()]
    assert len(children) == 2, finished.stderr
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in children):
        assert time.monotonic() < deadline, "model processes outlived their parent"
        time.sleep(0.2)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
