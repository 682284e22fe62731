"""The ONNX query encoder: the same vectors as the torch model, torch whenever the graph cannot be
trusted or run, and a new graph when the model's files change; its int8 graph close to the model's
vectors, and the exact graph whenever the int8 one strays."""

import shutil
import sys

import numpy as np
import pytest

from retrieval.batching import BatchingEmbedder
from retrieval.embedders import SentenceTransformerEmbedder, bundled_minilm_path
from retrieval.onnx_encoder import (
    MIN_QUANTIZED_COSINE,
    QUANTIZED_SUFFIX,
    REFERENCE_TEXTS,
    load_query_encoder,
    max_difference,
    min_cosine,
    quantize_graph,
)

TEXTS = [*REFERENCE_TEXTS, "", "Ünïcödé, 数字 and emoji 🙂", "x" * 3000]


def _tiny_model(directory, seed: int, pooling: str = "mean"):
    """A randomly initialised BERT of a few kilobytes with MiniLM's tokenizer, saved as a
    sentence-transformers model (transformer, pooling, normalisation)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as layers
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_minilm_path()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=37)  # fmt: skip
    transformer_dir = directory.parent / f"{directory.name}-transformer"
    BertModel(config).save_pretrained(transformer_dir)
    tokenizer.save_pretrained(transformer_dir)
    transformer = layers.Transformer(str(transformer_dir), max_seq_length=128)
    modules = [transformer, layers.Pooling(32, pooling), layers.Normalize()]
    SentenceTransformer(modules=modules, device="cpu").save(str(directory))
    shutil.rmtree(transformer_dir)
    return directory


@pytest.fixture(scope="module")
def minilm():
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2", bundled_minilm_path())


@pytest.fixture(scope="module")
def minilm_graphs(tmp_path_factory):
    return tmp_path_factory.mktemp("graphs")


def test_the_packaged_models_onnx_vectors_equal_torchs(minilm, minilm_graphs):
    encoder = load_query_encoder(bundled_minilm_path(), minilm_graphs, minilm.embed_query)
    assert encoder is not None
    assert max_difference(encoder, minilm.embed_query, TEXTS) < 1e-5
    vector = encoder.embed_query("what do otters eat")
    assert vector.dtype == np.float32 and vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)
    # the service's embedder sends queries to it, documents to the model
    service = BatchingEmbedder(minilm, query_encoder=encoder)
    assert service.embed_query("what do otters eat").tobytes() == vector.tobytes()


def test_the_packaged_models_int8_vectors_stay_close_to_torchs(minilm, minilm_graphs):
    exact = load_query_encoder(bundled_minilm_path(), minilm_graphs, minilm.embed_query)
    encoder = load_query_encoder(bundled_minilm_path(), minilm_graphs, minilm.embed_query, quantized=True)
    assert encoder is not None and exact is not None
    (graph,) = minilm_graphs.glob(f"*{QUANTIZED_SUFFIX}")  # made once, beside the exact graph
    assert min_cosine(encoder, minilm.embed_query, TEXTS) > MIN_QUANTIZED_COSINE
    assert max_difference(encoder, exact.embed_query) > 1e-4  # the int8 graph answers, not the exact one
    vector = encoder.embed_query("what do otters eat")
    assert vector.dtype == np.float32 and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)
    again = load_query_encoder(bundled_minilm_path(), minilm_graphs, minilm.embed_query, quantized=True)
    assert again is not None and again.embed_query("what do otters eat").tobytes() == vector.tobytes()


def test_an_int8_graph_that_strays_is_deleted_and_the_exact_graph_answers(tmp_path):
    first, second = _tiny_model(tmp_path / "first", seed=1), _tiny_model(tmp_path / "second", seed=2)
    graphs = tmp_path / "graphs"
    second_torch = SentenceTransformerEmbedder("second", second)
    assert load_query_encoder(first, graphs, SentenceTransformerEmbedder("first", first).embed_query)
    assert load_query_encoder(second, graphs, second_torch.embed_query)
    (first_graph,) = graphs.glob("first-*.onnx")
    (second_graph,) = graphs.glob("second-*.onnx")
    # a damaged cache: the first model's int8 graph under the second model's name
    quantize_graph(first_graph, second_graph.with_suffix(QUANTIZED_SUFFIX))
    encoder = load_query_encoder(second, graphs, second_torch.embed_query, quantized=True)
    assert encoder is not None and max_difference(encoder, second_torch.embed_query, TEXTS) < 1e-5
    assert not second_graph.with_suffix(QUANTIZED_SUFFIX).exists()  # the next start makes it again


def test_torch_answers_when_onnx_runtime_is_missing(tmp_path, monkeypatch):
    model = _tiny_model(tmp_path / "tiny", seed=1)
    torch_model = SentenceTransformerEmbedder("tiny", model)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
    assert load_query_encoder(model, tmp_path / "graphs", torch_model.embed_query) is None
    assert not (tmp_path / "graphs").exists()


def test_a_graph_that_disagrees_with_the_model_is_deleted_and_torch_answers(tmp_path):
    first, second = _tiny_model(tmp_path / "first", seed=1), _tiny_model(tmp_path / "second", seed=2)
    graphs = tmp_path / "graphs"
    assert load_query_encoder(first, graphs, SentenceTransformerEmbedder("first", first).embed_query)
    # a damaged cache: the first model's graph under the second model's name
    (exported,) = graphs.glob("first-*.onnx")
    assert len(list(graphs.glob("first-*.json"))) == 1
    second_torch = SentenceTransformerEmbedder("second", second)
    encoder = load_query_encoder(second, graphs, second_torch.embed_query)  # exports the second's graph
    assert encoder is not None
    (own,) = graphs.glob("second-*.onnx")
    shutil.copy(exported, own)
    assert load_query_encoder(second, graphs, second_torch.embed_query) is None
    assert not own.exists() and not own.with_suffix(".json").exists()  # the next start exports it again


def test_a_changed_model_gets_a_new_graph(tmp_path):
    model, graphs = _tiny_model(tmp_path / "tiny", seed=1), tmp_path / "graphs"
    assert load_query_encoder(model, graphs, SentenceTransformerEmbedder("tiny", model).embed_query)
    (before,) = graphs.glob("tiny-*.onnx")
    _tiny_model(tmp_path / "tiny", seed=3)  # new weights in the same place
    retrained = SentenceTransformerEmbedder("tiny", model)
    encoder = load_query_encoder(model, graphs, retrained.embed_query)
    assert encoder is not None and max_difference(encoder, retrained.embed_query, TEXTS) < 1e-5
    (after,) = graphs.glob("tiny-*.onnx")  # the earlier graph is gone
    assert after.name != before.name


def test_a_model_that_is_not_mean_pooled_stays_on_torch(tmp_path):
    cls_pooled, graphs = _tiny_model(tmp_path / "cls", seed=1, pooling="cls"), tmp_path / "graphs"
    reference = SentenceTransformerEmbedder("cls", cls_pooled).embed_query
    assert load_query_encoder(cls_pooled, graphs, reference) is None
    assert not list(graphs.glob("*.onnx"))
    (description,) = graphs.glob("cls-*.json")  # remembered: the next start does not export again
    assert "not a mean-pooled transformer" in description.read_text()
    assert load_query_encoder(cls_pooled, graphs, reference) is None
