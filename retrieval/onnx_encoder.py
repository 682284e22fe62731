"""Query embeddings on ONNX Runtime, from a sentence-transformers model's own weights.

A query is one short text: the work is the transformer's forward pass, and ONNX Runtime runs it in
about a quarter of torch's time here (3.6 ms against 14 ms a query on one thread, all-MiniLM-L6-v2),
in the API process itself, releasing the interpreter lock while it runs. Batches of documents stay on
torch in the model processes.

The graph is exported once from the packaged weights (in a short-lived process, so the API process
never loads torch for it) and cached under the data directory by a fingerprint of the model's files:
a changed model gets a new graph. At load the graph's vectors are checked against the torch model's
on reference texts; a graph that disagrees is deleted and queries stay on torch, as they do when
ONNX Runtime is missing or the model is not a plain mean-pooled transformer.
"""

import hashlib
import json
import logging
import multiprocessing
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

# Part of the fingerprint: a change to how the graph is exported makes new graphs.
EXPORT_VERSION = "1"
# The largest difference allowed between the graph's vectors and torch's (the measured one is about
# 1e-7: the same arithmetic in another order).
TOLERANCE = 1e-5
REFERENCE_TEXTS = (
    "what causes the northern lights",
    "Mitochondria produce ATP through oxidative phosphorylation in the inner membrane.",
    "a question long enough to be truncated by the model " * 40,
)
PLAIN_MODULES = ["Transformer", "Pooling", "Normalize"]


class OnnxQueryEncoder:
    """Embeds one text at a time: tokens (the model's own tokenizer, truncated as the model truncates),
    the transformer's graph, the mean of the token vectors, normalised."""

    def __init__(self, graph: Path, model_path: Path, max_length: int, threads: int = 1):
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # a query is small: concurrent queries use the cores
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()

    def embed_query(self, text: str) -> np.ndarray:
        encoding = self._tokenizer.encode(text)
        ids = np.array([encoding.ids], dtype=np.int64)
        mask = np.array([encoding.attention_mask], dtype=np.int64)
        tokens = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0][0]
        vector = tokens.mean(axis=0)  # one text: no padding to leave out
        normalised: np.ndarray = (vector / (np.linalg.norm(vector) or 1.0)).astype(np.float32)
        return normalised


def load_query_encoder(
    model_path: Path, cache: Path, reference: Callable[[str], np.ndarray]
) -> OnnxQueryEncoder | None:
    """The model's ONNX query encoder, exported into `cache` when missing, or None (queries then stay on
    torch) when ONNX Runtime is missing, the model is not a plain mean-pooled transformer, or the graph
    disagrees with `reference` (the torch model's query embedding). Beside each graph, a description:
    the length the model truncates to, or why it has no graph."""
    try:
        import onnxruntime  # noqa: F401 - present or not is the question
    except ImportError:
        logger.info("onnxruntime is not installed: query embeddings run on torch")
        return None
    fingerprint = model_fingerprint(model_path)
    graph = cache / f"{model_path.name}-{fingerprint}.onnx"
    described = graph.with_suffix(".json")
    try:
        if not described.exists():
            # what the model's earlier files made (the same name, another digest)
            for stale in cache.glob(f"{model_path.name}-{'?' * len(fingerprint)}.*"):
                stale.unlink(missing_ok=True)
            _export_in_a_process(model_path, graph)
        description = json.loads(described.read_text())
        if "unsupported" in description:
            logger.info("query embeddings run on torch: %s", description["unsupported"])
            return None
        encoder = OnnxQueryEncoder(graph, model_path, description["max_length"])
        difference = max_difference(encoder, reference)
    except Exception:  # noqa: BLE001 - torch stays the encoder; the next start tries again
        graph.unlink(missing_ok=True)
        described.unlink(missing_ok=True)
        message = "the ONNX graph of %s could not be made or read: query embeddings run on torch"
        logger.warning(message, model_path.name, exc_info=True)
        return None
    if difference > TOLERANCE:
        logger.warning(
            "the ONNX graph of %s differs from the model by %.2g: deleted, query embeddings run on torch",
            model_path.name,
            difference,
        )
        graph.unlink(missing_ok=True)
        described.unlink(missing_ok=True)
        return None
    logger.info("query embeddings run on ONNX Runtime (%s)", graph.name)
    return encoder


def model_fingerprint(model_path: Path) -> str:
    """A digest of every file of the model (names and contents) and of the export's version."""
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    for path in sorted(file for file in model_path.rglob("*") if file.is_file()):
        digest.update(str(path.relative_to(model_path)).encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _export_in_a_process(model_path: Path, graph: Path) -> None:
    context = multiprocessing.get_context("spawn")  # torch loads there, and leaves with the process
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        pool.submit(export_graph, model_path, graph).result()


def export_graph(model_path: Path, graph: Path) -> None:
    """The model's transformer as an ONNX graph of (input_ids, attention_mask) -> token vectors, and its
    description, each written next to its final name and moved there (a reader never sees half a
    file); a model that is not a transformer, mean pooling and normalisation gets only a description."""
    import torch
    from sentence_transformers import SentenceTransformer

    class TokenVectors(torch.nn.Module):
        """The transformer called with keywords (its positional order is not stable across versions)."""

        def __init__(self, transformer: torch.nn.Module):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            output: Any = self.transformer(input_ids=input_ids, attention_mask=attention_mask)
            tokens: torch.Tensor = output.last_hidden_state
            return tokens

    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    graph.parent.mkdir(parents=True, exist_ok=True)
    layers = [type(module).__name__ for module in model]
    if layers != PLAIN_MODULES or getattr(model[1], "pooling_mode", None) != "mean":
        reason = f"{model_path.name} is {' + '.join(layers)}, not a mean-pooled transformer"
        _write(graph.with_suffix(".json"), json.dumps({"unsupported": reason}).encode())
        return
    transformer: Any = model[0].auto_model
    transformer.eval()
    sample = transformer.config.vocab_size // 2
    ids = torch.tensor([[101, sample, sample + 1, 102]])
    axes = {0: "texts", 1: "tokens"}
    partial = _partial(graph)
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on shapes it traced
        torch.onnx.export(
            TokenVectors(transformer),
            (ids, torch.ones_like(ids)),
            str(partial),
            input_names=["input_ids", "attention_mask"],
            output_names=["token_embeddings"],
            dynamic_axes={name: axes for name in ("input_ids", "attention_mask", "token_embeddings")},
            opset_version=17,
            dynamo=False,
        )
    partial.replace(graph)
    _write(graph.with_suffix(".json"), json.dumps({"max_length": model.max_seq_length}).encode())


def _partial(path: Path) -> Path:
    """Where a file is written before it is moved into place; each process its own (API processes
    starting together may export at once)."""
    return path.with_name(f"{path.name}.{os.getpid()}.partial")


def _write(path: Path, content: bytes) -> None:
    partial = _partial(path)
    partial.write_bytes(content)
    partial.replace(path)


def max_difference(
    encoder: OnnxQueryEncoder, reference: Callable[[str], np.ndarray], texts: Sequence[str] = REFERENCE_TEXTS
) -> float:
    """The largest difference of any component between the encoder's vectors and the reference's."""
    return max(float(np.abs(encoder.embed_query(text) - reference(text)).max()) for text in texts)
