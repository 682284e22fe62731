"""The HTTP rerank provider against a local server answering in the common /v1/rerank shape, and the
local CrossEncoder path with a tiny randomly initialised model the test builds (no weights download)."""

from http.server import BaseHTTPRequestHandler

import pytest

from retrieval.http_client import ApiError
from retrieval.rerankers import CrossEncoderReranker, HttpReranker
from tests.http_servers import read_json, send_json, serving


class _RerankServer(BaseHTTPRequestHandler):
    failures: list[int] = []
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = read_json(self)
        _RerankServer.seen.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if _RerankServer.failures:
            send_json(self, _RerankServer.failures.pop(0), {"error": "busy"}, {"Retry-After": "0"})
            return
        ranked = sorted(enumerate(body["documents"]), key=lambda item: -item[1].count(body["query"]))
        results = [
            {"index": i, "relevance_score": min(1.0, text.count(body["query"]) / 3)} for i, text in ranked
        ]
        send_json(self, 200, {"model": body["model"], "results": results[: body["top_n"]]})

    def log_message(self, *_args):
        pass


@pytest.fixture
def rerank_api():
    _RerankServer.failures, _RerankServer.seen = [], []
    with serving(_RerankServer) as url:
        yield f"{url}/v1"


def test_http_reranker_maps_scores_back_to_documents(rerank_api):
    reranker = HttpReranker("rerank-v3", rerank_api, "key")
    assert reranker.score("atp", ["no match", "atp atp atp", "atp once"]) == [0.0, 1.0, pytest.approx(1 / 3)]
    request = _RerankServer.seen[-1]
    assert request["path"] == "/v1/rerank" and request["auth"] == "Bearer key"
    documents = ["no match", "atp atp atp", "atp once"]
    assert request["body"] == {"model": "rerank-v3", "query": "atp", "documents": documents, "top_n": 3}


def test_http_reranker_retries_and_reports(rerank_api):
    _RerankServer.failures = [429, 503]
    assert HttpReranker("m", rerank_api, backoff_seconds=0.01).score("a", ["a"]) == [pytest.approx(1 / 3)]
    _RerankServer.failures = [400]
    with pytest.raises(ApiError, match="400"):
        HttpReranker("m", rerank_api, backoff_seconds=0.01).score("a", ["a"])


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from retrieval.embedders import bundled_minilm_path

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_minilm_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_cross_encoder_scores_pairs_into_zero_one(tiny_cross_encoder):
    reranker = CrossEncoderReranker("tiny", tiny_cross_encoder)
    scores = reranker.score(
        "what makes atp", ["mitochondria make atp", "stock markets fell", "mitochondria make atp"]
    )
    assert len(scores) == 3 and all(0 < score < 1 for score in scores)
    assert scores[0] == pytest.approx(scores[2]) and scores[0] != scores[1]
    assert reranker.score("q", []) == []
